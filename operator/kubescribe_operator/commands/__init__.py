"""The CLI's subcommands of the controller: ``run``, ``status``, ``operator``, and
``result``/``retry``/``cancel`` on the volume. Each module imports nothing heavy at
the top: kopf, FastAPI and the core load inside the subcommand that needs them."""

from __future__ import annotations

from typing import Any

from . import operator, run, status, volume_actions


def register(subparsers: Any) -> None:
    run.register(subparsers)
    status.register(subparsers)
    operator.register(subparsers)
    volume_actions.register(subparsers)

"""The controller's subcommands (``run``, ``status``, ``operator``). Imports nothing heavy."""

from __future__ import annotations

from typing import Any


def register(subparsers: Any) -> None:
    """Registered by the controller as its parts land."""

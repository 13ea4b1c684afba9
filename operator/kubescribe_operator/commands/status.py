"""``kubescribe status ROOT``: the state of every file, read from the volume alone."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    status: argparse.ArgumentParser = subparsers.add_parser(
        "status", help="what is pending, processing, in error, completed and in manual/"
    )
    status.add_argument("root", type=Path, help="the watched folder")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(handler=_status)


def _status(args: argparse.Namespace) -> int:
    from ..volume.status_view import main

    return main(args.root, as_json=args.json)

"""``kubescribe schema``: write or check the JSON Schemas of the status files."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from kubescribe_protocol.schema import SCHEMAS, render_schema, write_schemas


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "schema", help="write (or --check) the JSON Schemas of .in_progress and .result"
    )
    parser.add_argument("folder", type=Path, nargs="?", default=Path("schemas"))
    parser.add_argument("--check", action="store_true", help="fail if the files are stale")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    folder: Path = args.folder
    if not args.check:
        for path in write_schemas(folder):
            print(path)
        return 0
    stale = [
        name
        for name, model in SCHEMAS.items()
        if not (folder / name).is_file()
        or (folder / name).read_text(encoding="utf-8") != render_schema(model)
    ]
    for name in stale:
        print(f"stale: {folder / name} (run: kubescribe schema {folder})", file=sys.stderr)
    return 1 if stale else 0

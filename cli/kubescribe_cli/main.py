"""``kubescribe`` and its subcommands.

Each part registers its own subcommands from a module that imports nothing heavy, so
``kubescribe --help`` is instant and the operator image, which has no WhisperX, still
starts: heavy imports happen inside the subcommand that needs them.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

#: Modules that each define ``register(subparsers)``; a registered parser sets ``handler``.
COMMAND_MODULES = (
    "kubescribe_worker.commands",
    "kubescribe_operator.commands",
    "kubescribe_cli.schema_command",
)

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubescribe",
        description="Transcribe audio dropped on a shared volume, with WhisperX.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Handler = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())

"""``kubescribe result|retry|cancel PATH``: the API's file actions, straight on the volume.

They need no running controller: ``result`` reads the ``.result``; ``cancel`` sets
``should_continue`` to false (the controller stops the attempt and moves the file to
``manual/`` on its next tick); ``retry`` takes a file back out of ``manual/``, queued
with a fresh budget of attempts.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from kubescribe_protocol.names import MANUAL_DIR


def register(subparsers: Any) -> None:
    for name, help_text, handler in (
        ("result", "print a file's transcript (json, txt, srt or vtt)", _result),
        ("retry", "take a file back out of manual/, queued again", _retry),
        ("cancel", "stop a file: its attempt ends and it goes to manual/", _cancel),
    ):
        parser: argparse.ArgumentParser = subparsers.add_parser(name, help=help_text)
        parser.add_argument("path", type=Path, help="the audio file (under the root)")
        parser.add_argument(
            "--root",
            type=Path,
            help="the watched folder (default: KUBESCRIBE_ROOT, else found from PATH: the"
            " folder holding .kubescribe/ or the one above manual/)",
        )
        if name == "result":
            parser.add_argument("--format", choices=("json", "txt", "srt", "vtt"),
                                default="txt", help="default: txt")  # fmt: skip
        parser.set_defaults(handler=handler)


def relative_path(path: Path, root: Path) -> str:
    """``path`` (absolute, or relative to the current folder or the root) relative to
    ``root``, without a leading ``manual/``."""
    root = root.resolve()
    candidate = path if path.is_absolute() else Path.cwd() / path
    absolute = Path(os.path.normpath(candidate))
    try:
        rel = absolute.relative_to(root).as_posix()
    except ValueError:
        rel = Path(os.path.normpath(path)).as_posix()
    prefix = f"{MANUAL_DIR}/"
    return rel[len(prefix) :] if rel.startswith(prefix) else rel


class UnknownRootError(Exception):
    """No --root, no KUBESCRIBE_ROOT, and nothing around the path says which root it is."""


def find_root(path: Path) -> Path:
    """The root that ``path`` lies under: the nearest folder above it holding the
    controller's ``.kubescribe/``, else the folder above the nearest ``manual/``. The
    current folder is taken only when it is one of those, never by default."""
    from ..local.executor import STATE_DIR

    absolute = Path(os.path.normpath(path if path.is_absolute() else Path.cwd() / path))
    folders = absolute.parents
    for folder in folders:
        if (folder / STATE_DIR).is_dir():
            return folder
    for folder in folders:
        if folder.name == MANUAL_DIR and folder.parent != folder:
            return folder.parent
    raise UnknownRootError(
        f"cannot tell which root {path} is under (no .kubescribe/ above it, not in a"
        f" {MANUAL_DIR}/ folder): pass --root or set KUBESCRIBE_ROOT"
    )


def _root(args: argparse.Namespace) -> Path:
    given = args.root or os.environ.get("KUBESCRIBE_ROOT")
    return Path(given).resolve() if given else find_root(args.path).resolve()


def _run(args: argparse.Namespace, action: str) -> int:
    from ..volume.file_actions import (
        ActionError,
        cancel_on_volume,
        check_rel,
        locate,
        render_result,
        retry_from_manual,
    )

    try:
        root = _root(args)
    except UnknownRootError as exc:
        print(f"kubescribe {action}: {exc}", file=sys.stderr)
        return 2
    try:
        rel = check_rel(relative_path(args.path, root))
        if action == "result":
            found = locate(root, rel)
            if found.result is None:
                why = f" ({found.status.error.code})" if found.status and found.status.error else ""
                print(f"kubescribe result: {rel} is {found.state.value}{why}; no result yet",
                      file=sys.stderr)  # fmt: skip
                return 4
            sys.stdout.write(render_result(found.result, args.format))
        elif action == "retry":
            retry_from_manual(root, rel)
            print(f"{rel}: back under the root, queued")
        else:
            cancel_on_volume(root, rel)
            print(f"{rel}: cancel requested; the controller stops it and moves it to {MANUAL_DIR}/")
    except ActionError as exc:
        print(f"kubescribe {action}: {exc.code}: {exc.message}", file=sys.stderr)
        return 4 if exc.status == 409 else 3 if exc.status == 404 else 2
    return 0


def _result(args: argparse.Namespace) -> int:
    return _run(args, "result")


def _retry(args: argparse.Namespace) -> int:
    return _run(args, "retry")


def _cancel(args: argparse.Namespace) -> int:
    return _run(args, "cancel")

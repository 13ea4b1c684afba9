"""Runners on nested roots: ``kubescribe run R`` and ``kubescribe run R/sub`` would both
scan ``R/sub`` and take each other's attempts for abandoned ones, so a root inside, or
above, a root with a live runner is refused like a second runner on the same root.

A runner holds an exclusive ``flock`` on ``<root>/.kubescribe/run.lock`` for as long as
it runs; another one is found by trying a shared lock on that file without waiting (a
lock file whose runner is gone locks at once, whatever is left in it).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_NAME = "run.lock"


def _held(lock_file: Path) -> bool:
    try:
        handle = lock_file.open("rb")
    except OSError:
        return False  # none there, or not ours to read: no runner we could clash with
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


def runner_above(root: Path, state_dir: str) -> Path | None:
    """The nearest folder above ``root`` (resolved) whose runner is live, if any."""
    for folder in root.parents:
        if _held(folder / state_dir / LOCK_NAME):
            return folder
    return None


def runner_below(root: Path, state_dir: str) -> Path | None:
    """A folder under ``root`` whose runner is live, if any: one walk over the folders
    (not the files' status), skipping symlinked folders as the scan does."""
    stack = [str(root)]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if not entry.is_dir(follow_symlinks=False):
                continue
            if entry.name == state_dir:
                if folder != str(root) and _held(Path(entry.path) / LOCK_NAME):
                    return Path(folder)
                continue
            stack.append(entry.path)
    return None

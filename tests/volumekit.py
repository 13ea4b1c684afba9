"""Reading the shared volume the way a test waits on it: has a file ended yet?"""

from __future__ import annotations

from pathlib import Path

from kubescribe_protocol.names import MANUAL_DIR, in_progress_path, result_path


def terminal(root: Path, rel: str) -> str | None:
    """``completed``, ``manual`` or None for a file under ``root``. A move to ``manual/``
    is done once the ``.in_progress`` followed the audio (the move is a journal)."""
    if result_path(root / rel).is_file():
        return "completed"
    moved = root / MANUAL_DIR / rel
    if moved.is_file() and in_progress_path(moved).is_file():
        return "manual"
    return None

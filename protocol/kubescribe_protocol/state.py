"""A file's state, derived from what is on disk and nothing else."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from .atomic import read_model
from .models import FileStatus, InProgress
from .names import MANUAL_DIR, in_progress_path, result_path


class FileState(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    ERROR = "error"
    COMPLETED = "completed"
    MANUAL = "manual"
    NOT_FOUND = "not_found"


TERMINAL_STATES = frozenset({FileState.COMPLETED, FileState.MANUAL})


def state_of_in_progress(status: InProgress) -> FileState:
    """The state an ``.in_progress`` (with its audio beside it, and no ``.result``) means."""
    if status.status is FileStatus.QUEUED:
        return FileState.PENDING
    if status.status is FileStatus.ERROR:
        return FileState.ERROR
    if status.status is FileStatus.COMPLETED:
        # The simplified seed version marks failures only by a non-null error.
        return FileState.ERROR if status.error is not None else FileState.PROCESSING
    return FileState.PROCESSING


def file_state(root: Path, rel: str) -> FileState:
    """The state of the file at ``rel`` under ``root`` (raises StatusFileError on a corrupt
    ``.in_progress``).

    A file at its place under the root is what counts: a person may drop a new file of
    the same name after the old one went to ``manual/``. A ``.result`` wins over an
    ``.in_progress`` left beside it by a worker killed between the two writes.
    """
    audio = root / rel
    if audio.is_file():
        if result_path(audio).is_file():
            return FileState.COMPLETED
        status = read_model(in_progress_path(audio), InProgress)
        return FileState.PENDING if status is None else state_of_in_progress(status)
    if (root / MANUAL_DIR / rel).is_file():
        return FileState.MANUAL
    return FileState.NOT_FOUND

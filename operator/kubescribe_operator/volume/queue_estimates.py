"""Queue positions and ETAs for ``kubescribe status``, from the volume alone.

The order is the core's (:mod:`..core.queue_order`): API requests first, then the oldest;
files with no ``.in_progress`` yet count from their audio's mtime, where the core counts
from when it first saw them. The start-up and rate of :mod:`.eta` are fitted to the newest
:data:`~.eta.WINDOW` ``.result`` files; parallelism is ``KUBESCRIBE_PARALLEL``. A failed
file waiting for its next attempt is not expected before that time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from kubescribe_protocol.atomic import StatusFileError, read_model
from kubescribe_protocol.codes import ErrorCode
from kubescribe_protocol.models import InProgress, Priority, Result
from kubescribe_protocol.names import in_progress_path, result_path

from ..core.outcome import next_attempt_at
from ..core.queue_order import queue_key
from .eta import WINDOW, EtaEstimator

#: Waiting files that get an ETA (each costs an ffprobe of its audio, once).
ESTIMATED_ROWS = 100


class Row(Protocol):
    path: str
    state: str
    priority: str | None
    error_code: str | None
    percentage: int | None
    position: int | None
    eta_seconds: float | None


def format_seconds(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _queued_since(root: Path, rel: str) -> datetime:
    with contextlib.suppress(StatusFileError):
        status = read_model(in_progress_path(root / rel), InProgress)
        if status is not None:
            return status.start_time
    with contextlib.suppress(OSError):
        return datetime.fromtimestamp((root / rel).stat().st_mtime, UTC)
    return datetime.now(UTC)


def _next_attempt(root: Path, rel: str) -> datetime | None:
    with contextlib.suppress(StatusFileError):
        status = read_model(in_progress_path(root / rel), InProgress)
        if status is not None and status.error is not None:
            return next_attempt_at(status.error)
    return None


def _measure(root: Path, completed: list[str], estimator: EtaEstimator) -> None:
    newest: list[tuple[float, Path]] = []
    for rel in completed:
        with contextlib.suppress(OSError):
            path = result_path(root / rel)
            newest.append((path.stat().st_mtime, path))
    newest.sort(reverse=True)
    for _, path in newest[:WINDOW]:
        with contextlib.suppress(StatusFileError):
            result = read_model(path, Result)
            if result is not None:
                estimator.observe(result)


def add_estimates(root: Path, rows: Sequence[Row], parallel: int | None = None) -> None:
    """Fill ``position`` and ``eta_seconds`` of pending, error and processing rows."""
    if parallel is None:
        from ..core.settings import CoreSettings

        parallel = CoreSettings().parallel
    waiting = [row for row in rows if row.state in ("pending", "error")]
    running = [row for row in rows if row.state == "processing"]
    if not waiting and not running:
        return
    interrupted = ErrorCode.INTERRUPTED.value
    waiting.sort(key=lambda row: queue_key(api_request=row.priority == Priority.API_REQUEST.value,
                                           queued_since=_queued_since(root, row.path),
                                           rel=row.path,
                                           interrupted=row.error_code == interrupted))  # fmt: skip
    for number, row in enumerate(waiting, start=1):
        row.position = number
    for row in running:
        row.position = 0
    estimator = EtaEstimator(root)
    _measure(root, [row.path for row in rows if row.state == "completed"], estimator)
    if estimator.model is None:
        return
    busy = {row.path: row.percentage or 0 for row in running}
    for row in running:
        row.eta_seconds = estimator.eta(row.path, running=busy, ahead=[], parallel=parallel)
    order = [row.path for row in waiting]
    now = datetime.now(UTC)
    for index, row in enumerate(waiting[:ESTIMATED_ROWS]):
        not_before = _next_attempt(root, row.path) if row.state == "error" else None
        row.eta_seconds = estimator.eta(
            row.path, running=busy, ahead=order[:index], parallel=parallel,
            not_before=not_before, now=now,
        )  # fmt: skip

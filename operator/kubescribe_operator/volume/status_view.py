"""``kubescribe status ROOT``: the state of every file, read from the volume alone.

It needs no running controller and writes nothing: anyone who can read the share can
run it. Counts come first; ``--json`` prints the same for programs.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

from kubescribe_protocol.atomic import StatusFileError, read_model
from kubescribe_protocol.codes import ErrorCode
from kubescribe_protocol.manual import read_manual_status
from kubescribe_protocol.models import InProgress, format_time
from kubescribe_protocol.names import MANUAL_DIR, in_progress_path
from kubescribe_protocol.state import FileState, state_of_in_progress

from ..core.outcome import next_attempt_at
from ..core.scan import scan
from .queue_estimates import add_estimates, format_seconds

ORDER = (
    FileState.PENDING,
    FileState.PROCESSING,
    FileState.ERROR,
    FileState.COMPLETED,
    FileState.MANUAL,
)
#: A file with no status file that changed within ``stable_seconds``: perhaps still being
#: copied, so no controller takes it yet; it has no place in the queue and no ETA.
ARRIVING = "arriving"
#: The table lists at most this many completed files; ``--json`` lists them all.
COMPLETED_SHOWN = 50


@dataclass
class FileRow:
    path: str
    state: str
    attempt: int | None = None
    stage: str | None = None
    percentage: int | None = None
    error_code: str | None = None
    error_message: str | None = None
    next_attempt: str | None = None
    priority: str | None = None
    #: 1-based place among waiting files (0: running), and seconds until the result is
    #: expected, from the start-up and rate fitted to recent results (queue_estimates.py).
    position: int | None = None
    eta_seconds: float | None = None


def _row(rel: str, state: FileState, status: InProgress | None) -> FileRow:
    row = FileRow(path=rel, state=state.value)
    if status is None:
        return row
    row.attempt = status.attempt or None
    row.priority = status.priority.value
    if state is FileState.PROCESSING and status.progress is not None:
        row.stage, row.percentage = status.progress.stage.value, status.progress.percentage
    if status.error is not None:
        row.error_code, row.error_message = status.error.code, status.error.message
        if state is FileState.ERROR:
            row.next_attempt = format_time(next_attempt_at(status.error))
    return row


def _stable_seconds() -> float:
    from ..core.settings import CoreSettings

    return CoreSettings().stable_seconds


def collect(root: Path, *, stable_seconds: float | None = None) -> list[FileRow]:
    """Every file's row; ``stable_seconds`` (default: KUBESCRIBE_STABLE_SECONDS) tells a
    file still arriving from one that waits in the queue."""
    if stable_seconds is None:
        stable_seconds = _stable_seconds()
    changed_after_ns = time.time_ns() - int(stable_seconds * 1e9)
    rows: list[FileRow] = []
    for seen in scan(root).files:
        if seen.has_result:
            rows.append(FileRow(path=seen.rel, state=FileState.COMPLETED.value))
            continue
        if seen.in_progress_mtime_ns is None and (seen.mtime_ns or 0) > changed_after_ns:
            rows.append(FileRow(seen.rel, ARRIVING))
            continue
        status = None
        state = FileState.PENDING
        if seen.in_progress_mtime_ns is not None:
            try:
                status = read_model(in_progress_path(root / seen.rel), InProgress)
            except StatusFileError as exc:
                rows.append(FileRow(seen.rel, "unreadable", error_message=str(exc)))
                continue
            state = FileState.PENDING if status is None else state_of_in_progress(status)
        rows.append(_row(seen.rel, state, status))
    manual = root / MANUAL_DIR
    if manual.is_dir():
        for seen in scan(manual, skip_manual=False, prefix=f"{MANUAL_DIR}/").files:
            try:
                # Follows a move under way, whose .in_progress has not caught up yet.
                status = read_manual_status(root, seen.rel.removeprefix(f"{MANUAL_DIR}/"))
            except StatusFileError:
                status = None
            rows.append(_row(seen.rel, FileState.MANUAL, status))
    rows.sort(key=lambda row: (_rank(row.state), row.path))
    add_estimates(root, rows)
    return rows


def _rank(state: str) -> int:
    if state == ARRIVING:
        return -1
    values = [member.value for member in ORDER]
    return values.index(state) if state in values else 9


def counts(rows: list[FileRow]) -> dict[str, int]:
    """Files by state; ``arriving`` only when some are (else the counts read as before)."""
    result = {ARRIVING: 0} | {state.value: 0 for state in ORDER}
    for row in rows:
        result[row.state] = result.get(row.state, 0) + 1
    if not result[ARRIVING]:
        del result[ARRIVING]
    return result


def _detail(row: FileRow) -> str:
    return " ".join(part for part in (_state_detail(row), _queue_detail(row)) if part)


def _queue_detail(row: FileRow) -> str:
    parts = [f"#{row.position} in queue"] if row.position else []
    if row.eta_seconds is not None:
        parts.append(f"ETA {format_seconds(row.eta_seconds)}")
    return f"({', '.join(parts)})" if parts else ""


def _state_detail(row: FileRow) -> str:
    if row.state == FileState.PROCESSING.value:
        return f"attempt {row.attempt}, {row.stage or 'starting'} {row.percentage or 0}%"
    if row.state == FileState.ERROR.value and row.error_code == ErrorCode.INTERRUPTED.value:
        return f"attempt {row.attempt} interrupted (kubescribe was stopped); retried first"
    if row.state == FileState.ERROR.value:
        return f"attempt {row.attempt} failed: {row.error_code}; next attempt {row.next_attempt}"
    if row.state == FileState.MANUAL.value:
        return f"{row.error_code}: {row.error_message}" if row.error_code else ""
    if row.state == ARRIVING:
        return "still changing (taken once it holds still for KUBESCRIBE_STABLE_SECONDS)"
    if row.state == FileState.PENDING.value and row.priority == "api_request":
        return "queued (API request)"
    return row.error_message or ""


def render_table(root: Path, rows: list[FileRow], out: TextIO) -> None:
    numbers = counts(rows)
    print(f"{root}: " + ", ".join(f"{n} {state}" for state, n in numbers.items()), file=out)
    if not rows:
        return
    width = min(max(len(row.path) for row in rows), 60)
    completed = 0
    for row in rows:
        if row.state == FileState.COMPLETED.value:
            completed += 1
            if completed > COMPLETED_SHOWN:
                continue
        print(f"{row.state:<10}  {row.path:<{width}}  {_detail(row)}".rstrip(), file=out)
    if completed > COMPLETED_SHOWN:
        print(f"... and {completed - COMPLETED_SHOWN} more completed (--json lists all)", file=out)


def main(root: Path, *, as_json: bool, out: TextIO | None = None) -> int:
    if not root.is_dir():
        print(f"kubescribe status: {root} is not a folder", file=sys.stderr)
        return 2
    rows = collect(root)
    if out is not None:
        _write(root, rows, as_json=as_json, out=out)
        return 0
    try:
        _write(root, rows, as_json=as_json, out=sys.stdout)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader left (``| head -3``): stop quietly, as other Unix tools do. Python
        # flushes stdout again at exit; send that to /dev/null instead of a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    return 0


def _write(root: Path, rows: list[FileRow], *, as_json: bool, out: TextIO) -> None:
    if as_json:
        document = {
            "root": str(root),
            "counts": counts(rows),
            "files": [asdict(row) for row in rows],
        }
        out.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    else:
        render_table(root, rows, out)

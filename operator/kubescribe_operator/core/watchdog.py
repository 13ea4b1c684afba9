"""The watchdog's rules: when a running attempt must be stopped, and why.

Pure functions of what the controller knows of the run and what the worker last wrote;
the controller asks the executor to stop what they name.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from kubescribe_protocol.codes import ErrorCode
from kubescribe_protocol.models import InProgress

from .executor import AttemptKey, EndReason


@dataclass(slots=True)
class Running:
    """An attempt the controller started or adopted, until its end is reported."""

    key: AttemptKey
    started: datetime
    deadline: datetime
    handle: str = ""
    #: Why we asked the executor to stop it, if we did.
    stop_code: ErrorCode | None = None


@dataclass(frozen=True, slots=True)
class Stop:
    """Why a running attempt is stopped: the file's error code and the end reported."""

    code: ErrorCode
    reason: EndReason
    #: When the worker last showed it was alive (for the log of a lost heartbeat).
    last_sign: datetime | None = None


def past_deadline(run: Running, now: datetime) -> Stop | None:
    if now >= run.deadline:
        return Stop(ErrorCode.TIMEOUT, EndReason.DEADLINE_EXCEEDED)
    return None


def stop_for(
    run: Running,
    status: InProgress | None,
    now: datetime,
    *,
    heartbeat_timeout: timedelta,
    start_timeout: timedelta,
) -> Stop | None:
    """The stop that ``status`` (the worker's ``.in_progress``) calls for, if any: a
    cancel, or no sign of life for too long. None while the file says nothing of this
    attempt."""
    record = status.current() if status is not None else None
    if status is None or record is None or status.attempt != run.key.attempt:
        return None
    if not status.should_continue:
        return Stop(ErrorCode.CANCELLED, EndReason.STOPPED)
    if record.heartbeat is None:
        # No sign of life yet: a Job may still wait for a node, a GPU or its
        # image (several GB on a first pull), which heartbeats cannot cover.
        last_sign, limit = run.started, start_timeout
    else:
        last_sign, limit = max(record.heartbeat, run.started), heartbeat_timeout
    if now - last_sign > limit:
        return Stop(ErrorCode.HEARTBEAT_LOST, EndReason.KILLED, last_sign)
    return None

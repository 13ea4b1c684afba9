"""What an ended attempt means: pure functions, no IO.

The executor says how the runner ended (exit code, OOM, deadline, vanished); the worker
says what it saw (an error in ``.in_progress``, or a ``.result``). :func:`attempt_error`
joins the two into the error the attempt is recorded with, and :func:`decide` turns
the file's history into the next step: retry at a time, or ``manual/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from kubescribe_protocol.additions import attempts_dropped
from kubescribe_protocol.codes import PERMANENT_ERRORS, ErrorCode, ExitCode
from kubescribe_protocol.models import AttemptStatus, InProgress, StatusError

from .executor import AttemptEnd, EndReason

#: Errors that say the attempt was stopped by kubescribe itself (a shutdown, a restart
#: of the controller), not that the file failed: they do not count against max_attempts...
NOT_COUNTED = frozenset({ErrorCode.INTERRUPTED.value})
#: ...up to this many. A file whose attempts keep ending in a restart may be what kills
#: the controller (memory, a crash in a library): past this, each one counts, so such a
#: file still reaches manual/ instead of looping forever.
FREE_INTERRUPTIONS = 10
#: What a cancelled file's error says (``kubescribe cancel``, the API's cancel, or
#: ``should_continue: false`` written by hand), in words a user reads.
CANCELLED_MESSAGE = "cancelled on request"


class Step(StrEnum):
    RETRY = "retry"
    MANUAL = "manual"


@dataclass(frozen=True)
class Decision:
    step: Step
    #: For RETRY: the earliest start of the next attempt.
    not_before: datetime | None = None
    #: For MANUAL: the error the file goes to ``manual/`` with.
    final_error: StatusError | None = None


def controller_error(
    end: AttemptEnd,
    now: datetime,
    *,
    stop_code: ErrorCode | None,
    vanished_code: ErrorCode = ErrorCode.WORKER_DIED,
) -> StatusError:
    """The error of an attempt that ended without the worker writing one;
    ``vanished_code`` is what a runner gone without a word means to its executor."""
    detail = end.detail or None
    if stop_code is ErrorCode.HEARTBEAT_LOST:
        return StatusError(
            code=stop_code,
            message="no heartbeat in time: none since the start for start_timeout_seconds, "
            "or none for heartbeat_timeout_seconds since the last",
            details=detail,
            timestamp=now,
        )  # fmt: skip
    if stop_code is ErrorCode.CANCELLED:
        return StatusError(code=stop_code, message=CANCELLED_MESSAGE, timestamp=now)
    if end.reason is EndReason.DEADLINE_EXCEEDED or stop_code is ErrorCode.TIMEOUT:
        return StatusError(
            code=ErrorCode.TIMEOUT, message="the attempt ran past its deadline and was killed",
            details=detail, timestamp=now,
        )  # fmt: skip
    if end.reason is EndReason.OOM_KILLED:
        return StatusError(
            code=ErrorCode.OUT_OF_MEMORY, message="the worker was killed for memory",
            details=detail, timestamp=now,
        )  # fmt: skip
    if end.reason is EndReason.EVICTED:
        return StatusError(
            code=ErrorCode.EVICTED, message="the worker was evicted", details=detail, timestamp=now
        )
    if end.reason is EndReason.STOPPED or stop_code is ErrorCode.INTERRUPTED:
        return StatusError(
            code=ErrorCode.INTERRUPTED, message="kubescribe stopped the attempt",
            details=detail, timestamp=now, retry_after=0,
        )  # fmt: skip
    if end.reason is EndReason.VANISHED:
        return StatusError(
            code=vanished_code,
            message="the attempt's runner is gone and nothing says how it ended",
            details=detail, timestamp=now,
        )  # fmt: skip
    if end.reason is EndReason.EXITED and end.exit_code == ExitCode.OK:
        return StatusError(
            code=ErrorCode.NO_RESULT, message="the worker exited 0 but wrote no .result",
            details=detail, timestamp=now,
        )  # fmt: skip
    if end.reason is EndReason.EXITED and end.exit_code == ExitCode.BAD_INPUT:
        # The worker judged the input hopeless but could not write why (a read-only
        # status file, a crash while writing): the exit code alone is its verdict.
        return StatusError(
            code=ErrorCode.UNDECODABLE,
            message="the worker exited 10 (this input can never work) without writing an error",
            details=detail, timestamp=now,
        )  # fmt: skip
    how = f"exit code {end.exit_code}" if end.exit_code is not None else end.reason.value
    return StatusError(
        code=ErrorCode.WORKER_DIED, message=f"the worker died ({how}) without writing an error",
        details=detail, timestamp=now,
    )  # fmt: skip


def worker_error(status: InProgress) -> StatusError | None:
    """The error the worker itself wrote for the current attempt, if it wrote one."""
    record = status.current()
    if record is None or record.status is not AttemptStatus.FAILED:
        return None
    return record.error or status.error


def counted_failures(status: InProgress) -> int:
    """Failed attempts that count against max_attempts."""
    failed = [record for record in status.attempts if record.status is AttemptStatus.FAILED]
    interrupted = sum(
        1 for record in failed if record.error is not None and record.error.code in NOT_COUNTED
    )
    # Attempts a writer dropped to bound the file (additions.bound_attempts) were failures
    # or interruptions, all past the free ones: each counts.
    dropped = attempts_dropped(status)
    return len(failed) - interrupted + max(0, interrupted - FREE_INTERRUPTIONS) + dropped


def decide(
    status: InProgress,
    error: StatusError,
    *,
    max_attempts: int,
    backoff_seconds: float,
) -> Decision:
    """The next step for a file whose current attempt failed with ``error`` (already
    recorded in ``status.attempts``)."""
    if error.code in PERMANENT_ERRORS or error.code == ErrorCode.FILE_MISSING.value:
        return Decision(Step.MANUAL, final_error=error)
    if not status.should_continue:
        return Decision(
            Step.MANUAL,
            final_error=StatusError(
                code=ErrorCode.CANCELLED,
                message=f"{CANCELLED_MESSAGE}: no further attempts",
                details=f"last error: {error.code}: {error.message}",
                timestamp=error.timestamp,
            ),
        )
    failures = counted_failures(status)
    if failures >= max_attempts:
        return Decision(
            Step.MANUAL,
            final_error=StatusError(
                code=ErrorCode.MAX_ATTEMPTS,
                message=f"{failures} attempts failed (max_attempts {max_attempts})",
                details=f"last error: {error.code}: {error.message}",
                timestamp=error.timestamp,
            ),
        )
    if error.retry_after is None:
        # Exponential backoff from the number of failures so far: 1x, 2x, 4x ...
        error.retry_after = backoff_seconds * 2 ** max(failures - 1, 0)
    return Decision(Step.RETRY, not_before=next_attempt_at(error))


def next_attempt_at(error: StatusError) -> datetime:
    """When the next attempt of a file that failed with ``error`` may start: the error's
    time plus its ``retry_after`` (none: at once)."""
    return error.timestamp + timedelta(seconds=error.retry_after or 0)

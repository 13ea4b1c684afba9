"""The worker's failures, each with its protocol error code and when to retry."""

from __future__ import annotations

from kubescribe_protocol.codes import PERMANENT_ERRORS, ErrorCode

#: Seconds before the next attempt may start, by error code; codes not listed: 30 s.
#: Permanent input errors never retry (None). A model problem needs a person, so the
#: controller should not hammer it; memory may be free again a minute later.
RETRY_AFTER: dict[ErrorCode, float | None] = {
    **dict.fromkeys(PERMANENT_ERRORS, None),
    ErrorCode.FILE_MISSING: None,
    ErrorCode.OUT_OF_MEMORY: 60.0,
    ErrorCode.MODEL_MISSING: 300.0,
    ErrorCode.MODEL_BROKEN: 300.0,
    ErrorCode.INJECTED_FAILURE: 1.0,
    ErrorCode.INTERRUPTED: 0.0,
    ErrorCode.AUDIO_CHANGED: 0.0,
    # None here, yet retried: the controller's exponential backoff (retry_backoff_seconds,
    # doubled after each failure) gives a person time to fix the permissions.
    ErrorCode.AUDIO_UNREADABLE: None,
}
DEFAULT_RETRY_AFTER = 30.0


def retry_after_for(code: ErrorCode) -> float | None:
    return RETRY_AFTER.get(code, DEFAULT_RETRY_AFTER)


class WorkerError(Exception):
    """A failure the worker reports in ``.in_progress`` and by its exit code."""

    def __init__(self, code: ErrorCode, message: str, details: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


class Superseded(Exception):  # noqa: N818  # a state, not an error: exit quietly
    """This attempt is no longer the file's current one (or the file was cancelled)."""


class Interrupted(BaseException):  # a request, not an error
    """The worker was asked to stop (SIGTERM). A BaseException, as KeyboardInterrupt is:
    raised by the signal handler anywhere, it must not be taken for a failure by a library's
    ``except Exception`` (logging's own swallowed it when the signal came mid-write)."""


_OOM_MARKERS = ("out of memory", "std::bad_alloc", "cannot allocate memory")


def classify(exc: BaseException, default: ErrorCode = ErrorCode.WHISPERX_FAILED) -> WorkerError:
    """The :class:`WorkerError` an unexpected exception stands for."""
    if isinstance(exc, WorkerError):
        return exc
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, MemoryError) or any(marker in text.lower() for marker in _OOM_MARKERS):
        return WorkerError(ErrorCode.OUT_OF_MEMORY, "out of memory", text)
    return WorkerError(default, str(exc) or type(exc).__name__, text)

"""Error codes written into ``.in_progress`` and the worker's exit codes.

An exit code tells the controller what kind of failure it was without reading any
file: a Kubernetes podFailurePolicy can act on it, and so can the local executor.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class ExitCode(IntEnum):
    """The worker's exit codes. Anything not listed here (a signal, a crash) is transient."""

    OK = 0
    #: Anything else: worth retrying.
    FAILED = 1
    #: This input can never work: not audio, undecodable, empty, no audio stream.
    BAD_INPUT = 10
    #: Out of memory (host RAM or GPU memory). Retrying may help on another node.
    OUT_OF_MEMORY = 11
    #: The model is missing or broken. A configuration problem: retrying cannot help
    #: until someone fixes the model directory.
    MODEL_ERROR = 12
    #: The attempt is no longer the file's current one; the worker wrote nothing.
    SUPERSEDED = 13
    #: The worker was asked to stop (SIGTERM); the file is left for a later attempt.
    INTERRUPTED = 14


class ErrorCode(StrEnum):
    """Values of ``error.code``. Each says precisely what went wrong."""

    # The input can never work (exit 10).
    EMPTY_FILE = "empty_file"
    NOT_AUDIO = "not_audio"
    UNDECODABLE = "undecodable"
    NO_AUDIO_STREAM = "no_audio_stream"
    FILE_MISSING = "file_missing"
    # The file's settings can never work (exit 10): no model of that size exists, or the
    # model does not speak that language.
    UNKNOWN_MODEL_SIZE = "unknown_model_size"
    UNSUPPORTED_LANGUAGE = "unsupported_language"
    #: The audio's name holds a FIFO, a device, a socket or a folder (refused unopened).
    NOT_REGULAR_FILE = "not_regular_file"
    #: The audio exists but kubescribe may not read it (its permissions): retried with a
    #: backoff, since a person can fix that.
    AUDIO_UNREADABLE = "audio_unreadable"
    # The environment (exit 11, 12).
    OUT_OF_MEMORY = "out_of_memory"
    MODEL_MISSING = "model_missing"
    MODEL_BROKEN = "model_broken"
    # Anything else in the worker (exit 1); the name comes from the user's spec.
    WHISPERX_FAILED = "whisperx_failed"
    # A test switch the worker honours (KUBESCRIBE_TEST_FAIL_ATTEMPTS): a transient failure.
    INJECTED_FAILURE = "injected_failure"
    INTERRUPTED = "interrupted"
    #: The audio was replaced while it was transcribed: the file starts again as new.
    AUDIO_CHANGED = "audio_changed"
    # Written by the controller about an attempt it watched end badly.
    TIMEOUT = "timeout"
    WORKER_DIED = "worker_died"
    HEARTBEAT_LOST = "heartbeat_lost"
    EVICTED = "evicted"
    JOB_VANISHED = "job_vanished"
    NO_RESULT = "no_result"
    # Written by the controller when it gives up on a file.
    MAX_ATTEMPTS = "max_attempts_exceeded"
    STALE = "stale"
    CANCELLED = "cancelled"


#: Errors that no retry can fix (a bad input, or settings no model can honour): the file
#: goes to ``manual/`` at once.
PERMANENT_ERRORS = frozenset(
    {
        ErrorCode.EMPTY_FILE,
        ErrorCode.NOT_AUDIO,
        ErrorCode.UNDECODABLE,
        ErrorCode.NO_AUDIO_STREAM,
        ErrorCode.UNKNOWN_MODEL_SIZE,
        ErrorCode.UNSUPPORTED_LANGUAGE,
        ErrorCode.NOT_REGULAR_FILE,
    }
)

EXIT_CODE_FOR_ERROR: dict[ErrorCode, ExitCode] = {
    **{code: ExitCode.BAD_INPUT for code in PERMANENT_ERRORS},
    ErrorCode.FILE_MISSING: ExitCode.BAD_INPUT,
    ErrorCode.OUT_OF_MEMORY: ExitCode.OUT_OF_MEMORY,
    ErrorCode.MODEL_MISSING: ExitCode.MODEL_ERROR,
    ErrorCode.MODEL_BROKEN: ExitCode.MODEL_ERROR,
    ErrorCode.INTERRUPTED: ExitCode.INTERRUPTED,
}


def exit_code_for(code: ErrorCode) -> ExitCode:
    return EXIT_CODE_FOR_ERROR.get(code, ExitCode.FAILED)

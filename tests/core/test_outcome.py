"""How failures count against max_attempts."""

from __future__ import annotations

from kubescribe_operator.core.outcome import FREE_INTERRUPTIONS, Step, counted_failures, decide
from kubescribe_protocol.codes import ErrorCode
from kubescribe_protocol.models import Attempt, AttemptStatus, InProgress, StatusError


def _history(*codes: ErrorCode) -> InProgress:
    attempts = [
        Attempt(
            attempt_number=number,
            status=AttemptStatus.FAILED,
            error=StatusError(code=code, message=str(code)),
        )
        for number, code in enumerate(codes, start=1)
    ]
    return InProgress(filename="talk.mp3", attempt=len(codes), attempts=attempts)


def test_interruptions_by_kubescribe_do_not_count() -> None:
    status = _history(ErrorCode.INTERRUPTED, ErrorCode.WHISPERX_FAILED, ErrorCode.INTERRUPTED)
    assert counted_failures(status) == 1
    assert status.attempts[-1].error is not None
    decision = decide(status, status.attempts[-1].error, max_attempts=3, backoff_seconds=1)
    assert decision.step is Step.RETRY


def test_endless_interruptions_still_reach_manual() -> None:
    codes = [ErrorCode.INTERRUPTED] * (FREE_INTERRUPTIONS + 3)
    status = _history(*codes)
    assert counted_failures(status) == 3
    assert status.attempts[-1].error is not None
    decision = decide(status, status.attempts[-1].error, max_attempts=3, backoff_seconds=1)
    assert decision.step is Step.MANUAL
    assert decision.final_error is not None
    assert decision.final_error.code == ErrorCode.MAX_ATTEMPTS


def test_settings_no_model_can_honour_go_to_manual_on_the_first_failure() -> None:
    for code in (ErrorCode.UNKNOWN_MODEL_SIZE, ErrorCode.UNSUPPORTED_LANGUAGE):
        status = _history(code)
        assert status.attempts[-1].error is not None
        decision = decide(status, status.attempts[-1].error, max_attempts=3, backoff_seconds=1)
        assert decision.step is Step.MANUAL, code
        assert decision.final_error is not None and decision.final_error.code == code

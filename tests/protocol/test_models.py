"""The status-file models read both seed versions and write every field under both names."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from kubescribe_protocol.models import (
    FileStatus,
    InProgress,
    Priority,
    Result,
    dump_status,
)

# The examples of the user's spec (status-files.ru.md), verbatim.
SIMPLIFIED_IN_PROGRESS = {
    "filename": "audio.mp3",
    "status": "processing",
    "start_time": "2024-01-01T10:00:00Z",
    "attempt": 1,
    "settings": {
        "model_size": "base",
        "language": "ru",
        "temperature": 0.1,
        "compute_type": "int8",
        "device": "cpu",
    },
    "error": None,
}

FULL_IN_PROGRESS = {
    "filename": "audio.mp3",
    "creation_time": "2024-01-01T10:00:00Z",
    "current_attempt": 2,
    "should_continue": True,
    "priority": "api_request",
    "api_clients": ["0b6f3c3e-6f0e-4d37-9a4c-2f6f0d9f3b11"],
    "status": "error",
    "settings": {
        "model_size": "base",
        "language": "ru",
        "temperature": 0.1,
        "compute_type": "int8",
        "device": "cpu",
        "debug": False,
    },
    "progress": {"stage": "processing_audio", "percentage": 75},
    "attempts": [
        {
            "attempt_number": 1,
            "start_time": "2024-01-01T10:00:00Z",
            "end_time": "2024-01-01T10:05:00Z",
            "status": "failed",
            "continue_processing": True,
            "error": {
                "code": "whisperx_failed",
                "message": "WhisperX process exited with code 1",
                "details": "Audio file format not supported",
                "timestamp": "2024-01-01T10:05:00Z",
                "retry_after": 30,
            },
        }
    ],
    "error": {
        "code": "whisperx_failed",
        "message": "WhisperX process exited with code 1",
        "details": "Audio file format not supported",
        "timestamp": "2024-01-01T10:05:00Z",
        "retry_after": 30,
    },
}

FULL_RESULT = {
    "filename": "audio.mp3",
    "processing_start": "2024-01-01T10:00:00Z",
    "processing_end": "2024-01-01T10:02:30Z",
    "duration_seconds": 135.5,
    "processing_time_seconds": 150.3,
    "settings": {
        "model_size": "base",
        "language": "ru",
        "temperature": 0.1,
        "compute_type": "int8",
        "device": "cpu",
    },
    "transcription": {
        "text": "Полный текст транскрипции аудиозаписи...",
        "segments": [
            {"id": 0, "start": 0.0, "end": 5.2, "text": "Привет, как дела?", "confidence": 0.95},
        ],
    },
    "metadata": {
        "confidence": 0.89,
        "language_detected": "ru",
        "word_count": 156,
        "segment_count": 45,
        "whisperx_version": "3.1.1",
        "model_info": {"name": "faster-whisper-base", "size_mb": 74, "load_time_seconds": 2.3},
    },
    "processing_stats": {"total_attempts": 1, "memory_peak_mb": 512, "cpu_time_seconds": 145.2},
}

SIMPLIFIED_RESULT = {
    "filename": "audio.mp3",
    "processing_time_seconds": 27.1,
    "transcription": {
        "text": "Полный текст транскрипции аудиозаписи...",
        "segments": [{"start": 0.0, "end": 5.2, "text": "Привет, как дела?"}],
    },
    "metadata": {"duration_seconds": 135.5, "confidence": 0.89, "word_count": 156},
}


def test_simplified_in_progress_reads_and_gains_both_names() -> None:
    status = InProgress.model_validate(SIMPLIFIED_IN_PROGRESS)
    written = json.loads(dump_status(status))
    assert written["start_time"] == written["creation_time"] == "2024-01-01T10:00:00.000Z"
    assert written["attempt"] == written["current_attempt"] == 1
    assert written["settings"]["language"] == "ru"
    assert written["priority"] == "auto_scan"
    assert written["api_clients"] == []


def test_full_in_progress_reads_with_its_names() -> None:
    status = InProgress.model_validate(FULL_IN_PROGRESS)
    assert status.attempt == 2
    assert status.start_time == datetime(2024, 1, 1, 10, tzinfo=UTC)
    assert status.priority is Priority.API_REQUEST
    assert status.status is FileStatus.ERROR
    assert status.error is not None and status.error.retry_after == 30
    assert status.attempts[0].error is not None
    assert status.attempts[0].error.code == "whisperx_failed"


def test_written_in_progress_has_every_field_of_both_versions() -> None:
    written = json.loads(dump_status(InProgress.model_validate(FULL_IN_PROGRESS)))
    for key in (
        *SIMPLIFIED_IN_PROGRESS,
        *FULL_IN_PROGRESS,
        "path",
        "updated_at",
    ):
        assert key in written, key
    attempt = written["attempts"][0]
    for key in ("attempt_number", "start_time", "end_time", "status", "continue_processing",
                "error", "progress_info"):  # fmt: skip
        assert key in attempt, key
    assert set(written["settings"]) >= {
        "model_size", "language", "temperature", "compute_type", "device", "debug",
    }  # fmt: skip


def test_written_file_reads_back_equal() -> None:
    status = InProgress.model_validate(FULL_IN_PROGRESS)
    again = InProgress.model_validate_json(dump_status(status))
    assert again == status


def test_naive_times_from_seed_code_read_as_utc() -> None:
    # The seed's own code writes datetime.now().isoformat(): no zone.
    status = InProgress.model_validate(
        {**SIMPLIFIED_IN_PROGRESS, "start_time": "2024-01-01T10:00:00"}
    )
    assert status.start_time.tzinfo is not None
    assert json.loads(dump_status(status))["start_time"].endswith("Z")


def test_unknown_fields_survive_a_rewrite() -> None:
    status = InProgress.model_validate({**SIMPLIFIED_IN_PROGRESS, "written_by": "kubescribe 9"})
    assert json.loads(dump_status(status))["written_by"] == "kubescribe 9"


def test_writers_are_strict_on_values() -> None:
    with pytest.raises(ValidationError):
        InProgress.model_validate({**SIMPLIFIED_IN_PROGRESS, "priority": "urgent"})
    with pytest.raises(ValidationError):
        InProgress.model_validate({**SIMPLIFIED_IN_PROGRESS, "settings": {"temperature": 3}})
    with pytest.raises(ValidationError):
        InProgress.model_validate(
            {**SIMPLIFIED_IN_PROGRESS, "progress": {"stage": "loading_model", "percentage": 101}}
        )


def test_full_result_reads_and_writes_every_field() -> None:
    result = Result.model_validate(FULL_RESULT)
    written = json.loads(dump_status(result))
    for key in FULL_RESULT:
        assert key in written, key
    for key in FULL_RESULT["metadata"]:  # type: ignore[attr-defined]
        assert key in written["metadata"], key
    assert written["metadata"]["duration_seconds"] == written["duration_seconds"] == 135.5
    assert written["transcription"]["segments"][0]["text"] == "Привет, как дела?"


def test_simplified_result_reads_and_fills_the_other_duration() -> None:
    result = Result.model_validate(SIMPLIFIED_RESULT)
    assert result.duration_seconds == 135.5
    assert result.transcription.segments[0].id == 0


def test_non_ascii_is_written_readably() -> None:
    text = dump_status(Result.model_validate(FULL_RESULT))
    assert "Привет" in text

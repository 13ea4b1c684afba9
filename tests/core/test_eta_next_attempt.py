"""The API's ETA (``eta_seconds``): a failed file is not expected before its next attempt
may start, and a long file after short ones is not charged their start-up per second.
The figures are worked out by hand in the comments (the model: tests/volume/test_eta.py)."""

from __future__ import annotations

import threading
import wave
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kubescribe_operator.api.facade import Facade, QueueView
from kubescribe_operator.api.settings import ApiSettings
from kubescribe_operator.volume.file_actions import locate
from kubescribe_protocol.atomic import write_model
from kubescribe_protocol.models import (
    FileStatus,
    InProgress,
    Result,
    StatusError,
    Transcription,
)
from kubescribe_protocol.names import in_progress_path

from .test_controller import make


def _audio(path: Path, seconds: int) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(1)
        out.setframerate(1000)
        out.writeframes(b"\x80" * (1000 * seconds))


def test_api_eta_waits_for_the_next_attempt(tmp_path: Path) -> None:
    controller, _, _ = make(tmp_path)
    facade = Facade(controller, threading.Lock(), ApiSettings(root=tmp_path))
    for seconds, took in ((5, 21), (10, 22)):  # 20 s start-up + 0.2 s per audio second
        facade.eta.observe(Result(filename="x.wav", duration_seconds=seconds,
                                  processing_time_seconds=took,
                                  transcription=Transcription(text="x")))  # fmt: skip
    _audio(tmp_path / "long.wav", 600)  # 20 + 120 = 140 s
    _audio(tmp_path / "failed.wav", 10)  # 20 + 2 = 22 s
    queue = QueueView(running=[], waiting=["long.wav", "failed.wav"], parallel=1)
    assert facade.eta_seconds(locate(tmp_path, "long.wav"), queue) == pytest.approx(140)
    # Without a next-attempt time it is behind long.wav: 140 + 22 = 162.
    write_model(in_progress_path(tmp_path / "failed.wav"), InProgress(
        filename="failed.wav", status=FileStatus.ERROR, attempt=1, error=StatusError(
            code="whisperx_failed", message="boom", retry_after=0)))  # fmt: skip
    assert facade.eta_seconds(locate(tmp_path, "failed.wav"), queue) == pytest.approx(162)
    # May not retry for an hour: 3600 + 22, less the moments since the error was written.
    hour = 3600
    write_model(in_progress_path(tmp_path / "failed.wav"), InProgress(
        filename="failed.wav", status=FileStatus.ERROR, attempt=1, error=StatusError(
            code="whisperx_failed", message="boom", timestamp=datetime.now(UTC),
            retry_after=hour)))  # fmt: skip
    eta = facade.eta_seconds(locate(tmp_path, "failed.wav"), queue)
    assert eta is not None and hour + 22 - 120 < eta <= hour + 22

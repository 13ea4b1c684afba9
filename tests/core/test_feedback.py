"""What the core says to a person: files not taken yet, plain cancel messages, log times."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kubescribe_operator.core.executor import AttemptKey
from kubescribe_operator.core.readable import format_clock, format_duration
from kubescribe_protocol.codes import ErrorCode

from .test_controller import audio, make, status_of


def test_files_not_yet_stable_are_told_apart(tmp_path: Path) -> None:
    controller, executor, clock = make(tmp_path, stable_seconds=60)
    audio(tmp_path, "copying.mp3")
    controller.tick()
    assert controller.still_changing() == {"copying.mp3": 60}
    clock.advance(45)
    assert controller.still_changing() == {"copying.mp3": 15}
    clock.advance(16)
    controller.tick()
    assert controller.still_changing() == {}
    assert executor.started_paths() == ["copying.mp3"]


def test_a_cancelled_file_says_so_in_plain_words(tmp_path: Path) -> None:
    controller, _, _ = make(tmp_path, parallel=1)
    audio(tmp_path, "a.mp3", mtime=1000)
    audio(tmp_path, "b.mp3", mtime=2000)
    controller.tick()
    assert controller.cancel("b.mp3") and controller.cancel("a.mp3")
    controller.tick()
    for rel in ("a.mp3", "b.mp3"):
        error = status_of(tmp_path, f"manual/{rel}").error
        assert error is not None and error.code == ErrorCode.CANCELLED
        assert "should_continue" not in error.message and "cancelled" in error.message


def test_durations_and_clock_times_read_as_a_person_writes_them() -> None:
    assert format_duration(4) == "4 s"
    assert format_duration(260.4) == "4 min 20 s"
    assert format_duration(300) == "5 min"
    assert format_duration(7500) == "2 h 05 min"
    now = datetime(2026, 12, 1, 21, 22, 0, 640000, tzinfo=UTC)
    assert format_clock(now + timedelta(seconds=260), now) == "21:26:20 UTC (in 4 min 20 s)"
    assert format_clock(now - timedelta(seconds=5), now) == "21:21:55 UTC (5 s ago)"
    assert format_clock(now + timedelta(days=1), now).startswith("2026-12-02 21:22:00 UTC")


def test_the_retry_log_line_has_a_readable_time(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    controller, executor, clock = make(tmp_path)
    audio(tmp_path, "a.mp3")
    controller.tick()
    with caplog.at_level(logging.INFO, logger="kubescribe.core"):
        executor.fail(AttemptKey("a.mp3", 1), ErrorCode.WORKER_DIED, retry_after=260, now=clock.now)
        controller.tick()
    line = next(r.getMessage() for r in caplog.records if "next not before" in r.getMessage())
    assert line.endswith("next not before 12:04:20 UTC (in 4 min 20 s)"), line
    assert "+00:00" not in line

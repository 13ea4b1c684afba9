"""ETAs: a file's work is start-up plus a rate per audio second, fitted to finished
results, and a failed file is not expected before its next attempt may start.

Every expected figure below is worked out by hand in the comment beside it."""

from __future__ import annotations

import os
import wave
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kubescribe_operator.volume.eta import CostModel, EtaEstimator, fit
from kubescribe_operator.volume.status_view import collect
from kubescribe_protocol.atomic import write_model
from kubescribe_protocol.models import (
    FileStatus,
    InProgress,
    Result,
    StatusError,
    Transcription,
)
from kubescribe_protocol.names import in_progress_path, result_path

RATE_HZ = 1000  # silence, 8-bit mono: ffprobe reads the length from the header


def _audio(path: Path, seconds: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(1)
        out.setframerate(RATE_HZ)
        out.writeframes(b"\x80" * (RATE_HZ * seconds))
    os.utime(path, (1_000_000, 1_000_000))  # long still: queued, not arriving
    return path


def _result(audio: Path, seconds: float, took: float) -> Result:
    return Result(filename=audio.name, duration_seconds=seconds, processing_time_seconds=took,
                  transcription=Transcription(text="x"))  # fmt: skip


def test_fit_separates_start_up_from_rate() -> None:
    # 10 s took 25, 20 s took 35, 40 s took 55: exactly 15 + 1.0 x seconds.
    model = fit([(10, 25), (20, 35), (40, 55)])
    assert model is not None
    assert model.startup_seconds == pytest.approx(15)
    assert model.rate == pytest.approx(1.0)
    assert model.seconds(600) == pytest.approx(615)


def test_a_long_file_after_short_ones_is_not_charged_their_start_up() -> None:
    # The case: 5 s took 21 s and 10 s took 22 s, mostly start-up.
    # slope = (22 - 21) / (10 - 5) = 0.2; start-up = 21 - 0.2 x 5 = 20.
    # A 600 s file: 20 + 0.2 x 600 = 140 s. The old mean factor, (21/5 + 22/10) / 2 = 3.2,
    # said 600 x 3.2 = 1920 s.
    model = fit([(5, 21), (10, 22)])
    assert model == CostModel(pytest.approx(20), pytest.approx(0.2))  # type: ignore[arg-type]
    assert model is not None and model.seconds(600) == pytest.approx(140)


def test_fallbacks_are_never_negative() -> None:
    assert fit([]) is None
    assert fit([(0, 5)]) is None  # no audio seconds: nothing to learn from
    # One file: all rate, 30 / 10 = 3.0 (overestimates longer files rather than underestimates).
    assert fit([(10, 30)]) == CostModel(0.0, pytest.approx(3.0))  # type: ignore[arg-type]
    # One length twice: total time / total audio = 70 / 20 = 3.5.
    assert fit([(10, 30), (10, 40)]) == CostModel(0.0, pytest.approx(3.5))  # type: ignore[arg-type]
    # Longer took less (noise): no rate, the mean time (30 + 20) / 2 = 25 as start-up.
    assert fit([(10, 30), (20, 20)]) == CostModel(pytest.approx(25), 0.0)  # type: ignore[arg-type]
    # A line through (10, 5) and (20, 25) crosses at -15: refitted through the origin,
    # rate = (10 x 5 + 20 x 25) / (10² + 20²) = 550 / 500 = 1.1.
    assert fit([(10, 5), (20, 25)]) == CostModel(0.0, pytest.approx(1.1))  # type: ignore[arg-type]


def test_eta_counts_the_queue_and_the_next_attempt_time(tmp_path: Path) -> None:
    estimator = EtaEstimator(tmp_path)
    assert estimator.eta("own.wav", running={}, ahead=[], parallel=1) is None  # nothing measured
    estimator.observe(_result(tmp_path / "a.wav", 5, 21))
    estimator.observe(_result(tmp_path / "b.wav", 10, 22))  # 20 + 0.2 x seconds
    _audio(tmp_path / "own.wav", 10)  # 20 + 2 = 22 s of work
    _audio(tmp_path / "long.wav", 600)  # 20 + 120 = 140 s
    _audio(tmp_path / "busy.wav", 100)  # 20 + 20 = 40 s, a quarter done: 30 s left
    assert estimator.eta("own.wav", running={}, ahead=[], parallel=1) == pytest.approx(22)
    # Running, 50 % done: half its 22 s.
    assert estimator.eta("own.wav", running={"own.wav": 50}, ahead=[], parallel=1) == (
        pytest.approx(11)
    )
    # Behind long.wav and busy.wav's 30 s left, one slot: 140 + 30 + 22 = 192;
    # two slots: (140 + 30) / 2 + 22 = 107.
    busy = {"busy.wav": 25}
    assert estimator.eta("own.wav", running=busy, ahead=["long.wav"], parallel=1) == (
        pytest.approx(192)
    )
    assert estimator.eta("own.wav", running=busy, ahead=["long.wav"], parallel=2) == (
        pytest.approx(107)
    )
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    # May not retry for 5 minutes: 300 + its 22 s = 322, not 22.
    later = now + timedelta(seconds=300)
    assert estimator.eta("own.wav", running={}, ahead=[], parallel=1, not_before=later,
                         now=now) == pytest.approx(322)  # fmt: skip
    # A next-attempt time already past, or nearer than the queue ahead: the queue's 192.
    for not_before in (now - timedelta(seconds=60), now + timedelta(seconds=100)):
        assert estimator.eta("own.wav", running=busy, ahead=["long.wav"], parallel=1,
                             not_before=not_before, now=now) == pytest.approx(192)  # fmt: skip


def test_status_shows_the_fitted_eta_and_waits_for_the_next_attempt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBESCRIBE_PARALLEL", "1")
    for name, seconds, took in (("a.wav", 5, 21), ("b.wav", 10, 22)):
        audio = _audio(tmp_path / "done" / name, seconds)
        write_model(result_path(audio), _result(audio, seconds, took))
    _audio(tmp_path / "long.wav", 600)
    failed = _audio(tmp_path / "failed.wav", 10)
    hour = 3600
    write_model(in_progress_path(failed), InProgress(
        filename="failed.wav", status=FileStatus.ERROR, attempt=1,
        start_time=datetime.now(UTC),  # queued after long.wav (mtime 1970)
        error=StatusError(code="whisperx_failed", message="boom", retry_after=hour)))  # fmt: skip
    rows = {row.path: row for row in collect(tmp_path, stable_seconds=1)}
    assert rows["long.wav"].position == 1
    assert rows["long.wav"].eta_seconds == pytest.approx(140)  # 20 + 0.2 x 600
    assert rows["failed.wav"].position == 2
    # Behind long.wav it would be 140 + 22 = 162 s; it may not start for an hour:
    # 3600 + 22, less the moments this test has taken since writing the error.
    eta = rows["failed.wav"].eta_seconds
    assert eta is not None and hour + 22 - 120 < eta <= hour + 22

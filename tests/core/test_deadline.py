"""An attempt's deadline: fixed, or scaled by the audio's duration (ffprobe)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from speechkit import silence

from kubescribe_operator.core.deadline import attempt_deadline

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.skipif(shutil.which("ffprobe") is None, reason="needs ffprobe")
def test_deadline_scales_with_the_audio(tmp_path: Path) -> None:
    clip = silence(tmp_path / "ten seconds.wav", 10)
    scaled = attempt_deadline(NOW, clip, fixed_seconds=60, per_audio_second=30)
    assert abs((scaled - NOW).total_seconds() - 300) < 1  # 10 s x 30, above the fixed 60
    fixed = attempt_deadline(NOW, clip, fixed_seconds=600, per_audio_second=30)
    assert fixed - NOW == timedelta(seconds=600)  # the larger of the two
    off = attempt_deadline(NOW, clip, fixed_seconds=60, per_audio_second=0)
    assert off - NOW == timedelta(seconds=60)


def test_unreadable_audio_falls_back_to_the_fixed_deadline(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp3"
    junk.write_text("not audio")
    deadline = attempt_deadline(NOW, junk, fixed_seconds=60, per_audio_second=30)
    assert deadline - NOW == timedelta(seconds=60)

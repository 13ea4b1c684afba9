"""An attempt's deadline: a fixed time, optionally scaled by the audio's duration."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path


def audio_seconds(path: Path) -> float | None:
    """The media's duration by ffprobe, or None when it cannot tell (the worker will then
    report the precise error; the deadline falls back to the fixed one)."""
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        return None
    try:
        done = subprocess.run(
            [ffprobe, "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)],
            capture_output=True,
            timeout=30,
            check=False,
        )
        return float(json.loads(done.stdout)["format"]["duration"])
    except (subprocess.TimeoutExpired, ValueError, KeyError, TypeError):
        return None


def attempt_deadline(
    now: datetime, audio: Path, *, fixed_seconds: float, per_audio_second: float
) -> datetime:
    seconds = fixed_seconds
    if per_audio_second > 0:
        duration = audio_seconds(audio)
        if duration is not None:
            seconds = max(seconds, per_audio_second * duration)
    return now + timedelta(seconds=seconds)

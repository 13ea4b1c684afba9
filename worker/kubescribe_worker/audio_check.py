"""Is the audio still the file this attempt started on? Checked before the result is
published, so that a file deleted or replaced mid-run never gets the old audio's text."""

from __future__ import annotations

import time
from pathlib import Path

from kubescribe_protocol.codes import ErrorCode
from kubescribe_protocol.fingerprint import fingerprint, still_the_same
from kubescribe_protocol.models import AudioFingerprint

from . import switches
from .errors import WorkerError
from .status import FencedStatus

#: Seconds between looks at the test switch's gate file.
_HOLD_POLL_SECONDS = 0.1


def taken_now(audio: Path) -> AudioFingerprint:
    """The audio's fingerprint now (a missing file is ``file_missing``)."""
    try:
        return fingerprint(audio)
    except FileNotFoundError as exc:
        raise WorkerError(ErrorCode.FILE_MISSING, f"{audio.name} is gone", str(exc)) from exc


def unchanged(audio: Path, started_on: AudioFingerprint) -> AudioFingerprint:
    """The audio's fingerprint now, if it is still the file ``started_on`` describes;
    else ``file_missing`` (deleted) or ``audio_changed`` (replaced, or still growing)."""
    try:
        now = still_the_same(audio, started_on)
    except FileNotFoundError as exc:
        raise WorkerError(
            ErrorCode.FILE_MISSING,
            f"{audio.name} was deleted while it was transcribed; no result was written",
            str(exc),
        ) from exc
    if now is None:
        raise WorkerError(
            ErrorCode.AUDIO_CHANGED,
            f"{audio.name} changed while it was transcribed (replaced, or still being "
            "written); no result was written, and the file starts again as new",
            f"at the start: {started_on.size} bytes, mtime_ns {started_on.mtime_ns}",
        )
    return now


def hold_for_test(status: FencedStatus) -> None:
    """``KUBESCRIBE_TEST_HOLD_BEFORE_PUBLISH``: wait (the heartbeat goes on) for its file."""
    gate = switches.hold_before_publish()
    while gate is not None and not gate.exists():
        if status.superseded:
            return
        time.sleep(_HOLD_POLL_SECONDS)

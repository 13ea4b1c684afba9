"""Audio that is no longer the file its attempt or its result was made from.

A file deleted, replaced or still growing under a running attempt, or whose copy went
on after its ``.result`` was written (a copy that paused longer than ``stable_seconds``),
must not keep a transcript of other audio. The fingerprints (``kubescribe_protocol.
fingerprint``) say which audio a result came from; this module keeps the old result as
history beside the audio and turns the file back into a new one.
"""

from __future__ import annotations

import contextlib
import logging
import os
from datetime import datetime
from pathlib import Path

from kubescribe_protocol.additions import add_earlier_run
from kubescribe_protocol.atomic import StatusFileError, read_model
from kubescribe_protocol.fingerprint import still_the_same
from kubescribe_protocol.models import FileStatus, InProgress, Result
from kubescribe_protocol.names import RESULT_HISTORY_INFIX, result_path

log = logging.getLogger("kubescribe.core")

#: ``talk.mp3.result`` of audio that changed is kept as ``talk.mp3.result.replaced-<UTC>``:
#: not a status file (nothing reads it as one), next to the audio where a person looks.
HISTORY_INFIX = RESULT_HISTORY_INFIX


def result_matches(audio: Path) -> bool:
    """False when ``audio``'s ``.result`` names a fingerprint and the audio beside it is
    not that file (or is gone). A result with no fingerprint (an older kubescribe) or
    one that does not read is left as it is: True."""
    try:
        result = read_model(result_path(audio), Result)
    except StatusFileError:
        return True
    if result is None or result.audio is None:
        return True
    try:
        return still_the_same(audio, result.audio) is not None
    except FileNotFoundError:
        return False
    except OSError:
        return True  # cannot look now: the next check decides


def keep_result_as_history(audio: Path, now: datetime) -> Path | None:
    """Rename ``audio``'s ``.result`` to its history name (never over an existing file);
    the path it now has, or None when it was already gone."""
    source = result_path(audio)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    for number in range(1, 1000):
        suffix = "" if number == 1 else f"-{number}"
        target = source.with_name(f"{source.name}{HISTORY_INFIX}{stamp}{suffix}")
        try:
            os.link(source, target)
        except FileExistsError:
            continue
        except FileNotFoundError:
            return None
        with contextlib.suppress(FileNotFoundError):
            source.unlink()
        return target
    raise FileExistsError(f"no free history name for {source}")


def start_again(status: InProgress, now: datetime) -> None:
    """The file is new again: its attempts so far go to ``earlier_runs`` (history), it
    waits, queued, until the audio holds still; priority and API clients stay."""
    add_earlier_run(status, now)
    status.attempts = []
    status.status = FileStatus.QUEUED
    status.error = None
    status.progress = None
    status.updated_at = now

"""A cheap fingerprint of an audio file: is this still the audio an attempt started on?

Taken when an attempt starts (the controller) and checked before its result is accepted
(the worker, then the controller), and again when a completed file's audio changes.
Cost matters on a network volume, where a file may be gigabytes: a fingerprint is one
``fstat`` and at most :data:`SAMPLE_BYTES` read from each end of the file (2 MiB in
all, whatever its size). A check is a ``stat`` alone when size and mtime are unchanged;
only a changed mtime reads the two samples (a ``touch`` or a copy that kept the bytes
is then still the same audio).

What it cannot see: an edit in place that keeps the size, the first and the last MiB
(the middle of a long WAV overwritten with as many bytes) and then restores the mtime.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .models import AudioFingerprint

#: Bytes hashed from each end of the file.
SAMPLE_BYTES = 1 << 20


def fingerprint(path: Path) -> AudioFingerprint:
    """The fingerprint of the file at ``path`` now (raises ``OSError``, e.g.
    ``FileNotFoundError``). Opened non-blocking so that a FIFO never hangs the caller."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        stat = os.fstat(fd)
        digest = hashlib.sha256(f"{stat.st_size}\n".encode())
        digest.update(os.pread(fd, SAMPLE_BYTES, 0))
        if stat.st_size > SAMPLE_BYTES:
            tail_start = max(SAMPLE_BYTES, stat.st_size - SAMPLE_BYTES)
            digest.update(os.pread(fd, SAMPLE_BYTES, tail_start))
    finally:
        os.close(fd)
    return AudioFingerprint(
        size=stat.st_size, mtime_ns=stat.st_mtime_ns, sample_sha256=digest.hexdigest()
    )


def still_the_same(path: Path, known: AudioFingerprint) -> AudioFingerprint | None:
    """The file's fingerprint now when it is still the audio ``known`` describes, else
    None (raises ``FileNotFoundError`` when the file is gone)."""
    stat = path.stat()
    if stat.st_size != known.size:
        return None
    if stat.st_mtime_ns == known.mtime_ns:
        return known
    now = fingerprint(path)
    return now if (now.size, now.sample_sha256) == (known.size, known.sample_sha256) else None

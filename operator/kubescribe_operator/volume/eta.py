"""When a file's result is expected: the audio's duration times the realtime factor
actually measured on this installation.

The realtime factor (processing seconds per audio second) is the mean of the last
:data:`WINDOW` ``.result`` files seen: each records ``processing_time_seconds`` and
``duration_seconds``. With no result measured yet there is no honest estimate, and the
ETA is null.
"""

from __future__ import annotations

import threading
from collections import deque
from pathlib import Path

from kubescribe_protocol.models import Result

from ..core.deadline import audio_seconds

#: Results the rolling realtime factor is the mean of.
WINDOW = 20
#: Files ahead whose durations are probed; beyond them the mean duration stands in.
PROBED_AHEAD = 50


class EtaEstimator:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._factors: deque[float] = deque(maxlen=WINDOW)
        self._durations: dict[tuple[str, int, int], float | None] = {}
        self._lock = threading.Lock()

    def observe(self, result: Result) -> float | None:
        """Add a finished file's measured factor; returns it (None when unmeasurable)."""
        duration, took = result.duration_seconds, result.processing_time_seconds
        if not duration or took is None or duration <= 0:
            return None
        factor = took / duration
        with self._lock:
            self._factors.append(factor)
        return factor

    @property
    def realtime_factor(self) -> float | None:
        with self._lock:
            return sum(self._factors) / len(self._factors) if self._factors else None

    def duration(self, rel: str) -> float | None:
        """The audio's seconds by ffprobe, cached by path, size and mtime."""
        path = self.root / rel
        try:
            info = path.stat()
        except OSError:
            return None
        key = (rel, info.st_size, info.st_mtime_ns)
        if key not in self._durations:
            self._durations[key] = audio_seconds(path)
        return self._durations[key]

    def eta(
        self, rel: str, *, running: dict[str, int], ahead: list[str], parallel: int
    ) -> float | None:
        """Seconds until ``rel`` is done: the work left in running files and in the files
        ahead of it, shared over ``parallel`` slots, plus its own work (the part left,
        when it runs). ``running`` maps running files to their percentage."""
        factor = self.realtime_factor
        if factor is None:
            return None  # before probing anything: ffprobe takes tens of milliseconds
        own = self.duration(rel)
        if own is None:
            return None
        if rel in running:
            return own * factor * (100 - running[rel]) / 100
        work = 0.0
        for other, percentage in running.items():
            seconds = self.duration(other)
            if seconds is not None:
                work += seconds * factor * (100 - percentage) / 100
        probed = [self.duration(other) for other in ahead[:PROBED_AHEAD]]
        known = [seconds for seconds in probed if seconds is not None]
        mean = sum(known) / len(known) if known else own
        unprobed = len(ahead) - len(known)
        work += (sum(known) + unprobed * mean) * factor
        return work / max(parallel, 1) + own * factor

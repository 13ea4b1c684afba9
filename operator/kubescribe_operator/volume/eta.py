"""When a file's result is expected, from the processing times measured on this
installation.

A file's work is modelled as a fixed start-up (loading the model, starting a worker) plus
a rate per audio second: ``startup_seconds + rate * duration``. Both are fitted by least
squares over the last :data:`WINDOW` ``.result`` files seen (each records
``processing_time_seconds`` and ``duration_seconds``), so a long file after a run of short
ones is not charged their start-up once per second of audio. With no result measured yet
there is no honest estimate, and the ETA is null. A file that may not start before its
next-attempt time is expected no sooner than that time plus its own work.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from kubescribe_protocol.models import Result

from ..core.deadline import audio_seconds

#: Results the model is fitted to (the newest ones).
WINDOW = 20
#: Files ahead whose durations are probed; beyond them the mean duration stands in.
PROBED_AHEAD = 50
#: Durations closer together than this (seconds, as a spread) cannot tell start-up from
#: rate: the fit falls back to the ratio of the totals.
MIN_SPREAD_SECONDS = 1.0


@dataclass(frozen=True)
class CostModel:
    """Processing seconds of a file: ``startup_seconds + rate * audio seconds``; neither
    part is ever negative."""

    startup_seconds: float
    rate: float

    def seconds(self, duration: float) -> float:
        return self.startup_seconds + self.rate * duration


def fit(samples: Iterable[tuple[float, float]]) -> CostModel | None:
    """The model of ``(audio seconds, processing seconds)`` samples; None without any.

    Files of different lengths: ordinary least squares. A negative slope (longer files
    took less time: noise) keeps only the mean as start-up; a negative intercept is refitted
    through the origin. One file, or files all of one length, cannot separate the two
    parts: the time is taken as all rate (total processing / total audio), which
    overestimates longer files rather than promising them too soon.
    """
    points = [(d, t) for d, t in samples if d > 0 and t >= 0]
    if not points:
        return None
    n = len(points)
    mean_d = sum(d for d, _ in points) / n
    mean_t = sum(t for _, t in points) / n
    spread = sum((d - mean_d) ** 2 for d, _ in points)
    if spread < MIN_SPREAD_SECONDS**2:
        return CostModel(0.0, mean_t / mean_d)
    rate = sum((d - mean_d) * (t - mean_t) for d, t in points) / spread
    if rate <= 0:
        return CostModel(mean_t, 0.0)
    startup = mean_t - rate * mean_d
    if startup < 0:
        through_origin = sum(d * t for d, t in points) / sum(d * d for d, _ in points)
        return CostModel(0.0, through_origin)
    return CostModel(startup, rate)


class EtaEstimator:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._samples: deque[tuple[float, float]] = deque(maxlen=WINDOW)
        self._model: CostModel | None = None
        self._durations: dict[tuple[str, int, int], float | None] = {}
        self._lock = threading.Lock()

    def observe(self, result: Result) -> float | None:
        """Add a finished file's measurement; returns its realtime factor (processing
        seconds per audio second; None when unmeasurable)."""
        duration, took = result.duration_seconds, result.processing_time_seconds
        if not duration or took is None or duration <= 0 or took < 0:
            return None
        with self._lock:
            self._samples.append((duration, took))
            self._model = fit(self._samples)
        return took / duration

    @property
    def model(self) -> CostModel | None:
        with self._lock:
            return self._model

    @property
    def realtime_factor(self) -> float | None:
        """The mean processing seconds per audio second of the recent results (start-up
        included: a measurement to show, not what the ETA uses)."""
        with self._lock:
            factors = [took / duration for duration, took in self._samples]
        return sum(factors) / len(factors) if factors else None

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
        self,
        rel: str,
        *,
        running: dict[str, int],
        ahead: list[str],
        parallel: int,
        not_before: datetime | None = None,
        now: datetime | None = None,
    ) -> float | None:
        """Seconds until ``rel`` is done: the work left in running files and in the files
        ahead of it, shared over ``parallel`` slots, plus its own work (the part left,
        when it runs). ``running`` maps running files to their percentage. A file that
        may not start before ``not_before`` is done no sooner than that plus its work."""
        model = self.model
        if model is None:
            return None  # before probing anything: ffprobe takes tens of milliseconds
        own = self.duration(rel)
        if own is None:
            return None
        if rel in running:
            return model.seconds(own) * (100 - running[rel]) / 100
        work = 0.0
        for other, percentage in running.items():
            seconds = self.duration(other)
            if seconds is not None:
                work += model.seconds(seconds) * (100 - percentage) / 100
        probed = [self.duration(other) for other in ahead[:PROBED_AHEAD]]
        known = [seconds for seconds in probed if seconds is not None]
        mean = sum(known) / len(known) if known else own
        unprobed = len(ahead) - len(known)
        work += sum(model.seconds(seconds) for seconds in known)
        work += unprobed * model.seconds(mean)
        queued = work / max(parallel, 1) + model.seconds(own)
        if not_before is None:
            return queued
        wait = (not_before - (now or datetime.now(not_before.tzinfo))).total_seconds()
        return max(queued, wait + model.seconds(own))

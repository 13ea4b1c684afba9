"""Prometheus metrics of the controller, served at ``/metrics``.

Counters and histograms are fed by the core's events (:mod:`..core.events`); the number
of files in each state is read from the core's index when scraped (and ``manual/`` from
the volume), so it is never out of date.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from kubescribe_protocol.names import MANUAL_DIR

from ..core.scan import scan
from .facade import Facade


class FileStates(Collector):
    """``kubescribe_files{state}``, computed at scrape time."""

    def __init__(self, facade: Facade) -> None:
        self.facade = facade

    def collect(self) -> Iterator[GaugeMetricFamily]:
        numbers = {"pending": 0, "processing": 0, "error": 0, "completed": 0, "manual": 0}
        for file in self.facade.view().files.values():
            numbers[file.state] += 1
        numbers["manual"] = _count_media(self.facade.root / MANUAL_DIR)
        family = GaugeMetricFamily("kubescribe_files", "Files under the root, by state",
                                   labels=["state"])  # fmt: skip
        for state, number in numbers.items():
            family.add_metric([state], number)
        yield family


def _count_media(folder: Path) -> int:
    return len(scan(folder, skip_manual=False).files) if folder.is_dir() else 0


class Metrics:
    def __init__(self, facade: Facade) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(FileStates(facade))
        self.attempts = Counter(
            "kubescribe_attempts", "Ended attempts by outcome (completed, retry, manual) and "
            "reason (the error code; none for a completion)", ["outcome", "reason"],
            registry=self.registry,
        )  # fmt: skip
        self.audio_seconds = Counter(
            "kubescribe_audio_seconds_transcribed", "Seconds of audio transcribed",
            registry=self.registry,
        )  # fmt: skip
        self.realtime_factor = Histogram(
            "kubescribe_realtime_factor", "Processing seconds per audio second, per file",
            buckets=(0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 5.0, 10.0, 20.0),
            registry=self.registry,
        )  # fmt: skip
        self.realtime_factor_estimate = Gauge(
            "kubescribe_realtime_factor_estimate",
            "Mean realtime factor of the last results (what ETAs use)",
            registry=self.registry,
        )
        self.queue_wait = Histogram(
            "kubescribe_queue_wait_seconds", "Seconds from queued to the first attempt's start",
            buckets=(1, 5, 15, 30, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 86400),
            registry=self.registry,
        )  # fmt: skip
        self.scan_duration = Histogram(
            "kubescribe_scan_duration_seconds", "Seconds one scan of the root took",
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=self.registry,
        )  # fmt: skip
        self.callbacks = Counter(
            "kubescribe_callbacks", "Callback deliveries by outcome", ["outcome"],
            registry=self.registry,
        )  # fmt: skip

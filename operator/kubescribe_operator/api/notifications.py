"""The API's notifications: what it makes of the core's events, off the core's thread.

The core calls :meth:`Notifier.observe` inside its lock; it only enqueues. A thread
then updates the metrics and the realtime factor, and hands callbacks to the sender.
(The core's events are :mod:`..core.events`; the Kubernetes Events about Jobs are the
operator's, :meth:`..k8s.executor.KubernetesExecutor.announce_outcomes`.)
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from kubescribe_protocol.atomic import StatusFileError, read_model
from kubescribe_protocol.models import InProgress, Result, utc_now
from kubescribe_protocol.names import in_progress_path, result_path

from ..core.events import CoreEvent, EventKind
from ..volume.file_actions import transcription_id
from .callbacks import CallbackSender, Delivery
from .facade import Facade
from .metrics import Metrics

log = logging.getLogger("kubescribe.api")


class Notifier:
    def __init__(self, facade: Facade, metrics: Metrics, sender: CallbackSender) -> None:
        self.facade = facade
        self.metrics = metrics
        self.sender = sender
        self._queue: queue.Queue[CoreEvent | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, daemon=True, name="kubescribe-events")
        self._thread.start()

    def observe(self, event: CoreEvent) -> None:
        self._queue.put(event)

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while (event := self._queue.get()) is not None:
            try:
                self._handle(event)
            except Exception:  # one bad event must not end the metrics
                log.exception("handling %s failed", event)

    def _handle(self, event: CoreEvent) -> None:
        metrics = self.metrics
        if event.kind is EventKind.SCANNED:
            metrics.scan_duration.observe(event.seconds)
        elif event.kind is EventKind.STARTED:
            if event.attempt == 1:
                metrics.queue_wait.observe(event.seconds)
        elif event.kind is EventKind.RETRY:
            metrics.attempts.labels("retry", event.code or "unknown").inc()
        elif event.kind is EventKind.COMPLETED:
            metrics.attempts.labels("completed", "none").inc()
            result = self._read(result_path(self.facade.root / event.rel), Result)
            if result is not None:
                if result.duration_seconds:
                    metrics.audio_seconds.inc(result.duration_seconds)
                factor = self.facade.eta.observe(result)
                if factor is not None:
                    metrics.realtime_factor.observe(factor)
                    metrics.realtime_factor_estimate.set(self.facade.eta.realtime_factor or 0)
            self._callback(event, None, result)
        elif event.kind is EventKind.MANUAL:
            metrics.attempts.labels("manual", event.code or "unknown").inc()
            where = self.facade.root / (event.manual_path or event.rel)
            status = self._read(in_progress_path(where), InProgress)
            self._callback(event, status, None)

    @staticmethod
    def _read(path: Any, model: Any) -> Any:
        try:
            return read_model(path, model)
        except StatusFileError as exc:
            log.warning("cannot read %s: %s", path, exc)
            return None

    def _callback(self, event: CoreEvent, status: InProgress | None, result: Result | None) -> None:
        urls = self.facade.take_callbacks(event.rel, status)
        if not urls:
            return
        file_id = transcription_id(event.rel)
        completed = event.kind is EventKind.COMPLETED
        summary: dict[str, Any] = {
            "event": "transcription.completed" if completed else "transcription.manual",
            "id": file_id,
            "path": event.rel,
            "state": "completed" if completed else "manual",
            "attempt": event.attempt,
            "manual_path": event.manual_path,
            "error": status.error.model_dump(mode="json") if status and status.error else None,
            "result_url": f"/v1/transcriptions/{file_id}/result" if completed else None,
            "timestamp": utc_now().isoformat(),
        }
        if result is not None:
            summary |= {
                "duration_seconds": result.duration_seconds,
                "processing_time_seconds": result.processing_time_seconds,
                "language": result.metadata.language_detected,
                "text": result.transcription.text,
            }
        for url in urls:
            self.sender.enqueue(Delivery(url, summary["event"], summary))

"""The API's one door into the controller core: thread-safe, synchronous, small.

The core is synchronous and takes one caller at a time. Whoever drives it (``kubescribe
run``'s loop, the operator's kopf handlers) owns a lock and passes it here; every call
into the core below holds it. Reads of the volume alone (a state, a result) need no lock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubescribe_protocol.additions import add_callback_url, callback_urls
from kubescribe_protocol.atomic import StatusFileError, read_model, write_model
from kubescribe_protocol.models import FileStatus, InProgress, Priority, Result
from kubescribe_protocol.names import in_progress_path, result_path
from kubescribe_protocol.state import FileState

from ..core.controller import Controller
from ..core.outcome import next_attempt_at
from ..core.scan import scan
from ..core.view import ControllerView
from ..volume.eta import EtaEstimator
from ..volume.file_actions import ActionError, Located, locate, retry_from_manual
from .callback_targets import has_secrets, is_redacted, redact
from .settings import ApiSettings

log = logging.getLogger("kubescribe.api")

#: How old a queue snapshot may be when a status request reads a position from it.
QUEUE_CACHE_SECONDS = 1.0


@dataclass
class QueueView:
    """A snapshot of the queue: running files, then waiting ones in start order."""

    running: list[str]
    waiting: list[str]
    parallel: int
    #: The priority of each file in it.
    priorities: dict[str, Priority] = field(default_factory=dict)


class Facade:
    def __init__(
        self,
        controller: Controller,
        lock: threading.Lock | threading.RLock,
        settings: ApiSettings,
        *,
        ready: Callable[[], bool] = lambda: True,
    ) -> None:
        self.controller = controller
        self.lock = lock
        self.root = Path(controller.root)
        self.settings = settings
        self.ready = ready
        self.eta = EtaEstimator(self.root)
        #: Callback URLs by file, for files whose ``.in_progress`` cannot hold them (a
        #: running attempt's file is its worker's to write) and after ``.in_progress`` is
        #: gone (a completed file).
        self._callbacks: dict[str, list[str]] = {}
        self._callbacks_lock = threading.Lock()
        self._queue_cache: tuple[float, QueueView] | None = None

    # ----------------------------------------------------------------- requests

    def _leading(self) -> None:
        """A standby operator (or one still recovering) must not write: 503."""
        if not self.ready():
            raise ActionError(503, "not_ready", "the controller is starting or is a standby")

    def submit(
        self,
        rel: str,
        client_id: str,
        *,
        overrides: dict[str, Any],
        callback_url: str | None,
    ) -> Located:
        """An API request for the file at ``rel``: priority ``api_request``, the client in
        ``api_clients``, settings overridden while no attempt runs. Queued files are
        promoted; a completed file is answered at once."""
        self._leading()
        with self.lock:
            # Known to queue() and to the next tick at once, whatever the scan interval.
            self.controller.notice(rel)
            try:
                self.controller.request(rel, client_id)
            except FileNotFoundError as exc:
                raise ActionError(404, "not_found", f"no file {rel} under the root") from exc
            if callback_url is not None:
                self._remember_callback(rel, callback_url)
            if rel not in self.controller.running and (overrides or callback_url):
                self._amend(rel, overrides, callback_url)
            self._queue_cache = None
        return locate(self.root, rel)

    def _amend(self, rel: str, overrides: dict[str, Any], callback_url: str | None) -> None:
        path = in_progress_path(self.root / rel)
        status = read_model(path, InProgress)
        if status is None or status.status is FileStatus.PROCESSING:
            return
        if overrides:
            merged = status.settings.model_dump() | overrides
            status.settings = type(status.settings).model_validate(merged)
        if callback_url is not None:
            # The volume is shared: a URL's user, password and query stay in this
            # process (self._callbacks); the file keeps only the redacted form.
            add_callback_url(status, redact(callback_url) if has_secrets(callback_url)
                             else callback_url)  # fmt: skip
        write_model(path, status)

    def cancel(self, rel: str) -> Located:
        self._leading()
        with self.lock:
            found = locate(self.root, rel)
            if found.state in (FileState.COMPLETED, FileState.MANUAL):
                raise ActionError(409, "not_cancellable", f"{rel} is {found.state.value}")
            self.controller.cancel(rel)
            self._queue_cache = None
        return locate(self.root, rel)

    def retry(self, rel: str, client_id: str) -> Located:
        self._leading()
        with self.lock:
            retry_from_manual(self.root, rel, client_id)
            self.controller.notice(rel)
            self._queue_cache = None
        return locate(self.root, rel)

    # ------------------------------------------------------------------- reads

    def queue(self) -> QueueView:
        """The queue, at most :data:`QUEUE_CACHE_SECONDS` old (sorting a backlog of
        thousands under the core's lock for every status request would hold up the core);
        this API's own requests, cancels and retries refresh it at once."""
        cached = self._queue_cache
        if cached is not None and time.monotonic() - cached[0] < QUEUE_CACHE_SECONDS:
            return cached[1]
        with self.lock:
            running = sorted(self.controller.running)
            waiting = self.controller.queue()
            known = self.controller.view([*running, *waiting])
        priorities = {rel: file.priority for rel, file in known.files.items()}
        view = QueueView(running, waiting, self.settings.parallel, priorities)
        self._queue_cache = (time.monotonic(), view)
        return view

    def view(self) -> ControllerView:
        """What the controller knows now (a copy, taken under the lock)."""
        with self.lock:
            return self.controller.view()

    def holding_still_seconds(self, rel: str) -> float | None:
        """Seconds the file's audio must still hold still before it may start, if it is
        still changing (being written); None when it does not wait for that."""
        with self.lock:
            return self.controller.still_changing().get(rel)

    def position(self, rel: str, view: QueueView | None = None) -> int | None:
        """1-based place among waiting files; None when the file does not wait."""
        view = view or self.queue()
        try:
            return view.waiting.index(rel) + 1
        except ValueError:
            return None

    def eta_seconds(self, found: Located, view: QueueView) -> float | None:
        """Seconds until the file's result is expected, from the measured start-up and rate,
        and no sooner than its next attempt may start."""
        if found.state not in (FileState.PENDING, FileState.PROCESSING, FileState.ERROR):
            return None
        ahead = []
        if found.rel not in view.running:
            position = self.position(found.rel, view)
            ahead = view.waiting[: (position - 1) if position else len(view.waiting)]
        running = {}
        for rel in view.running:
            status = self._status_of(rel)
            done = status.progress.percentage if status and status.progress else 0
            running[rel] = done
        not_before = None
        if found.state is FileState.ERROR:
            own = self._status_of(found.rel)
            not_before = next_attempt_at(own.error) if own and own.error else None
        return self.eta.eta(found.rel, running=running, ahead=ahead, parallel=view.parallel,
                            not_before=not_before)  # fmt: skip

    def _status_of(self, rel: str) -> InProgress | None:
        try:
            return read_model(in_progress_path(self.root / rel), InProgress)
        except StatusFileError:
            return None

    def result(self, rel: str) -> Result | None:
        try:
            return read_model(result_path(self.root / rel), Result)
        except StatusFileError:
            return None

    # ---------------------------------------------------------------- callbacks

    def _remember_callback(self, rel: str, url: str) -> None:
        with self._callbacks_lock:
            urls = self._callbacks.setdefault(rel, [])
            if url not in urls:
                urls.append(url)

    def take_callbacks(self, rel: str, status: InProgress | None) -> list[str]:
        """The callback URLs of a file that reached an end (each is used once)."""
        with self._callbacks_lock:
            urls = self._callbacks.pop(rel, [])
        for url in callback_urls(status):
            if url not in urls and not self._known_redacted(url, urls):
                urls.append(url)
        return urls

    @staticmethod
    def _known_redacted(url: str, urls: list[str]) -> bool:
        """A redacted URL from the volume: the real one is in ``urls`` when this
        process took the request; after a restart it is gone (logged)."""
        if not is_redacted(url):
            return False
        if not any(redact(known) == url for known in urls):
            log.warning("the callback to %s is not sent: its secrets are not kept across "
                        "restarts", url)  # fmt: skip
        return True

    def load_callbacks(self) -> None:
        """Before the controller's first tick (after a restart): the callback URLs that
        open files carry on the volume. Read from the volume, not the core, whose
        recovery may complete files before anyone could ask it."""
        for seen in scan(self.root).files:
            if seen.in_progress_mtime_ns is None or seen.has_result:
                continue
            for url in callback_urls(self._status_of(seen.rel)):
                if not is_redacted(url):
                    self._remember_callback(seen.rel, url)

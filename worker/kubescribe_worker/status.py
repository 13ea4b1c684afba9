"""The worker's side of ``.in_progress``: fenced writes, progress and heartbeat.

Every write re-reads the file and checks the fence first: the file's current attempt
must still be ours and ``should_continue`` still true. Otherwise a newer attempt (or a
cancel) owns the file, and the worker must write nothing more: :class:`Superseded`.
A reader never sees half a file (atomic writes) and the file is written at most about
once a second, with a heartbeat at least every :data:`HEARTBEAT_SECONDS`.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

from kubescribe_protocol.atomic import read_model, remove_durably, write_model
from kubescribe_protocol.codes import ErrorCode
from kubescribe_protocol.models import (
    Attempt,
    AttemptStatus,
    FileStatus,
    InProgress,
    Progress,
    Stage,
    StatusError,
    utc_now,
)
from kubescribe_protocol.names import in_progress_path

from .errors import Superseded, retry_after_for

log = logging.getLogger(__name__)

#: Seconds between heartbeats when nothing else is written (the protocol asks for <= 15).
HEARTBEAT_SECONDS = 5.0
#: Least seconds between two progress writes within one stage.
MIN_WRITE_SECONDS = 1.0

_STAGE_ORDER = {stage: index for index, stage in enumerate(Stage)}

Mutation = Callable[[InProgress, Attempt], None]

#: The executor name of local mode (``LocalExecutor.name``), whose runner is this process.
LOCAL_EXECUTOR = "local"


def local_runner() -> str:
    """``PID@HOST`` of this worker: local mode's runner handle. The controller cannot write
    it (the pid exists only once the process does, and from then on only the worker
    writes), so the worker names itself in its first write."""
    return f"{os.getpid()}@{socket.gethostname()}"


class FencedStatus:
    """``.in_progress`` of one file as seen by the worker of attempt ``attempt``."""

    def __init__(self, audio: Path, attempt: int) -> None:
        self.path = in_progress_path(audio)
        self.attempt = attempt
        self._lock = threading.Lock()
        self._closed = False
        self._superseded = False
        self._last_write = 0.0  # time.monotonic() of the last write
        self._stage = Stage.LOADING_MODEL
        self._percentage = 0
        self._written: tuple[Stage, int] | None = None

    # -- the fence ---------------------------------------------------------------------
    def read_fenced(self) -> InProgress:
        """The file, if this attempt still owns it; else :class:`Superseded`."""
        status = read_model(self.path, InProgress)
        if status is None:
            raise Superseded(f"{self.path} is gone")
        if status.attempt != self.attempt:
            raise Superseded(f"current attempt is {status.attempt}, not {self.attempt}")
        if not status.should_continue:
            raise Superseded("should_continue is false")
        return status

    @property
    def superseded(self) -> bool:
        return self._superseded

    def _write(self, mutate: Mutation) -> None:
        # Callers hold self._lock.
        if self._closed:
            return
        if self._superseded:
            raise Superseded("an earlier check found this attempt superseded")
        try:
            status = self.read_fenced()
        except Superseded:
            self._superseded = True
            raise
        record = status.current()
        if record is None:  # the controller always writes one; be tolerant all the same
            record = Attempt(attempt_number=self.attempt, start_time=status.start_time)
            status.attempts.append(record)
        if record.runner is None and record.executor == LOCAL_EXECUTOR:
            record.runner = local_runner()
        now = utc_now()
        mutate(status, record)
        record.heartbeat = now
        status.updated_at = now
        write_model(self.path, status)
        self._last_write = time.monotonic()

    # -- progress and heartbeat ----------------------------------------------------------
    def progress(self, stage: Stage, percentage: int, *, force: bool = False) -> None:
        """Record progress; written now on a new stage (or ``force``), else at most once
        a second (:meth:`beat` writes what is left). Never goes back."""
        with self._lock:
            if self._superseded:
                raise Superseded("found superseded by the heartbeat")
            if _STAGE_ORDER[stage] > _STAGE_ORDER[self._stage]:
                self._stage = stage
            self._percentage = max(self._percentage, min(100, max(0, percentage)))
            new_stage = self._written is None or self._written[0] != self._stage
            due = time.monotonic() - self._last_write >= MIN_WRITE_SECONDS
            if (self._stage, self._percentage) != self._written and (force or new_stage or due):
                self._write_progress()

    def _write_progress(self) -> None:
        current = Progress(stage=self._stage, percentage=self._percentage)

        def mutate(status: InProgress, record: Attempt) -> None:
            status.progress = current.model_copy()
            record.progress_info = current.model_copy()

        self._write(mutate)
        self._written = (self._stage, self._percentage)

    def beat(self) -> None:
        """Write pending progress when a second has passed, or a bare heartbeat when
        nothing was written for :data:`HEARTBEAT_SECONDS`."""
        with self._lock:
            since = time.monotonic() - self._last_write
            pending = (self._stage, self._percentage) != self._written
            if pending and since >= MIN_WRITE_SECONDS:
                self._write_progress()
            elif since >= HEARTBEAT_SECONDS:
                self._write(lambda status, record: None)

    # -- the end -------------------------------------------------------------------------
    def fail(self, code: ErrorCode, message: str, details: str | None, exit_code: int) -> None:
        """Record this attempt's failure (raises :class:`Superseded` if it is not ours)."""
        now = utc_now()
        error = StatusError(
            code=code.value,
            message=message,
            details=details,
            timestamp=now,
            retry_after=retry_after_for(code),
        )

        def mutate(status: InProgress, record: Attempt) -> None:
            status.status = FileStatus.ERROR
            status.error = error
            record.error = error.model_copy()
            record.status = AttemptStatus.FAILED
            record.end_time = now
            record.exit_code = exit_code

        with self._lock:
            self._write(mutate)
            self._closed = True

    def finish(self, publish: Callable[[], None]) -> None:
        """Run ``publish`` (which writes ``.result``) and remove ``.in_progress``, if this
        attempt still owns the file; nothing else writes once it starts."""
        with self._lock:
            if self._superseded:
                raise Superseded("found superseded by the heartbeat")
            self.read_fenced()
            self._closed = True
            publish()
            remove_durably(self.path)


class Heartbeat:
    """A small thread that calls :meth:`FencedStatus.beat` every second."""

    def __init__(self, status: FencedStatus, period: float = MIN_WRITE_SECONDS) -> None:
        self._status = status
        self._period = period
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._period):
            try:
                self._status.beat()
            except Superseded as exc:
                log.warning("attempt superseded: %s; writing nothing more", exc)
                return
            except Exception:  # a passing I/O error must not end the heartbeat
                log.exception("heartbeat write failed")

"""The controller core: what to run, when, how often, and what a failure means.

Plain, synchronous Python with no Kubernetes in it: the local runner and the kopf
operator both drive it by calling :meth:`Controller.tick` (and
:meth:`Controller.on_attempt_end` when their executor reports an end), one thread at a
time. All state that must survive a restart lives in the status files on the volume;
the in-memory index is a cache that :meth:`Controller.recover` rebuilds.

Who writes ``.in_progress``: the controller when it claims, queues or starts a file
(before the worker exists) and after an attempt ended; the worker while its attempt
runs. The controller never writes a file whose attempt is running.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path, PurePosixPath

from kubescribe_protocol.additions import manual_path
from kubescribe_protocol.atomic import StatusFileError, read_model, remove_durably, write_model
from kubescribe_protocol.codes import ErrorCode, ExitCode
from kubescribe_protocol.fingerprint import fingerprint, still_the_same
from kubescribe_protocol.manual import (
    ManualPathError,
    check_manual_target,
    finish_manual_move,
    move_to_manual,
)
from kubescribe_protocol.models import (
    Attempt,
    AttemptStatus,
    FileStatus,
    InProgress,
    Priority,
    Progress,
    StatusError,
    utc_now,
)
from kubescribe_protocol.names import in_progress_path, result_path

from .cancel import write_cancel
from .changed_audio import keep_result_as_history, result_matches, start_again
from .deadline import attempt_deadline
from .events import CoreEvent, EventKind, Observer
from .executor import AttemptEnd, AttemptKey, AttemptSpec, EndReason, Executor
from .index import Entry
from .outcome import (
    CANCELLED_MESSAGE,
    Step,
    controller_error,
    decide,
    next_attempt_at,
    worker_error,
)
from .queue_order import QueueKey, queue_key
from .readable import format_clock
from .scan import Seen, scan
from .settings import CoreSettings
from .view import ControllerView, FileView
from .volume_faults import VolumeFaults
from .watchdog import Running, past_deadline, stop_for

log = logging.getLogger("kubescribe.core")

#: A runner missing from ``executor.live()`` this soon after its start may just not be
#: visible yet (a Job watch lags behind the create); later, it is gone.
VANISH_GRACE = timedelta(seconds=30)
#: How often the open files are swept (stale, cancelled, ready to start) when nothing
#: changed; any change (a scan, an ended attempt, a write) sweeps at the next tick.
SWEEP_INTERVAL = timedelta(seconds=1)
#: An atomic write takes milliseconds; a temporary file this old belongs to a writer that
#: was killed mid-write, and nothing will ever rename it.
ABANDONED_TEMP_SECONDS = 60.0
#: How often a scan also looks at completed files' audio (a stat each), for audio that
#: changed after its result was written: a cost bounded on a large root.
COMPLETED_CHECK_INTERVAL = timedelta(seconds=60)
#: An API request is a person's word that the file is ready, but a file still being
#: written must not start: it starts once it held still this long (or stable_seconds,
#: when shorter).
REQUEST_STABLE_SECONDS = 5.0
#: The subject of a volume fault listing the root (folders are ``a/b/``, files ``a/b.mp3``).
ROOT_SUBJECT = "./"
#: The subject of a volume fault no guard of a file or folder caught (a whole tick, or
#: recover()): tried again at the next tick.
TICK_SUBJECT = "(tick)"


@dataclass
class Counters:
    """What the controller did, for logs and tests."""

    started: int = 0
    completed: int = 0
    retried: int = 0
    manual: int = 0
    scans: int = 0
    start_order: list[str] = field(default_factory=list)


class Controller:
    def __init__(
        self,
        settings: CoreSettings,
        executor: Executor,
        *,
        clock: Callable[[], datetime] = utc_now,
        vanished_code: ErrorCode = ErrorCode.WORKER_DIED,
    ) -> None:
        self.settings = settings
        self.executor = executor
        self.clock = clock
        #: The error of an attempt whose runner is gone with nothing said of how it ended:
        #: the executor's wiring knows what that means (a Job gone is ``job_vanished``).
        self.vanished_code = vanished_code
        self.root = Path(settings.root)
        #: What it knows of each media file under the root (a cache of the volume);
        #: readers see a copy, through :meth:`view`.
        self._index: dict[str, Entry] = {}
        #: The entries that are not completed: what each tick looks at, so that a root
        #: full of finished files costs nothing between scans.
        self._open: dict[str, Entry] = {}
        self._running: dict[str, Running] = {}
        self.counters = Counters()
        #: API clients that asked for a file while its attempt ran (only its worker may
        #: write then); applied when the attempt ends.
        self._deferred_requests: dict[str, list[str | None]] = {}
        self._recovered = False
        self._last_scan: datetime | None = None
        #: A sweep over the open files costs time on a root with a large backlog: it runs
        #: when something changed (``_dirty``), else once per SWEEP_INTERVAL.
        self._dirty = True
        self._last_sweep: datetime | None = None
        #: Error files judged retryable, by the mtime of the .in_progress judged.
        self._judged: dict[str, int | None] = {}
        #: When completed files' audio was last looked at (COMPLETED_CHECK_INTERVAL).
        self._last_completed_check: datetime | None = None
        #: Queued or failed files whose audio has not held still yet: seconds to go.
        self._unsettled: dict[str, float] = {}
        #: When False, tick() starts nothing new (a graceful shutdown is under way).
        self.accepting = True
        #: Told of scans, starts, completions, retries and moves to manual/ (the API).
        self.observers: list[Observer] = []
        #: What failed on the volume (OSError), by file or folder, and when to try again.
        self.faults = VolumeFaults()
        #: Ended attempts whose end could not be written yet (a volume fault): recorded
        #: again once the file's backoff is over.
        self._unreconciled: dict[str, tuple[AttemptEnd, ErrorCode | None]] = {}
        #: The folders and files the last scan could not look at (fault subjects).
        self._unlisted: set[str] = set()

    # ----------------------------------------------------------------- public API

    def recover(self) -> None:
        """Rebuild state from the volume and the executor: finish half-done manual moves,
        reconcile attempts that ended while nobody watched, adopt live ones, and re-queue
        processing files whose runner vanished. A volume fault no single file caught
        leaves it to be done again at a later tick, after a backoff."""
        try:
            self._recover()
        except OSError as exc:
            self.faults.report(TICK_SUBJECT, exc, self.clock(), "recovering")
            return
        self.faults.clear(TICK_SUBJECT)

    def _recover(self) -> None:
        now = self.clock()
        live = self.executor.live()
        ended = self.executor.collect()
        self._scan(now)
        for end in ended:
            self.on_attempt_end(end)
        ended_keys = {end.key for end in ended}
        for entry in list(self._open.values()):
            status = entry.status
            if status is None or status.status is not FileStatus.PROCESSING:
                continue
            key = AttemptKey(entry.rel, status.attempt)
            run = self._running.get(entry.rel)
            if key in ended_keys or (run is not None and run.key == key):
                continue  # reported just now, or already watched (a second recover())
            record = status.current()
            if key in live:
                deadline = (record.deadline if record else None) or self._deadline(now, entry.rel)
                started = record.start_time if record else now
                self._running[entry.rel] = Running(key, started, deadline, handle="adopted")
                log.info("adopted live attempt %s #%d", entry.rel, key.attempt)
            elif self._age(status, now) > timedelta(hours=self.settings.stale_hours):
                self._to_manual_stale(entry, status, now)
            else:
                # The runner went away with the previous controller (a crash, a kill -9):
                # not the file's fault, so the attempt is recorded as interrupted.
                end = AttemptEnd(key, EndReason.VANISHED, detail="runner gone at restart")
                self._reconcile(end, ErrorCode.INTERRUPTED)
        self._recovered = True

    def tick(self) -> None:
        """One pass: scan if due, collect ended attempts, enforce deadlines and heartbeats,
        clean up stale and cancelled files, and start attempts up to ``parallel``. A
        volume fault (OSError) stops only what it is about (:mod:`.volume_faults`)."""
        if not self._recovered:
            self.recover()
            if not self._recovered:
                return
        try:
            self._tick()
        except OSError as exc:  # none of the per-file guards caught it
            self.faults.report(TICK_SUBJECT, exc, self.clock(), "a tick")
            return
        self.faults.clear(TICK_SUBJECT)

    def _tick(self) -> None:
        now = self.clock()
        if self._last_scan is None or (now - self._last_scan).total_seconds() >= (
            self.settings.scan_interval_seconds
        ):
            self._scan(now)
        live = self.executor.live()
        ended = self.executor.collect()
        for end in ended:
            self.on_attempt_end(end)
        ended_keys = {end.key for end in ended}
        for run in list(self._running.values()):
            gone = run.key not in live and run.key not in ended_keys
            if gone and now - run.started > VANISH_GRACE:
                self.on_attempt_end(AttemptEnd(run.key, EndReason.VANISHED))
        for rel, (end, stop_code) in list(self._unreconciled.items()):
            if not self.faults.blocked(rel, now):
                self._reconcile(end, stop_code)
        self._watch_running(now)
        if self._dirty or self._last_sweep is None or now - self._last_sweep >= SWEEP_INTERVAL:
            self._dirty = False
            self._last_sweep = now
            self._clean_up(now)
            if self.accepting:
                self._start_ready(now)

    def on_attempt_end(self, end: AttemptEnd) -> None:
        """Record an attempt's end and decide the file's next step."""
        self._dirty = True
        run = self._running.get(end.key.path)
        stop_code = None
        if run is not None and run.key == end.key:
            del self._running[end.key.path]
            stop_code = run.stop_code
        self._reconcile(end, stop_code)

    def all_terminal(self) -> bool:
        """Every file found is completed or in ``manual/`` and nothing runs (``--once``)."""
        return self._recovered and not self._running and not self._open

    def request(self, rel: str, client_id: str | None = None) -> None:
        """Raise a file's priority for an API client; persisted as a queued
        ``.in_progress`` so the priority and the client survive a restart."""
        audio = self.root / rel
        if not audio.is_file():
            raise FileNotFoundError(audio)
        if result_path(audio).is_file():
            return
        if rel in self._running:
            self._deferred_requests.setdefault(rel, []).append(client_id)
            return
        now = self.clock()
        status = read_model(in_progress_path(audio), InProgress) or self._new_status(rel, now)
        self._apply_request(status, [client_id])
        status.updated_at = now
        self._write(rel, status)

    def notice(self, rel: str) -> None:
        """Know the file at ``rel`` now (an upload, a request for a file the scan has not
        reached), without waiting for the next scan of the whole root."""
        if rel in self._index or not (self.root / rel).is_file():
            return
        entry = self._index[rel] = Entry(rel, discovered=self.clock())
        entry.has_result = result_path(self.root / rel).is_file()
        if not entry.has_result:
            self._refresh(entry)
            self._open[rel] = entry
        self._dirty = True

    def cancel(self, rel: str) -> bool:
        """Set ``should_continue`` to false: a queued or failed file goes to ``manual/``
        on the next tick, a running attempt is stopped and then goes there. The flag is the
        one field written while a worker runs (the worker's fence reads it); the stop does
        not wait for the worker to notice. False when nothing under the root is open."""
        audio = self.root / rel
        if not audio.is_file() or result_path(audio).is_file():
            return False
        now = self.clock()
        target = in_progress_path(audio)
        status = write_cancel(target, lambda: self._new_status(rel, now), now)
        self._written(rel, status, target)
        run = self._running.get(rel)
        if run is not None and run.stop_code is None:
            run.stop_code = ErrorCode.CANCELLED
            self.executor.stop(run.key, EndReason.STOPPED)
        return True

    # ------------------------------------------------------------------ reads
    # Like every call into the core, under the lock of whoever drives it.

    @property
    def running(self) -> frozenset[str]:
        """The files whose attempt runs now."""
        return frozenset(self._running)

    def view(self, only: Iterable[str] | None = None) -> ControllerView:
        """A copy of what the controller knows (:mod:`.view`), to read after the lock is
        released: of every file, or ``only`` of these (cheap on a root with a large
        backlog; a path it does not know is left out)."""
        if only is None:
            rels = list(self._index)
            rels += [rel for rel in self._running if rel not in self._index]
        else:
            rels = [rel for rel in only if rel in self._index or rel in self._running]
        files: dict[str, FileView] = {}
        for rel in rels:
            entry = self._index.get(rel)
            run = self._running.get(rel)
            files[rel] = FileView(
                rel=rel,
                completed=entry.has_result if entry is not None else False,
                status=entry.status if entry is not None else None,
                unreadable=entry.unreadable if entry is not None else False,
                running_attempt=run.key.attempt if run is not None else None,
            )
        return ControllerView(files, volume_faults=self.faults.current())

    def queue(self) -> list[str]:
        """Files that wait for an attempt, in the order they will start (running files and
        cancelled ones are not in it)."""
        waiting = [
            entry
            for entry in self._open.values()
            if entry.rel not in self._running
            and not entry.has_result
            and (entry.status is None or entry.status.should_continue)
            and (entry.status is None or entry.status.status is not FileStatus.PROCESSING)
        ]
        waiting.sort(key=self._order)
        return [entry.rel for entry in waiting]

    def still_changing(self) -> dict[str, float]:
        """Files with no status file yet that have not held still for ``stable_seconds``
        (perhaps still being copied): by relative path, the seconds until they may start."""
        now = self.clock()
        waiting: dict[str, float] = {}
        for entry in self._open.values():
            if entry.status is not None or entry.in_progress_mtime_ns is not None:
                continue
            if entry.has_result or entry.rel in self._running or entry.stable_since is None:
                continue
            held = (now - entry.stable_since).total_seconds()
            if held < self.settings.stable_seconds:
                waiting[entry.rel] = self.settings.stable_seconds - held
        for rel, left in self._unsettled.items():
            if rel in self._open and rel not in self._running:
                waiting[rel] = left
        return waiting

    def _emit(self, event: CoreEvent) -> None:
        for observer in self.observers:
            try:
                observer(event)
            except Exception:  # an observer's bug must not stop the queue
                log.exception("observer failed on %s", event)

    def rescan(self) -> None:
        """Scan now, whatever the interval (benchmarks, tests), completed files too."""
        self._last_completed_check = None
        self._scan(self.clock())

    def stop_all(self, code: ErrorCode = ErrorCode.INTERRUPTED) -> None:
        """Ask every running attempt to stop (a graceful shutdown); ends come via collect."""
        self.accepting = False
        for run in self._running.values():
            if run.stop_code is None:
                run.stop_code = code
                self.executor.stop(run.key, EndReason.STOPPED)

    # ------------------------------------------------------------------- scanning

    def _scan(self, now: datetime) -> None:
        began = time.monotonic()
        check_completed = (
            self._last_completed_check is None
            or now - self._last_completed_check >= COMPLETED_CHECK_INTERVAL
        )
        if check_completed:
            self._last_completed_check = now
        result = scan(self.root, stat_completed=check_completed)
        present: set[str] = set()
        for seen in result.files:
            present.add(seen.rel)
            if self.faults.blocked(seen.rel, now):
                continue
            try:
                self._take(seen, now)
            except OSError as exc:
                self.faults.report(seen.rel, exc, now, "reading its status")
        _remove_abandoned(result.temporary)
        for rel in result.orphan_in_progress:
            if self.faults.blocked(rel, now):
                continue
            try:
                status = self._read(rel)
                target = manual_path(status)
                if target is not None:
                    finish_manual_move(self.root, rel, target)
                    log.info("finished the move of %s to %s", rel, target)
            except OSError as exc:
                self.faults.report(rel, exc, now, "finishing its move to manual/")
        unlisted = {where or ROOT_SUBJECT: problem for where, problem in result.unlisted.items()}
        for subject, problem in unlisted.items():
            self.faults.report(subject, problem, now, "listing it")
        for subject in self._unlisted - unlisted.keys():
            self.faults.clear(subject)
        self._unlisted = set(unlisted)
        unknown = tuple(result.unlisted)  # not listed this time: not gone either
        for rel in [rel for rel in self._index if rel not in present and rel not in self._running]:
            if not rel.startswith(unknown):
                del self._index[rel]
        self._open = {rel: entry for rel, entry in self._index.items() if not entry.has_result}
        self._judged = {rel: mtime for rel, mtime in self._judged.items() if rel in self._open}
        self._last_scan = now
        self.counters.scans += 1
        self._dirty = True
        self._emit(CoreEvent(EventKind.SCANNED, seconds=time.monotonic() - began))

    def _take(self, seen: Seen, now: datetime) -> None:
        """Know what the scan saw of one file."""
        rel = seen.rel
        entry = self._index.get(rel)
        if entry is None:
            entry = self._index[rel] = Entry(rel, discovered=now)
        entry.has_result = seen.has_result
        if seen.has_result:
            entry.status = None
            if seen.in_progress_mtime_ns is not None and rel not in self._running:
                # A worker died between writing .result and removing .in_progress.
                remove_durably(in_progress_path(self.root / rel))
                log.info("completed %s (removed a leftover .in_progress)", rel)
            entry.in_progress_mtime_ns = None
            if seen.size is not None and rel not in self._running:
                self._check_completed(entry, seen.size, seen.mtime_ns, now)
            return
        if seen.in_progress_mtime_ns is None:
            entry.status = entry.in_progress_mtime_ns = None
            if (seen.size, seen.mtime_ns) != (entry.size, entry.mtime_ns):
                entry.size, entry.mtime_ns, entry.stable_since = seen.size, seen.mtime_ns, now
            return
        if seen.in_progress_mtime_ns != entry.in_progress_mtime_ns or entry.status is None:
            entry.in_progress_mtime_ns = seen.in_progress_mtime_ns
            entry.status = self._read(rel)
        self._finish_journaled_move(entry)

    def _read(self, rel: str) -> InProgress | None:
        try:
            status = read_model(in_progress_path(self.root / rel), InProgress)
            target = manual_path(status)
            if target is not None:
                check_manual_target(rel, target)
            return status
        except (StatusFileError, ManualPathError) as exc:
            # Our own writes are atomic, so this came from someone else; leave it for a
            # person rather than overwrite what they wrote (or follow where it points).
            log.warning("cannot read %s: %s", rel, exc)
            return None

    def _check_completed(
        self, entry: Entry, size: int, mtime_ns: int | None, now: datetime
    ) -> None:
        """A completed file whose audio changed since the scan last saw it (or, at first
        sight, since its result was written) is checked against its result's fingerprint."""
        if (size, mtime_ns) == (entry.size, entry.mtime_ns):
            return
        first_sight = entry.size is None
        entry.size, entry.mtime_ns = size, mtime_ns
        audio = self.root / entry.rel
        if first_sight:
            try:
                if (mtime_ns or 0) <= result_path(audio).stat().st_mtime_ns:
                    return  # not touched since its result: no need to read it
            except OSError:
                return
        if not result_matches(audio):
            self._result_of_other_audio(entry, now)

    def _result_of_other_audio(self, entry: Entry, now: datetime) -> None:
        """The ``.result`` was not made from the audio there now: keep it as history and
        take the file as new (it waits to hold still, as any new file)."""
        audio = self.root / entry.rel
        kept = keep_result_as_history(audio, now)
        with contextlib.suppress(FileNotFoundError):
            remove_durably(in_progress_path(audio))
        log.warning("%s is not the audio its result was made from: the result is kept as %s, "
                    "and the file is transcribed again", entry.rel, kept)  # fmt: skip
        entry.has_result, entry.status, entry.in_progress_mtime_ns = False, None, None
        entry.size = entry.mtime_ns = entry.stable_since = None
        with contextlib.suppress(OSError):  # seen now: it must hold still from here
            stat = audio.stat()
            entry.size, entry.mtime_ns, entry.stable_since = stat.st_size, stat.st_mtime_ns, now
        entry.discovered = now
        self._open[entry.rel] = entry
        self._dirty = True

    def _held_still(self, entry: Entry, status: InProgress, now: datetime) -> bool:
        """A queued or failed file starts only once its audio holds still: unchanged since
        its last attempt started, or for the window (``stable_seconds``; shorter for an
        API request) by what the controller saw or by its mtime."""
        try:
            stat = (self.root / entry.rel).stat()
        except OSError:
            return False
        seen = (stat.st_size, stat.st_mtime_ns)
        last = status.attempts[-1].audio if status.attempts else None
        if last is not None and seen == (last.size, last.mtime_ns):
            self._unsettled.pop(entry.rel, None)
            return True
        if seen != (entry.size, entry.mtime_ns) or entry.stable_since is None:
            entry.size, entry.mtime_ns, entry.stable_since = stat.st_size, stat.st_mtime_ns, now
        window = self.settings.stable_seconds
        if status.priority is Priority.API_REQUEST:
            window = min(window, REQUEST_STABLE_SECONDS)
        unchanged_for = max(
            (now - entry.stable_since).total_seconds(), time.time() - stat.st_mtime_ns / 1e9
        )
        if unchanged_for >= window:
            self._unsettled.pop(entry.rel, None)
            return True
        self._unsettled[entry.rel] = window - unchanged_for
        return False

    def _finish_journaled_move(self, entry: Entry) -> None:
        target = manual_path(entry.status)
        if target is not None and entry.rel not in self._running:
            finish_manual_move(self.root, entry.rel, target)
            self._index.pop(entry.rel, None)
            self._open.pop(entry.rel, None)
            log.info("finished the move of %s to %s", entry.rel, target)

    # ------------------------------------------------------------- running attempts

    def _refresh(self, entry: Entry) -> InProgress | None:
        try:
            mtime = in_progress_path(self.root / entry.rel).stat().st_mtime_ns
        except FileNotFoundError:
            entry.status = entry.in_progress_mtime_ns = None
            return None
        if mtime != entry.in_progress_mtime_ns or entry.status is None:
            entry.in_progress_mtime_ns = mtime
            entry.status = self._read(entry.rel)
        return entry.status

    def _watch_running(self, now: datetime) -> None:
        heartbeat_timeout = timedelta(seconds=self.settings.heartbeat_timeout_seconds)
        start_timeout = timedelta(seconds=self.settings.start_timeout_seconds)
        for rel, run in self._running.items():
            if run.stop_code is not None:
                continue
            stop = past_deadline(run, now)
            if stop is None:
                entry = self._index.get(rel)
                status = self._refresh(entry) if entry is not None else None
                stop = stop_for(
                    run, status, now, heartbeat_timeout=heartbeat_timeout,
                    start_timeout=start_timeout,
                )  # fmt: skip
            if stop is None:
                continue
            if stop.code is ErrorCode.TIMEOUT:
                log.warning("%s #%d ran past its deadline: killing it", rel, run.key.attempt)
            elif stop.code is ErrorCode.HEARTBEAT_LOST:
                since = format_clock(stop.last_sign or run.started, now)
                log.warning("%s #%d sent no heartbeat since %s: killing it", rel,
                            run.key.attempt, since)  # fmt: skip
            run.stop_code = stop.code
            self.executor.stop(run.key, stop.reason)

    def _clean_up(self, now: datetime) -> None:
        for entry in list(self._open.values()):
            if entry.rel in self._unreconciled or self.faults.blocked(entry.rel, now):
                continue
            try:
                self._clean_up_one(entry, now)
            except OSError as exc:
                self._judged.pop(entry.rel, None)  # to be judged again after the backoff
                self.faults.report(entry.rel, exc, now, "moving it to manual/")

    def _clean_up_one(self, entry: Entry, now: datetime) -> None:
        stale = timedelta(hours=self.settings.stale_hours)
        status = entry.status
        if status is None or entry.rel in self._running or entry.has_result:
            return
        if status.status is FileStatus.QUEUED and status.should_continue:
            return
        if not status.should_continue:
            error = StatusError(code=ErrorCode.CANCELLED, message=CANCELLED_MESSAGE, timestamp=now)
            self._to_manual(entry, self._fresh(entry) or status, error)
        elif self._age(status, now) > stale:
            self._to_manual_stale(entry, self._fresh(entry) or status, now)
        elif (
            status.status is FileStatus.ERROR
            and status.error is not None
            and self._judged.get(entry.rel) != entry.in_progress_mtime_ns
        ):
            # An error the worker wrote while no controller watched (it crashed before
            # reconciling) has not been judged yet: a bad input must not be retried.
            self._judged[entry.rel] = entry.in_progress_mtime_ns
            decision = decide(
                status.model_copy(deep=True),
                status.error.model_copy(),
                max_attempts=self.settings.max_attempts,
                backoff_seconds=self.settings.retry_backoff_seconds,
            )
            if decision.step is Step.MANUAL and decision.final_error is not None:
                self._to_manual(entry, self._fresh(entry) or status, decision.final_error)

    def _fresh(self, entry: Entry) -> InProgress | None:
        entry.in_progress_mtime_ns = None
        return self._refresh(entry)

    def _ready(self, entry: Entry, now: datetime) -> bool:
        if entry.has_result or entry.rel in self._running or entry.rel in self._unreconciled:
            return False
        if self.faults.blocked(entry.rel, now):
            return False
        status = entry.status
        if status is None:
            if entry.in_progress_mtime_ns is not None:
                return False  # an .in_progress we cannot read: left for a person
            return (
                entry.stable_since is not None
                and (now - entry.stable_since).total_seconds() >= self.settings.stable_seconds
            )
        if not status.should_continue:
            return False
        if status.status is FileStatus.QUEUED:
            return self._held_still(entry, status, now)
        if status.status is FileStatus.ERROR:
            due = status.error is None or now >= next_attempt_at(status.error)
            return due and self._held_still(entry, status, now)
        # PROCESSING with no attempt of ours: someone else's, or left by a crash that
        # recover() did not see; the stale rule decides.
        return False

    def _order(self, entry: Entry) -> QueueKey:
        status = entry.status
        return queue_key(
            api_request=status is not None and status.priority is Priority.API_REQUEST,
            queued_since=status.start_time if status is not None else entry.discovered,
            rel=entry.rel,
            mtime_ns=entry.mtime_ns or 0,
            interrupted=status is not None
            and status.error is not None
            and status.error.code == ErrorCode.INTERRUPTED.value,
        )

    def _start_ready(self, now: datetime) -> None:
        free = self.settings.parallel - len(self._running)
        if free <= 0:
            return
        ready = [entry for entry in self._open.values() if self._ready(entry, now)]
        ready.sort(key=self._order)
        for entry in ready[:free]:
            self._start(entry, now)

    def _start(self, entry: Entry, now: datetime) -> None:
        rel = entry.rel
        audio = self.root / rel
        if result_path(audio).is_file():
            entry.has_result = True
            return
        if not audio.is_file():
            return
        try:
            status = read_model(in_progress_path(audio), InProgress)
        except StatusFileError as exc:
            log.warning("not starting %s: %s", rel, exc)
            return
        if status is None:
            status = self._new_status(rel, now)
        elif status.status is FileStatus.PROCESSING:
            entry.status = status
            return
        try:
            # Which audio this attempt transcribes: its result is accepted only for it.
            started_on = fingerprint(audio)
        except OSError as exc:
            log.warning("not starting %s: %s", rel, exc)
            return
        number = max([status.attempt, *(r.attempt_number for r in status.attempts)]) + 1
        key = AttemptKey(rel, number)
        deadline = self._deadline(now, rel)
        status.attempts.append(
            Attempt(
                attempt_number=number,
                start_time=now,
                executor=self.executor.name,
                runner=self.executor.planned_handle(key),
                deadline=deadline,
                audio=started_on,
            )
        )
        status.attempt = number
        status.status = FileStatus.PROCESSING
        status.progress = Progress()
        status.error = None
        status.updated_at = now
        # The attempt is on disk before its runner exists: a crash from here on leaves
        # a processing file that recover() reconciles.
        try:
            self._write(rel, status)
        except OSError as exc:  # nothing was written: the file waits for its backoff
            self.faults.report(rel, exc, now, "writing its status to start it")
            return
        entry.status = status
        spec = AttemptSpec(
            key=key,
            root=self.root,
            priority=status.priority,
            deadline=deadline,
            wants_gpu=status.settings.device != "cpu",
            model_dir=self.settings.model_dir,
        )
        self.counters.started += 1
        self.counters.start_order.append(rel)
        log.info("starting %s (attempt %d)", rel, number)
        try:
            handle = self.executor.start(spec)
        except Exception as exc:  # a runner that cannot start is a failed attempt
            log.exception("could not start %s #%d", rel, number)
            self._reconcile(AttemptEnd(key, EndReason.VANISHED, detail=f"start failed: {exc}"))
            return
        self._running[rel] = Running(key, now, deadline, handle=handle)
        waited = (now - status.start_time).total_seconds() if number == 1 else 0.0
        self._emit(CoreEvent(EventKind.STARTED, rel, number, seconds=max(0.0, waited)))

    def _deadline(self, now: datetime, rel: str) -> datetime:
        return attempt_deadline(
            now,
            self.root / rel,
            fixed_seconds=self.settings.attempt_deadline_seconds,
            per_audio_second=self.settings.deadline_per_audio_second,
        )

    # ------------------------------------------------------------------ outcomes

    def _reconcile(self, end: AttemptEnd, stop_code: ErrorCode | None = None) -> None:
        """Record the end (a volume fault keeps it to record again after a backoff)."""
        rel = end.key.path
        try:
            self._record_end(end, stop_code)
        except OSError as exc:
            self._unreconciled[rel] = (end, stop_code)
            self.faults.report(rel, exc, self.clock(), "recording the end of its attempt")
            return
        if self._unreconciled.pop(rel, None) is not None:
            self.faults.clear(rel)

    def _record_end(self, end: AttemptEnd, stop_code: ErrorCode | None) -> None:
        rel = end.key.path
        audio = self.root / rel
        entry = self._index.get(rel)
        now = self.clock()
        if result_path(audio).is_file() and not result_matches(audio):
            # Deleted or replaced after the worker's own check: not this audio's text.
            self._result_of_other_audio(entry or self._index_new(rel, now), now)
            if not audio.exists():
                self._forget(rel)
            return
        if result_path(audio).is_file():
            remove_durably(in_progress_path(audio))
            self.counters.completed += 1
            log.info("completed %s", rel)
            if entry is not None:
                entry.has_result, entry.status, entry.in_progress_mtime_ns = True, None, None
            self._open.pop(rel, None)
            self._emit(CoreEvent(EventKind.COMPLETED, rel, end.key.attempt))
            return
        try:
            status = read_model(in_progress_path(audio), InProgress)
        except StatusFileError as exc:
            log.warning("cannot reconcile %s: %s", rel, exc)
            return
        if status is None or status.attempt != end.key.attempt:
            return  # nothing of ours left, or a newer attempt owns the file
        if not audio.exists():
            # Deleted while it ran: nothing is left to transcribe or to keep for a person,
            # and a file saved later under this name is a new file.
            remove_durably(in_progress_path(audio))
            self._forget(rel)
            log.warning("%s was deleted during attempt %d: forgotten", rel, end.key.attempt)
            return
        record = status.current()
        if record is None:
            record = Attempt(attempt_number=end.key.attempt, start_time=now)
            status.attempts.append(record)
        error = worker_error(status)
        if error is None or end.exit_code == ExitCode.SUPERSEDED:
            error = controller_error(
                end, now, stop_code=stop_code, vanished_code=self.vanished_code
            )
        record.status = AttemptStatus.FAILED
        record.error = error
        record.continue_processing = False
        record.end_time = record.end_time or now
        if record.exit_code is None:
            record.exit_code = end.exit_code
        self._apply_request(status, self._deferred_requests.pop(rel, []))
        if stop_code is ErrorCode.CANCELLED:
            # The worker may have rewritten the file after the cancel: the cancel wins.
            status.should_continue = False
        if status.should_continue and self._audio_changed(audio, record, error):
            start_again(status, now)
            self._write(rel, status)
            if entry is not None:
                entry.size = entry.mtime_ns = entry.stable_since = None
            self._emit(CoreEvent(EventKind.RETRY, rel, end.key.attempt, code=error.code))
            log.info("%s changed during attempt %d: it starts again as a new file once it "
                     "holds still", rel, end.key.attempt)  # fmt: skip
            return
        decision = decide(
            status,
            error,
            max_attempts=self.settings.max_attempts,
            backoff_seconds=self.settings.retry_backoff_seconds,
        )
        status.status = FileStatus.ERROR
        status.updated_at = now
        if decision.step is Step.MANUAL:
            assert decision.final_error is not None
            entry = entry or Entry(rel, discovered=now)
            self._to_manual(entry, status, decision.final_error)
            return
        status.error = error
        self._write(rel, status)
        if entry is not None:
            entry.status = status
        self.counters.retried += 1
        self._emit(CoreEvent(EventKind.RETRY, rel, end.key.attempt, code=error.code))
        assert decision.not_before is not None
        log.info("%s attempt %d failed (%s); next not before %s", rel, end.key.attempt,
                 error.code, format_clock(decision.not_before, now))  # fmt: skip

    @staticmethod
    def _audio_changed(audio: Path, record: Attempt, error: StatusError) -> bool:
        """The worker said so, or the audio is not the file the attempt started on (a
        failure of other audio says nothing about this one)."""
        if error.is_code(ErrorCode.AUDIO_CHANGED):
            return True
        if record.audio is None:
            return False
        try:
            return still_the_same(audio, record.audio) is None
        except OSError:
            return False

    def _index_new(self, rel: str, now: datetime) -> Entry:
        entry = self._index[rel] = Entry(rel, discovered=now)
        return entry

    def _forget(self, rel: str) -> None:
        self._index.pop(rel, None)
        self._open.pop(rel, None)
        self._unsettled.pop(rel, None)
        self._judged.pop(rel, None)
        self._dirty = True

    def _to_manual_stale(self, entry: Entry, status: InProgress, now: datetime) -> None:
        error = StatusError(
            code=ErrorCode.STALE,
            message=f"no live attempt and no change for over {self.settings.stale_hours} h",
            details=f"last update {status.updated_at.isoformat()}",
            timestamp=now,
        )
        record = status.current()
        if record is not None and record.status is AttemptStatus.PROCESSING:
            record.status, record.end_time, record.error = AttemptStatus.FAILED, now, error
        self._to_manual(entry, status, error)

    def _to_manual(self, entry: Entry, status: InProgress, error: StatusError) -> None:
        status.status = FileStatus.ERROR
        status.error = error
        status.updated_at = error.timestamp
        self._dirty = True
        self._judged.pop(entry.rel, None)
        target = move_to_manual(self.root, entry.rel, status)
        self._index.pop(entry.rel, None)
        self._open.pop(entry.rel, None)
        self.counters.manual += 1
        log.warning("%s -> %s (%s)", entry.rel, target, error.code)
        self._emit(
            CoreEvent(EventKind.MANUAL, entry.rel, status.attempt, error.code, manual_path=target)
        )

    # ------------------------------------------------------------------- helpers

    def _new_status(self, rel: str, now: datetime) -> InProgress:
        return InProgress(
            filename=PurePosixPath(rel).name,
            path=rel,
            status=FileStatus.QUEUED,
            start_time=now,
            updated_at=now,
            settings=self.settings.defaults.model_copy(deep=True),
        )

    def _apply_request(self, status: InProgress, clients: list[str | None]) -> None:
        if not clients:
            return
        status.priority = Priority.API_REQUEST
        for client in clients:
            if client is not None and client not in status.api_clients:
                status.api_clients.append(client)

    def _write(self, rel: str, status: InProgress) -> None:
        target = in_progress_path(self.root / rel)
        write_model(target, status)
        self.faults.clear(rel)
        self._written(rel, status, target)

    def _written(self, rel: str, status: InProgress, target: Path) -> None:
        """Know what was just written to ``target`` (the file's ``.in_progress``)."""
        self._dirty = True
        entry = self._index.get(rel)
        if entry is not None:
            entry.status = status
            entry.in_progress_mtime_ns = target.stat().st_mtime_ns

    @staticmethod
    def _age(status: InProgress, now: datetime) -> timedelta:
        times = [status.updated_at, status.start_time]
        for record in status.attempts:
            times += [t for t in (record.start_time, record.end_time, record.heartbeat) if t]
        return now - max(times)


def _remove_abandoned(temporary: list[str]) -> None:
    wall_now = time.time()  # file times are wall-clock times, whatever the core's clock
    for name in temporary:
        path = Path(name)
        # Not there any more, or in a folder we may not write: left as it is.
        with contextlib.suppress(OSError):
            if wall_now - path.stat().st_mtime > ABANDONED_TEMP_SECONDS:
                path.unlink()
                log.info("removed %s, left by a writer killed mid-write", path)

"""The ``kubernetes`` executor: one Job per attempt.

The core calls :meth:`start`, :meth:`stop`, :meth:`live` and :meth:`collect` from its
thread; kopf's Job watch feeds :meth:`observe` from another. Nothing here polls: a Job's
end arrives as a watch event, and only a failed Job costs one more request (its pods,
for the termination reason). The executor translates what Kubernetes says into
:class:`AttemptEnd`; what an end means is the core's business.

A Job is known by its name (one per attempt) and its deadline annotation, which tells
this attempt's Job apart from a finished one of the same name that an earlier life of
the file left behind (same path and attempt number, after ``manual/`` and a new drop).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from kubescribe_protocol.atomic import StatusFileError, read_model
from kubescribe_protocol.codes import ErrorCode
from kubescribe_protocol.models import InProgress, utc_now
from kubescribe_protocol.names import in_progress_path
from kubescribe_protocol.state import FileState, file_state

from ..core.executor import AttemptEnd, AttemptKey, AttemptSpec, EndReason
from .job_outcome import end_of_job, job_finished, job_needs_pods, vanished
from .jobs import (
    SELECTOR_LABELS,
    attempt_key_of,
    build_job,
    job_name,
)
from .kube_api import KubeApi
from .names import ANNOTATION_ANNOUNCED, ANNOTATION_DEADLINE
from .settings import KubernetesSettings

log = logging.getLogger(__name__)

#: The label the Job controller puts on a Job's pods (stable since Kubernetes 1.27).
POD_JOB_LABEL = "batch.kubernetes.io/job-name"
#: Tries at replacing a finished leftover Job of the same name before giving up.
_REPLACE_TRIES = 5


class StartError(RuntimeError):
    """The Job of an attempt could not be created."""


@dataclass(frozen=True)
class _Ended:
    """An end handed to the core, kept until its file's next step is known (for Events)."""

    end: AttemptEnd
    job: Mapping[str, Any]


def _token(job: Mapping[str, Any]) -> str:
    return str(((job.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION_DEADLINE))


def _name(job: Mapping[str, Any]) -> str:
    return str((job.get("metadata") or {}).get("name", ""))


class KubernetesExecutor:
    name = "kubernetes"
    #: What a runner gone without a word means here: its Job was deleted, or never was.
    vanished_code = ErrorCode.JOB_VANISHED

    def __init__(
        self,
        api: KubeApi,
        settings: KubernetesSettings,
        *,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], None] | None = None,
        create_workers: int = 0,
        on_end: Callable[[], None] | None = None,
    ) -> None:
        self.api = api
        self.settings = settings
        #: With workers, start() returns at once and the Job is created in the background
        #: (the core starts a whole batch in one pass, under its lock); a failed create
        #: then comes back as an end. Without, start() creates the Job itself.
        self._pool = (
            ThreadPoolExecutor(create_workers, thread_name_prefix="create-job")
            if create_workers > 0
            else None
        )
        #: Called (from any thread) when an end is queued, to wake whoever collects.
        self.on_end = on_end
        self._clock = clock
        self._sleep = sleep or threading.Event().wait
        self._lock = threading.Lock()
        #: Jobs that exist and have not finished: name -> attempt.
        self._running: dict[str, AttemptKey] = {}
        #: The deadline token of the Job this executor created or adopted, by name.
        self._tokens: dict[str, str] = {}
        #: (name, token) of every Job whose end was queued: each end is reported once.
        self._reported: set[tuple[str, str]] = set()
        #: Jobs the core asked to stop, and why.
        self._stopping: dict[str, EndReason] = {}
        self._ends: list[_Ended] = []
        #: Ends handed out by the last :meth:`collect`, for :meth:`announce_outcomes`.
        self._collected: list[_Ended] = []

    # --- the Executor protocol ----------------------------------------------------------
    def planned_handle(self, key: AttemptKey) -> str | None:
        return job_name(key)

    def start(self, spec: AttemptSpec) -> str:
        body = build_job(spec, self.settings, self._clock())
        name = job_name(spec.key)
        token = _token(body)
        with self._lock:
            # Before the request: the watch may report the new Job before create returns.
            self._tokens[name] = token
            self._running[name] = spec.key
        if self._pool is not None:
            self._pool.submit(self._create_or_report, spec.key, name, token, body)
            return name
        try:
            self._create(name, token, body)
        except Exception:
            with self._lock:
                self._running.pop(name, None)
                self._tokens.pop(name, None)
            raise
        return name

    def _create_or_report(
        self, key: AttemptKey, name: str, token: str, body: Mapping[str, Any]
    ) -> None:
        try:
            self._create(name, token, body)
        except Exception as exc:
            log.exception("could not create job %s", name)
            detail = f"could not create job {name}: {exc}"
            self._report(name, token, AttemptEnd(key, EndReason.VANISHED, None, detail), {})

    def shutdown(self) -> None:
        """Wait for the Jobs being created (at shutdown, and in tests)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def _create(self, name: str, token: str, body: Mapping[str, Any]) -> None:
        for _ in range(_REPLACE_TRIES):
            if self.api.create_job(body) is not None:
                return
            # 409: a Job of this name exists. Ours (an operator restart between writing
            # .in_progress and creating the Job) is adopted; a finished leftover of an
            # earlier life of the file is replaced.
            existing = self.api.read_job(name)
            if existing is None:
                continue  # deleted in between: create again
            if _token(existing) == token or not job_finished(existing):
                with self._lock:
                    self._tokens[name] = _token(existing)
                log.info("job %s exists already: adopted", name)
                return
            log.info("job %s is a finished leftover of an earlier attempt: replacing it", name)
            self.api.delete_job(name)
            self._sleep(0.5)
        raise StartError(f"job {name} exists and could not be replaced")

    def stop(self, key: AttemptKey, reason: EndReason) -> None:
        name = job_name(key)
        with self._lock:
            self._stopping[name] = reason
            token = self._tokens.get(name, "")
        if not self.api.delete_job(name):
            # Gone already, and no event will say so if it was never seen.
            self._report(name, token, AttemptEnd(key, reason, None, f"job {name} stopped"), {})

    def live(self) -> set[AttemptKey]:
        with self._lock:
            return set(self._running.values())

    def collect(self) -> list[AttemptEnd]:
        with self._lock:
            ended, self._ends = self._ends, []
            self._collected.extend(ended)
        return [item.end for item in ended]

    # --- what the watch says ------------------------------------------------------------
    def sync(self) -> None:
        """List this operator's Jobs once (at startup, before the core recovers): running
        ones are adopted, and the ends of those that finished while nobody watched are
        queued. One request, however many files."""
        for job in self.api.list_jobs(SELECTOR_LABELS):
            self.observe(job, "ADDED")

    def observe(self, job: Mapping[str, Any], event_type: str | None) -> bool:
        """One Job as a list or a watch event shows it (``ADDED``/``MODIFIED``/``DELETED``,
        or None for kopf's initial listing). True when it queued an end."""
        key = attempt_key_of(dict(job))
        name = _name(job)
        if key is None or not name:
            return False
        token = _token(job)
        with self._lock:
            known = self._tokens.get(name)
            if known is not None and known != token:
                return False  # a leftover of the same name, not the current attempt's Job
            if (name, token) in self._reported:
                if event_type == "DELETED":
                    # Gone for good (its TTL, or deleted after it ended): forget it, so
                    # that memory does not grow with every Job ever run.
                    self._tokens.pop(name, None)
                    self._reported.discard((name, token))
                return False
            stopping = self._stopping.get(name)
        if job_finished(job):
            pods = self.api.list_pods({POD_JOB_LABEL: name}) if job_needs_pods(job) else []
            return self._report(name, token, end_of_job(key, job, pods), job)
        if event_type == "DELETED":
            if stopping is not None:
                end = AttemptEnd(key, stopping, None, f"job {name} deleted by kubescribe")
            else:
                end = vanished(key, name)
            return self._report(name, token, end, job)
        with self._lock:
            self._running[name] = key
            self._tokens.setdefault(name, token)
        return False

    def _report(self, name: str, token: str, end: AttemptEnd, job: Mapping[str, Any]) -> bool:
        with self._lock:
            if (name, token) in self._reported:
                return False
            self._reported.add((name, token))
            self._running.pop(name, None)
            self._stopping.pop(name, None)
            self._ends.append(_Ended(end, job))
        log.info("job %s ended: %s %s", name, end.reason, end.detail)
        if self.on_end is not None:
            self.on_end()
        return True

    # --- Events for people ---------------------------------------------------------------
    def announce_outcomes(self) -> None:
        """Post an Event on the Job of each attempt whose end the core handled since the
        last call: a retry, or the move to ``manual/`` (a success posts nothing: the
        ``.result`` says it all). The outcome is read from the volume, which is what the
        core wrote. The Job is then annotated as announced, so that a restarted operator,
        which sees every finished Job again, does not post the same Event twice."""
        with self._lock:
            handled, self._collected = self._collected, []
        root = Path(self.settings.root)
        for item in handled:
            key, metadata = item.end.key, item.job.get("metadata") or {}
            if not metadata or ANNOTATION_ANNOUNCED in (metadata.get("annotations") or {}):
                continue
            try:
                state = file_state(root, key.path)
                status = read_model(in_progress_path(root / key.path), InProgress)
            except (StatusFileError, OSError) as exc:
                log.warning("cannot read the state of %s: %s", key.path, exc)
                continue
            if state is FileState.COMPLETED:
                continue
            how = f"{item.end.reason}" + (
                f" (exit code {item.end.exit_code})" if item.end.exit_code is not None else ""
            )
            if state in (FileState.MANUAL, FileState.NOT_FOUND):
                reason, next_step = "MovedToManual", "the file was moved to manual/"
            elif status is not None and status.attempt >= key.attempt:
                reason, next_step = "Retrying", "it will be retried"
            else:
                continue
            message = f"attempt {key.attempt} of {key.path} ended: {how}; {next_step}"
            self.api.post_event(item.job, reason, message, warning=True)
            self.api.annotate_job(str(metadata.get("name")), {ANNOTATION_ANNOUNCED: reason})

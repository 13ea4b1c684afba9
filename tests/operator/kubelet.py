"""A test kubelet (and Job controller) for the emulator: runs each Job's container locally.

Nothing in kmock runs pods. This plays the parts of the cluster that would: it watches
the operator's Jobs over HTTP, runs each one's container command as a local process
(the real ``kubescribe worker``; the operator's root is the test's temporary folder and
the Job mounts the volume at that same path, so no path needs mapping), creates the pod
object with its termination state, and patches the Job's status the way the Job
controller does, honouring the Job's own ``podFailurePolicy`` and
``activeDeadlineSeconds``.

A test can make a pod fail the ways pods fail instead of running it (:class:`Fault`):
an exit code, OOMKilled, the deadline, an eviction (pod reason ``Evicted``), a
preemption (the ``DisruptionTarget`` condition, which the Job's policy ignores: the pod
is replaced), or the Job deleted by someone while it runs.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from kubescribe_protocol.atomic import read_model, remove_durably, write_model
from kubescribe_protocol.models import InProgress, Result, Transcription, utc_now
from kubescribe_protocol.names import in_progress_path, result_path

FaultKind = Literal["exit", "oom", "deadline", "evict", "preempt", "delete", "standin"]
SELECTOR = "app.kubernetes.io/managed-by=kubescribe-operator"


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    exit_code: int = 1


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _annotation(job: dict[str, Any], key: str) -> str:
    return str(((job.get("metadata") or {}).get("annotations") or {}).get(key, ""))


def _label(job: dict[str, Any], key: str) -> str:
    return str(((job.get("metadata") or {}).get("labels") or {}).get(key, ""))


def _standin_worker(job: dict[str, Any]) -> int:
    """What the worker would leave, with no work: a ``.result`` (fenced on the attempt),
    the ``.in_progress`` removed. For benchmarks of the control plane, not of WhisperX."""
    command = job["spec"]["template"]["spec"]["containers"][0]["command"]
    root = Path(command[command.index("--root") + 1])
    attempt = int(command[command.index("--attempt") + 1])
    rel = command[command.index("--") + 1]
    audio = root / rel
    status = read_model(in_progress_path(audio), InProgress)
    if status is None or status.attempt != attempt:
        return 13
    now = utc_now()
    result = Result(
        filename=audio.name,
        path=rel,
        processing_start=now,
        processing_end=now,
        transcription=Transcription(text=""),
    )
    write_model(result_path(audio), result)
    remove_durably(in_progress_path(audio))
    return 0


@dataclass
class _Run:
    job: dict[str, Any]
    proc: subprocess.Popen[bytes] | None
    started: float
    pod: str
    #: Set when the pod is only "running" until the test's fault fires.
    fault: Fault | None = None


@dataclass
class Kubelet:
    api_client: Any
    log_dir: Path
    namespace: str = "default"
    #: (relative path, attempt) -> the fault its pod suffers instead of running.
    faults: dict[tuple[str, int], Fault] = field(default_factory=dict)
    #: Or a rule for any attempt; returns None to run it for real.
    fault_rule: Callable[[str, int], Fault | None] | None = None
    #: Extra environment for every worker process, and for some: (path, attempt) -> env.
    env: dict[str, str] = field(default_factory=dict)
    env_rule: Callable[[str, int], dict[str, str]] | None = None
    #: Uids of the Jobs whose pod finished (by itself or by a fault), in that order.
    finished: list[str] = field(default_factory=list)
    #: Every Job seen, in the order they appeared, as first seen (what the operator sent).
    jobs: list[dict[str, Any]] = field(default_factory=list)
    #: The most pods running at once (checks the operator's concurrency limit).
    peak_running: int = 0
    errors: list[str] = field(default_factory=list)
    #: Seconds between two looks at the Jobs.
    poll_seconds: float = 0.05
    #: Sent as User-Agent, so that the emulator's log tells our requests apart.
    user_agent: str = "test-kubelet"

    def __post_init__(self) -> None:
        self.api_client.user_agent = self.user_agent
        self._batch: Any = client.BatchV1Api(self.api_client)
        self._core: Any = client.CoreV1Api(self.api_client)
        self._seen: set[str] = set()
        self._runs: dict[str, _Run] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="kubelet", daemon=True)

    # --- lifecycle ----------------------------------------------------------------------
    def __enter__(self) -> Kubelet:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)
        for run in self._runs.values():
            if run.proc is not None and run.proc.poll() is None:
                os.killpg(run.proc.pid, signal.SIGKILL)
                run.proc.wait()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except Exception as exc:  # keep playing; the test reads .errors
                self.errors.append(repr(exc))
            self._stop.wait(self.poll_seconds)

    # --- one pass -----------------------------------------------------------------------
    def _list_jobs(self) -> list[dict[str, Any]]:
        response = self._batch.list_namespaced_job(
            self.namespace, label_selector=SELECTOR, _preload_content=False
        )
        items: list[dict[str, Any]] = json.loads(response.data)["items"]
        return items

    def delete_job(self, name: str) -> None:
        """Someone deletes a Job (``kubectl delete job``); its pod is stopped next pass."""
        self._batch.delete_namespaced_job(name, self.namespace, _preload_content=False)

    @property
    def running(self) -> int:
        """Pods running now (processes, or pods waiting for their fault)."""
        return len(self._runs)

    def step(self) -> None:
        jobs = {job["metadata"]["uid"]: job for job in self._list_jobs()}
        for uid, job in jobs.items():
            if uid in self._seen or (job.get("spec") or {}).get("suspend"):
                continue
            self._seen.add(uid)
            self.jobs.append(job)
            self._start(job)
        self.peak_running = max(self.peak_running, len(self._runs))
        for uid, run in list(self._runs.items()):
            if uid not in jobs:
                # The Job was deleted: its pod gets SIGTERM, as a kubelet would send.
                self._kill(run, signal.SIGTERM)
                del self._runs[uid]
            elif run.fault is not None:
                del self._runs[uid]
                self._apply_fault(run.job, run.fault, run.pod)
            elif run.proc is not None and run.proc.poll() is not None:
                del self._runs[uid]
                self._pod_failed_or_done(run.job, run.pod, run.proc.returncode)
            elif time.monotonic() - run.started > run.job["spec"]["activeDeadlineSeconds"]:
                self._kill(run, signal.SIGKILL)
                del self._runs[uid]
                self._fail_job(run.job, "DeadlineExceeded", "Job was active longer than allowed")

    def _start(self, job: dict[str, Any]) -> None:
        path = _annotation(job, "kubescribe.io/path")
        attempt = int(_label(job, "kubescribe.io/attempt") or 0)
        fault = self.faults.get((path, attempt))
        if fault is None and self.fault_rule is not None:
            fault = self.fault_rule(path, attempt)
        pod = f"{job['metadata']['name']}-{secrets.token_hex(3)[:5]}"
        self._patch_job(job, {"startTime": _now(), "active": 1})
        if fault is not None:
            self._runs[job["metadata"]["uid"]] = _Run(job, None, time.monotonic(), pod, fault)
            return
        self._runs[job["metadata"]["uid"]] = _Run(job, self._spawn(job, pod), time.monotonic(), pod)

    def _spawn(self, job: dict[str, Any], pod: str) -> subprocess.Popen[bytes]:
        (container,) = job["spec"]["template"]["spec"]["containers"]
        # A pod gets its container's environment, not the test's KUBESCRIBE_* settings.
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBESCRIBE_")}
        env.update(self.env)
        env.update({item["name"]: item["value"] for item in container.get("env") or []})
        if self.env_rule is not None:
            path = _annotation(job, "kubescribe.io/path")
            env.update(self.env_rule(path, int(_label(job, "kubescribe.io/attempt") or 0)))
        # The pod's scratch emptyDir, of its own.
        scratch = self.log_dir / pod
        scratch.mkdir(parents=True, exist_ok=True)
        for name in ("HOME", "TMPDIR"):
            env[name] = str(scratch)
        env["XDG_CACHE_HOME"] = str(scratch / "cache")
        output = (self.log_dir / f"{pod}.log").open("wb")
        with output:
            return subprocess.Popen(
                container["command"],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )

    def _kill(self, run: _Run, sig: signal.Signals) -> None:
        if run.proc is not None and run.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(run.proc.pid, sig)
            try:
                run.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(run.proc.pid, signal.SIGKILL)
                run.proc.wait()

    # --- outcomes, as the kubelet and the Job controller write them ---------------------
    def _apply_fault(self, job: dict[str, Any], fault: Fault, pod: str) -> None:
        if fault.kind == "exit":
            self._pod_failed_or_done(job, pod, fault.exit_code)
        elif fault.kind == "oom":
            self._pod_failed_or_done(job, pod, 137, reason="OOMKilled")
        elif fault.kind == "deadline":
            self._fail_job(job, "DeadlineExceeded", "Job was active longer than allowed")
        elif fault.kind == "evict":
            self._create_pod(job, pod, None, pod_reason="Evicted")
            self._fail_job(job, "BackoffLimitExceeded", "Job has reached the backoff limit")
        elif fault.kind == "preempt":
            self._create_pod(job, pod, 143, disruption="PreemptionByScheduler")
            # The Job's podFailurePolicy ignores disruptions: a new pod runs the worker.
            if not self._policy_ignores_disruption(job):
                self._fail_job(job, "BackoffLimitExceeded", "Job has reached the backoff limit")
                return
            replacement = f"{job['metadata']['name']}-{secrets.token_hex(3)[:5]}"
            self._runs[job["metadata"]["uid"]] = _Run(
                job, self._spawn(job, replacement), time.monotonic(), replacement
            )
        elif fault.kind == "standin":
            self._pod_failed_or_done(job, pod, _standin_worker(job))
        elif fault.kind == "delete":
            with contextlib.suppress(ApiException):
                self._batch.delete_namespaced_job(
                    job["metadata"]["name"], self.namespace, _preload_content=False
                )

    @staticmethod
    def _policy_ignores_disruption(job: dict[str, Any]) -> bool:
        rules = ((job["spec"].get("podFailurePolicy") or {}).get("rules")) or []
        return any(
            rule.get("action") == "Ignore"
            and any(c.get("type") == "DisruptionTarget" for c in rule.get("onPodConditions", []))
            for rule in rules
        )

    @staticmethod
    def _policy_fails_job(job: dict[str, Any], exit_code: int) -> bool:
        rules = ((job["spec"].get("podFailurePolicy") or {}).get("rules")) or []
        for rule in rules:
            on_exit = rule.get("onExitCodes") or {}
            fails = rule.get("action") == "FailJob" and on_exit.get("operator") == "In"
            if fails and exit_code in on_exit.get("values", []):
                return True
        return False

    def _pod_failed_or_done(
        self, job: dict[str, Any], pod: str, exit_code: int, reason: str | None = None
    ) -> None:
        self._create_pod(job, pod, exit_code, container_reason=reason)
        if exit_code == 0:
            self.finished.append(job["metadata"]["uid"])
            self._patch_job(
                job,
                {
                    "active": 0,
                    "succeeded": 1,
                    "completionTime": _now(),
                    "conditions": [
                        {"type": "SuccessCriteriaMet", "status": "True"},
                        {"type": "Complete", "status": "True"},
                    ],
                },
            )
        elif self._policy_fails_job(job, exit_code):
            self._fail_job(
                job,
                "PodFailurePolicy",
                f"Container worker for pod {self.namespace}/{pod} failed with exit code "
                f"{exit_code} matching FailJob rule at index 0",
            )
        else:
            self._fail_job(job, "BackoffLimitExceeded", "Job has reached the backoff limit")

    def _fail_job(self, job: dict[str, Any], reason: str, message: str) -> None:
        self.finished.append(job["metadata"]["uid"])
        condition = {"status": "True", "reason": reason, "message": message}
        self._patch_job(
            job,
            {
                "active": 0,
                "failed": 1,
                "conditions": [
                    {"type": "FailureTarget", **condition},
                    {"type": "Failed", **condition},
                ],
            },
        )

    def _patch_job(self, job: dict[str, Any], status: dict[str, Any]) -> None:
        with contextlib.suppress(ApiException):  # deleted meanwhile
            self._batch.patch_namespaced_job_status(
                job["metadata"]["name"],
                self.namespace,
                {"status": status},
                _content_type="application/merge-patch+json",
                _preload_content=False,
            )

    def _create_pod(
        self,
        job: dict[str, Any],
        pod: str,
        exit_code: int | None,
        *,
        container_reason: str | None = None,
        pod_reason: str | None = None,
        disruption: str | None = None,
    ) -> None:
        name = job["metadata"]["name"]
        status: dict[str, Any] = {"phase": "Succeeded" if exit_code == 0 else "Failed"}
        if exit_code is not None:
            terminated = {
                "exitCode": exit_code,
                "reason": container_reason or ("Completed" if exit_code == 0 else "Error"),
                "finishedAt": _now(),
            }
            status["containerStatuses"] = [
                {
                    "name": "worker",
                    "ready": False,
                    "restartCount": 0,
                    "image": "worker",
                    "imageID": "",
                    "state": {"terminated": terminated},
                }
            ]
        if pod_reason:
            status["reason"] = pod_reason
            status["message"] = "The node was low on resource: memory."
        if disruption:
            status["conditions"] = [
                {"type": "DisruptionTarget", "status": "True", "reason": disruption}
            ]
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": pod,
                "namespace": self.namespace,
                "labels": {
                    **job["spec"]["template"]["metadata"]["labels"],
                    "batch.kubernetes.io/job-name": name,
                    "job-name": name,
                    "batch.kubernetes.io/controller-uid": job["metadata"]["uid"],
                },
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "Job",
                        "name": name,
                        "uid": job["metadata"]["uid"],
                        "controller": True,
                    }
                ],
            },
            "spec": job["spec"]["template"]["spec"],
            "status": status,
        }
        self._core.create_namespaced_pod(self.namespace, body, _preload_content=False)

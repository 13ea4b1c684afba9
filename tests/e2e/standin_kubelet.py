"""A stand-in kubelet: GPU nodes whose pods run as local processes (see README.md here).

It registers Nodes (capacity with ``nvidia.com/gpu``, a Ready condition) and renews their
Leases in ``kube-node-lease``. It watches every pod the scheduler binds to them and runs
each pod's container as a local process: the container's command and args (the image's
entrypoint when the pod gives none, from :attr:`StandinKubelet.images`), its env (values,
``fieldRef``, ``configMapKeyRef``, ``secretKeyRef``, ``envFrom``, ``$(VAR)``), and its
volume mounts mapped to host folders:

- ``persistentVolumeClaim`` -> the ``hostPath`` of the PersistentVolume bound to the claim;
- ``hostPath`` -> that path; ``emptyDir`` -> a fresh folder of the pod's;
- ``configMap``, ``secret``, ``downwardAPI`` and ``projected`` (the ServiceAccount token
  volume the admission adds: a real token from the TokenRequest API bound to the pod, the
  ``kube-root-ca.crt`` CA and the namespace) -> files in a folder of the pod's.

A mount is made visible to the process in two ways. Every command, arg and env value that
is a path under a ``mountPath`` (``/data/x``, or ``--root=/data``) is rewritten to the same
path under the host folder, so a process needs no privileges. And mounts under
:attr:`StandinKubelet.bind_prefixes` (``/var/run/secrets`` by default: the in-cluster
configuration of a Kubernetes client reads that fixed path) are also bind-mounted at their
real path in a private mount namespace (``unshare -m``, as root), creating the empty
mountpoint on the host if it is missing. :meth:`StandinKubelet.mounts` tells, per pod, which
``mountPath`` went to which host folder.

It writes the pod's status through the API as a kubelet does (phase Pending -> Running ->
Succeeded/Failed, ``containerStatuses[].state`` with ``exitCode`` and ``reason``,
``startTime``, conditions), so the real Job controller decides what a Job became. A pod
being deleted gets SIGTERM, then SIGKILL after its grace period, its final status, and is
then deleted with grace 0 (finalizers stay: their owners, e.g. the Job controller, remove
them). ``activeDeadlineSeconds`` of a pod is not enforced (the Job controller enforces the
Job's). ``runAsUser`` is not applied: processes run as the test's user.

Faults on demand (:meth:`StandinKubelet.inject`): the next pod matching a predicate exits
with a code, is OOMKilled (137), is evicted through the Eviction API, hangs until deleted,
or cannot pull its image; and :meth:`StandinKubelet.set_node_ready` makes a node NotReady.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import httpx

from e2e.kubekit import ApiError, KubeApi

PodPredicate = Callable[[dict[str, Any]], bool]
FaultKind = Literal["exit", "oom", "evict", "hang", "image-pull"]
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
KUBELET_VERSION = "v1.35.4"
LEASE_SECONDS = 40
RENEW_SECONDS = 10.0
#: How long a status write is retried while the API server is away (restarted in a test).
API_RETRY_SECONDS = 180.0


def now_time() -> str:
    """A Time (to the second), as the API's ``Time`` fields are."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_microtime() -> str:
    """A MicroTime: six fractional digits (the API server refuses other forms)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- what a test can ask for ------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    """What happens to a pod instead of (or on top of) its process exiting by itself.

    - ``exit``: the container ends with ``exit_code`` (reason ``Error``, or ``Completed``
      for 0) after ``after`` seconds Running;
    - ``oom``: the same with exit code 137 and reason ``OOMKilled``;
    - ``evict``: after ``after`` seconds Running, the kubelet evicts the pod through the
      Eviction API (policy/v1): the API server adds the ``DisruptionTarget`` condition and
      deletes the pod; the kubelet then stops it as it stops any pod being deleted;
    - ``hang``: the container runs (state running) and never ends until the pod is
      deleted; then it exits 143 at once, or, with ``ignore_sigterm``, 137 after the
      grace period;
    - ``image-pull``: the container never starts (``waiting``, reason ``ErrImagePull``).

    With ``run`` the pod's real process runs meanwhile (killed when the fault fires);
    without it, nothing runs.
    """

    kind: FaultKind
    exit_code: int = 1
    after: float = 0.5
    run: bool = False
    ignore_sigterm: bool = False

    @classmethod
    def exit(cls, code: int, *, after: float = 0.5, run: bool = False) -> Fault:
        return cls("exit", exit_code=code, after=after, run=run)

    @classmethod
    def oom(cls, *, after: float = 0.5, run: bool = False) -> Fault:
        return cls("oom", exit_code=137, after=after, run=run)

    @classmethod
    def evict(cls, *, after: float = 0.5, run: bool = False) -> Fault:
        return cls("evict", after=after, run=run)

    @classmethod
    def hang(cls, *, ignore_sigterm: bool = False) -> Fault:
        return cls("hang", ignore_sigterm=ignore_sigterm)

    @classmethod
    def image_pull(cls) -> Fault:
        return cls("image-pull")


@dataclass
class _FaultRule:
    fault: Fault
    when: PodPredicate
    #: How many more pods it applies to; None: every matching pod.
    times: int | None
    #: Namespace/name of the pods it was applied to.
    applied: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Image:
    """What a container image runs when the pod gives no ``command`` (or no ``args``):
    its ENTRYPOINT and CMD."""

    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()


#: The project's images (worker/Dockerfile, operator/Dockerfile), and a shell.
DEFAULT_IMAGES: dict[str, Image] = {
    "ghcr.io/kubescribe/worker": Image(("kubescribe",), ("worker", "--help")),
    "ghcr.io/kubescribe/operator": Image(
        ("kubescribe", "operator"), ("--liveness=http://0.0.0.0:8080/healthz",)
    ),
    "busybox": Image((), ("sh",)),
}


def image_repository(image: str) -> str:
    """``ghcr.io/kubescribe/worker:0.1.0@sha256:...`` -> ``ghcr.io/kubescribe/worker``."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    return name.removeprefix("docker.io/library/").removeprefix("docker.io/")


@dataclass(frozen=True)
class NodeSpec:
    name: str
    gpus: int = 1
    cpu: str = "16"
    memory: str = "64Gi"
    pods: int = 110
    labels: Mapping[str, str] = field(default_factory=dict)


# --- the kubelet ----------------------------------------------------------------------------


@dataclass
class _Pod:
    """A pod this kubelet runs: its last known object, its process, its host folders."""

    key: str
    uid: str
    obj: dict[str, Any]
    folder: Path
    fault: Fault | None = None
    proc: subprocess.Popen[bytes] | None = None
    #: mountPath -> host folder.
    mounts: dict[str, Path] = field(default_factory=dict)
    started_at: str = ""
    deleting: threading.Event = field(default_factory=threading.Event)
    gone: threading.Event = field(default_factory=threading.Event)
    grace: float = 30.0
    thread: threading.Thread | None = None
    exit_code: int | None = None
    restarts: int = 0


class StandinKubelet:
    """Nodes and their pods, on one control plane. Use as a context manager or
    :meth:`start` / :meth:`stop`."""

    def __init__(
        self,
        server: str,
        ca_file: Path,
        cert: tuple[Path, Path],
        workdir: Path,
        *,
        nodes: list[NodeSpec] | None = None,
        bin_dirs: list[Path] | None = None,
        images: Mapping[str, Image] | None = None,
        env: Mapping[str, str] | None = None,
        bind_prefixes: tuple[str, ...] = ("/var/run/secrets",),
        session_marker: Mapping[str, str] | None = None,
    ) -> None:
        self.server = server
        self._ca_file = ca_file
        self._cert = cert
        self.api = self._connect("standin-kubelet")
        self.workdir = workdir
        self.node_specs: dict[str, NodeSpec] = {
            spec.name: spec for spec in (nodes or [NodeSpec("gpu-node-1"), NodeSpec("gpu-node-2")])
        }
        #: Where a bare command name (``kubescribe``, ``sh``) is looked up, first to last;
        #: then the kubelet's own PATH. Read at each container start: a test may change it.
        self.bin_dirs: list[Path] = list(bin_dirs or [])
        #: Image repository (no tag or digest) -> its ENTRYPOINT and CMD. A container whose
        #: image is not here and that gives no command cannot start (ErrImagePull).
        self.images: dict[str, Image] = dict(images if images is not None else DEFAULT_IMAGES)
        #: Environment every container starts with, under its own (PATH is made from
        #: bin_dirs). PYTHONPATH, LANG and TZ pass through from the kubelet's own.
        self.env: dict[str, str] = dict(env or {})
        self.bind_prefixes = bind_prefixes
        #: Env every pod process carries so that the control plane's guard can kill what
        #: is left of it (``ControlPlane.session_marker``): the kernel's parent-death
        #: signal reaches a pod's first process only, not what it started.
        self.session_marker: dict[str, str] = dict(session_marker or {})
        #: Failures inside the kubelet (a test should assert it stays empty).
        self.errors: list[str] = []
        self._rules: list[_FaultRule] = []
        self._pods: dict[str, _Pod] = {}
        self._not_ready: dict[str, str] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def _connect(self, user_agent: str) -> KubeApi:
        """A client of its own (one per thread), as admin."""
        return KubeApi(self.server, self._ca_file, cert=self._cert, user_agent=user_agent)

    # -- life ---------------------------------------------------------------------------
    def __enter__(self) -> StandinKubelet:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for spec in self.node_specs.values():
            self._register(spec)
        for target, name in ((self._renew_loop, "leases"), (self._watch_loop, "pods")):
            thread = threading.Thread(target=target, name=f"kubelet-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        for spec in self.node_specs.values():
            self.wait_node_schedulable(spec.name)

    def stop(self) -> None:
        """Stops the loops and kills every pod process (the pods' objects stay)."""
        self._stop.set()
        with self._lock:
            pods = list(self._pods.values())
        for pod in pods:
            pod.gone.set()
            pod.deleting.set()
            if pod.proc is not None and pod.proc.poll() is None:
                _kill_group(pod.proc, signal.SIGKILL)
        for pod in pods:
            if pod.thread is not None:
                pod.thread.join(30)
        for thread in self._threads:
            thread.join(30)
        self.api.close()

    # -- faults -------------------------------------------------------------------------
    def inject(
        self, fault: Fault, when: PodPredicate = lambda pod: True, *, times: int | None = 1
    ) -> _FaultRule:
        """The next ``times`` pods (None: all) that ``when`` accepts suffer ``fault``;
        rules are tried in the order they were added. Returns the rule (``.applied``)."""
        rule = _FaultRule(fault, when, times)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear_faults(self) -> None:
        with self._lock:
            self._rules.clear()

    def set_node_ready(self, node: str, ready: bool, *, status: str = "False") -> None:
        """NotReady (``ready=False``): the node's Lease is no longer renewed and its Ready
        condition is set to ``status`` (``False`` or ``Unknown``); the node-lifecycle
        controller then taints it. ``ready=True`` brings it back."""
        with self._lock:
            if ready:
                self._not_ready.pop(node, None)
            else:
                self._not_ready[node] = status
        self._write_node_status(self.node_specs[node])
        if ready:
            self._renew_lease(self.node_specs[node])

    def evict(self, namespace: str, name: str) -> None:
        """Evicts a pod through the Eviction API (what ``kubectl drain`` does)."""
        evict(self.api, namespace, name)

    # -- what a test reads --------------------------------------------------------------
    def mounts(self, namespace: str, name: str) -> dict[str, Path]:
        """mountPath -> host folder of a pod this kubelet ran (or runs)."""
        with self._lock:
            for pod in self._pods.values():
                if pod.key == f"{namespace}/{name}":
                    return dict(pod.mounts)
        raise KeyError(f"{namespace}/{name}: not a pod of this kubelet")

    def log(self, namespace: str, name: str) -> str:
        """The pod's container output (stdout and stderr together)."""
        path = self.workdir / "pods" / namespace / name / "container.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def running(self) -> list[str]:
        """namespace/name of the pods whose process runs now."""
        with self._lock:
            return [p.key for p in self._pods.values() if p.proc and p.proc.poll() is None]

    def wait_node_schedulable(self, node: str, timeout: float = 120.0) -> None:
        """Waits until the node-lifecycle controller removed the ``not-ready`` taint that
        a new Node gets, so the scheduler places pods on it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            taints = (self.api.get(f"/api/v1/nodes/{node}").get("spec") or {}).get("taints") or []
            if not any(t.get("key", "").startswith("node.kubernetes.io/") for t in taints):
                return
            time.sleep(0.25)
        raise AssertionError(f"node {node} still tainted after {timeout:.0f} s: {taints}")

    # -- nodes --------------------------------------------------------------------------
    def _register(self, spec: NodeSpec) -> None:
        labels = {
            "kubernetes.io/hostname": spec.name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "nvidia.com/gpu.present": "true" if spec.gpus else "false",
            "kubescribe.io/standin-kubelet": "true",
            **spec.labels,
        }
        body = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": spec.name, "labels": labels},
            "spec": {},
        }
        try:
            self.api.create("/api/v1/nodes", body)
        except ApiError as error:
            if error.status != 409:
                raise
            self.api.patch(f"/api/v1/nodes/{spec.name}", {"metadata": {"labels": labels}})
        self._write_node_status(spec)
        self._renew_lease(spec)

    def _write_node_status(self, spec: NodeSpec) -> None:
        capacity = {
            "cpu": spec.cpu,
            "memory": spec.memory,
            "pods": str(spec.pods),
            "ephemeral-storage": "100Gi",
            "nvidia.com/gpu": str(spec.gpus),
        }
        with self._lock:
            not_ready = self._not_ready.get(spec.name)
        now = now_time()

        def condition(kind: str, status: str, reason: str, message: str) -> dict[str, str]:
            return {
                "type": kind,
                "status": status,
                "reason": reason,
                "message": message,
                "lastHeartbeatTime": now,
                "lastTransitionTime": now,
            }

        ready = (
            condition("Ready", "True", "KubeletReady", "stand-in kubelet is posting ready status")
            if not_ready is None
            else condition("Ready", not_ready, "KubeletNotReady", "a test made this node NotReady")
        )
        status = {
            "capacity": capacity,
            "allocatable": capacity,
            "conditions": [
                condition("MemoryPressure", "False", "KubeletHasSufficientMemory", ""),
                condition("DiskPressure", "False", "KubeletHasNoDiskPressure", ""),
                condition("PIDPressure", "False", "KubeletHasSufficientPID", ""),
                ready,
            ],
            "addresses": [
                {"type": "InternalIP", "address": "127.0.0.1"},
                {"type": "Hostname", "address": spec.name},
            ],
            "nodeInfo": {
                "kubeletVersion": KUBELET_VERSION,
                "kubeProxyVersion": "",
                "operatingSystem": "linux",
                "architecture": "amd64",
                "containerRuntimeVersion": "standin://1",
                "kernelVersion": os.uname().release,
                "osImage": "stand-in kubelet",
                "machineID": "",
                "systemUUID": "",
                "bootID": "",
            },
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 0}},
        }
        self.api.patch(f"/api/v1/nodes/{spec.name}/status", {"status": status}, kind="strategic")

    def _renew_lease(self, spec: NodeSpec) -> None:
        path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{spec.name}"
        lease_spec = {
            "holderIdentity": spec.name,
            "leaseDurationSeconds": LEASE_SECONDS,
            "renewTime": now_microtime(),
        }
        try:
            self.api.patch(path, {"spec": lease_spec})
        except ApiError as error:
            if error.status != 404:
                raise
            node = self.api.get(f"/api/v1/nodes/{spec.name}")
            self.api.create(
                "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
                {
                    "apiVersion": "coordination.k8s.io/v1",
                    "kind": "Lease",
                    "metadata": {
                        "name": spec.name,
                        "ownerReferences": [
                            {
                                "apiVersion": "v1",
                                "kind": "Node",
                                "name": spec.name,
                                "uid": node["metadata"]["uid"],
                            }
                        ],
                    },
                    "spec": lease_spec,
                },
            )

    def _renew_loop(self) -> None:
        api = self._connect("standin-kubelet-leases")
        try:
            while not self._stop.wait(RENEW_SECONDS):
                for spec in list(self.node_specs.values()):
                    with self._lock:
                        if spec.name in self._not_ready:
                            continue
                    path = (
                        "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/"
                        + spec.name
                    )
                    # The API server may be away (a test restarts it): the next round.
                    with contextlib.suppress(Exception):
                        api.patch(path, {"spec": {"renewTime": now_microtime()}})
        finally:
            api.close()

    # -- pods ---------------------------------------------------------------------------
    def _watch_loop(self) -> None:
        api = self._connect("standin-kubelet-pods")
        version = ""
        try:
            while not self._stop.is_set():
                try:
                    if not version:
                        listed = api.get("/api/v1/pods")
                        version = listed["metadata"]["resourceVersion"]
                        for pod in listed.get("items") or []:
                            self._on_pod(api, "ADDED", pod)
                    for event in api.watch(
                        "/api/v1/pods", resource_version=version, timeout_seconds=30
                    ):
                        if self._stop.is_set():
                            return
                        obj = event.get("object") or {}
                        if event.get("type") == "ERROR":
                            version = ""  # 410 Gone: list again
                            break
                        version = (obj.get("metadata") or {}).get("resourceVersion", version)
                        if event.get("type") != "BOOKMARK":
                            self._on_pod(api, str(event.get("type")), obj)
                except ApiError as error:
                    if error.status == 410:
                        version = ""
                    else:
                        self._stop.wait(1.0)
                except (OSError, httpx.HTTPError, ValueError):
                    self._stop.wait(1.0)  # the API server restarting (a test's fault)
        finally:
            api.close()

    def _on_pod(self, api: KubeApi, kind: str, obj: dict[str, Any]) -> None:
        spec = obj.get("spec") or {}
        if spec.get("nodeName") not in self.node_specs:
            return
        meta = obj["metadata"]
        uid = meta["uid"]
        with self._lock:
            pod = self._pods.get(uid)
            if pod is None:
                if kind == "DELETED":
                    return
                phase = (obj.get("status") or {}).get("phase")
                if phase in ("Succeeded", "Failed"):
                    if meta.get("deletionTimestamp"):
                        self._delete_now(api, obj)
                    return
                key = f"{meta['namespace']}/{meta['name']}"
                folder = self.workdir / "pods" / meta["namespace"] / meta["name"]
                pod = _Pod(key=key, uid=uid, obj=obj, folder=folder)
                pod.fault = self._take_fault(obj)
                self._pods[uid] = pod
                pod.thread = threading.Thread(
                    target=self._run_pod, args=(pod,), name=f"pod-{key}", daemon=True
                )
                pod.thread.start()
                return
            pod.obj = obj
            finished = pod.thread is not None and not pod.thread.is_alive()
        if kind == "DELETED":
            pod.grace = 0
            pod.gone.set()
            pod.deleting.set()
        elif meta.get("deletionTimestamp"):
            pod.grace = float(meta.get("deletionGracePeriodSeconds") or 0)
            pod.deleting.set()
            if finished:  # a pod that ended earlier, now deleted (its Job's TTL, GC)
                self._delete_now(api, obj)

    def _take_fault(self, obj: dict[str, Any]) -> Fault | None:
        for rule in self._rules:
            if rule.times == 0:
                continue
            try:
                matches = rule.when(obj)
            except Exception as error:  # a test's predicate
                self.errors.append(f"fault predicate raised {error!r}")
                continue
            if matches:
                if rule.times is not None:
                    rule.times -= 1
                rule.applied.append(f"{obj['metadata']['namespace']}/{obj['metadata']['name']}")
                return rule.fault
        return None

    def _run_pod(self, pod: _Pod) -> None:
        try:
            _PodRun(self, pod).run()
        except Exception as error:  # reported to the test
            if not self._stop.is_set():
                self.errors.append(f"{pod.key}: {type(error).__name__}: {error}")
        finally:
            if pod.proc is not None and pod.proc.poll() is None:
                _kill_group(pod.proc, signal.SIGKILL)
                pod.proc.wait()

    @staticmethod
    def _delete_now(api: KubeApi, obj: dict[str, Any]) -> None:
        meta = obj["metadata"]
        with contextlib.suppress(ApiError):
            api.delete(
                f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}",
                {
                    "apiVersion": "v1",
                    "kind": "DeleteOptions",
                    "gracePeriodSeconds": 0,
                    "preconditions": {"uid": meta["uid"]},
                },
            )


def evict(api: KubeApi, namespace: str, name: str) -> None:
    """POSTs a policy/v1 Eviction of the pod: the API server adds the ``DisruptionTarget``
    condition and deletes the pod gracefully (or answers 429 if a budget forbids it)."""
    api.create(
        f"/api/v1/namespaces/{namespace}/pods/{name}/eviction",
        {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": name, "namespace": namespace},
        },
    )


def _kill_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


_VAR = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)|\$\$")


def expand(value: str, env: Mapping[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion: a defined variable is replaced, an undefined one
    stays as written, ``$$`` is a ``$``."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))

    return _VAR.sub(one, value)


def rewrite_path(value: str, mounts: Mapping[str, Path]) -> str:
    """``value`` with a leading mountPath replaced by its host folder (the longest
    mountPath that is the value, a parent of it, or the value after ``key=``)."""
    prefix = ""
    rest = value
    if not value.startswith("/") and "=/" in value:
        prefix, rest = value.split("=", 1)
        prefix += "="
    for mount in sorted(mounts, key=len, reverse=True):
        base = mount.rstrip("/") or "/"
        if rest == base or rest.startswith(base.rstrip("/") + "/"):
            return prefix + str(mounts[mount]) + rest[len(base.rstrip("/")) :]
    return value


class _PodRun:
    """One pod's life on this kubelet, in its own thread."""

    def __init__(self, kubelet: StandinKubelet, pod: _Pod) -> None:
        self.kubelet = kubelet
        self.pod = pod
        meta = pod.obj["metadata"]
        self.namespace: str = meta["namespace"]
        self.name: str = meta["name"]
        self.api = kubelet._connect(f"standin-kubelet-pod-{self.name}")
        self.spec: dict[str, Any] = pod.obj["spec"]
        self.container: dict[str, Any] = self.spec["containers"][0]
        #: The terminated state's reason when a fault sets one (OOMKilled).
        self.reason: str | None = None

    # -- the pod's life ------------------------------------------------------------------
    def run(self) -> None:
        try:
            self._life()
        finally:
            self.api.close()

    def _life(self) -> None:
        pod, fault = self.pod, self.pod.fault
        pod.folder.mkdir(parents=True, exist_ok=True)
        if pod.deleting.is_set():
            return self._finish(None, "ContainerCreating")
        if fault is not None and fault.kind == "image-pull":
            self._write_waiting("ErrImagePull", f"a test made {self.container['image']} unpullable")
            pod.deleting.wait()
            return self._finish(None, "ErrImagePull")
        try:
            argv = self._argv()
        except LookupError as error:
            self._write_waiting("ErrImagePull", str(error))
            pod.deleting.wait()
            return self._finish(None, "ErrImagePull")
        pod.mounts = self._prepare_volumes()
        env = self._environment()
        argv = [rewrite_path(arg, pod.mounts) for arg in argv]
        env = {name: rewrite_path(value, pod.mounts) for name, value in env.items()}
        restart = self.spec.get("restartPolicy", "Always")
        while True:
            code = self._run_container(argv, env, fault)
            fault = None  # a fault hits one run of the container
            if (
                pod.deleting.is_set()
                or restart == "Never"
                or (restart == "OnFailure" and code == 0)
            ):
                break
            pod.restarts += 1
            self._write_restarting(code)
            if pod.deleting.wait(min(10.0, 0.5 * 2**pod.restarts)):
                break
        return self._finish(code, None)

    def _run_container(self, argv: list[str], env: dict[str, str], fault: Fault | None) -> int:
        pod = self.pod
        runs = fault is None or fault.run
        pod.started_at = now_time()
        if runs:
            pod.proc = self._spawn(argv, env)
        self._write_running()
        dies = fault is not None and fault.kind in ("exit", "oom", "evict")
        if fault is not None and dies and not pod.deleting.wait(fault.after):
            if fault.kind == "evict":
                self._evict()
            else:
                self._stop_process(0)
                self.reason = "OOMKilled" if fault.kind == "oom" else None
                return fault.exit_code
        if fault is not None and fault.kind == "hang":
            pod.deleting.wait()
            if fault.ignore_sigterm:
                pod.gone.wait(pod.grace)
                self._stop_process(0)
                return 137
            self._stop_process(0)
            return 143
        if pod.proc is None:  # an evicted stand-in: ends when the pod is deleted
            pod.deleting.wait()
            return 143
        while pod.proc.poll() is None:
            if pod.deleting.wait(0.2):
                return self._stop_process(pod.grace)
        return _exit_code(pod.proc.returncode)

    def _evict(self) -> None:
        try:
            evict(self.api, self.namespace, self.name)
        except ApiError as error:
            self.kubelet.errors.append(f"{self.pod.key}: eviction refused: {error}")

    def _stop_process(self, grace: float) -> int:
        """SIGTERM, then SIGKILL after ``grace`` seconds; the exit code (128+signal)."""
        proc = self.pod.proc
        if proc is None:
            return 143
        if proc.poll() is None:
            _kill_group(proc, signal.SIGTERM)
            try:
                proc.wait(max(grace, 0.0) or 0.01)
            except subprocess.TimeoutExpired:
                _kill_group(proc, signal.SIGKILL)
                proc.wait()
        return _exit_code(proc.returncode)

    def _finish(self, code: int | None, waiting_reason: str | None) -> None:
        """The container's last state and the pod's terminal phase; then, if the pod is
        being deleted, its deletion with grace 0, as a kubelet ends a pod."""
        pod = self.pod
        if not pod.gone.is_set():
            if code is None:
                phase = "Failed"
                state: dict[str, Any] = {
                    "waiting": {"reason": waiting_reason or "ContainerCreating"}
                }
                last: dict[str, Any] = {}
            else:
                phase = "Succeeded" if code == 0 else "Failed"
                reason = self.reason or ("Completed" if code == 0 else "Error")
                state = {
                    "terminated": {
                        "exitCode": code,
                        "reason": reason,
                        "startedAt": pod.started_at or now_time(),
                        "finishedAt": now_time(),
                        "containerID": self._container_id(),
                    }
                }
                last = {}
            pod.exit_code = code
            reason = "PodCompleted" if phase == "Succeeded" else "PodFailed"
            self._write_status(
                phase,
                state,
                last,
                ready=False,
                conditions_reason=reason,
            )
        if pod.deleting.is_set() and not pod.gone.is_set():
            self.kubelet._delete_now(self.api, pod.obj)

    # -- the command --------------------------------------------------------------------
    def _argv(self) -> list[str]:
        image = self.kubelet.images.get(image_repository(str(self.container.get("image", ""))))
        command = list(self.container.get("command") or [])
        args = list(self.container.get("args") or [])
        if not command:
            if image is None:
                raise LookupError(
                    f"image {self.container.get('image')!r} is not in the stand-in kubelet's "
                    "images and the container gives no command"
                )
            command = list(image.entrypoint)
            if not args and not self.container.get("args"):
                args = list(image.cmd)
        argv = command + args
        if not argv:
            raise LookupError(f"image {self.container.get('image')!r} runs nothing")
        return argv

    def _resolve(self, name: str) -> str:
        if "/" in name:
            return name
        for folder in self.kubelet.bin_dirs:
            if (folder / name).is_file() and os.access(folder / name, os.X_OK):
                return str(folder / name)
        found = shutil.which(name)
        if found is None:
            raise LookupError(f"{name}: not in {self.kubelet.bin_dirs} nor on PATH")
        return found

    def _environment(self) -> dict[str, str]:
        path = [str(p) for p in self.kubelet.bin_dirs] + [os.environ.get("PATH", "/usr/bin:/bin")]
        port = self.kubelet.server.rsplit(":", 1)[-1]
        env: dict[str, str] = {
            "PATH": os.pathsep.join(path),
            "HOSTNAME": self.name,
            # The in-cluster configuration: the API server on loopback, not a ClusterIP.
            "KUBERNETES_SERVICE_HOST": "127.0.0.1",
            "KUBERNETES_SERVICE_PORT": port,
            "KUBERNETES_SERVICE_PORT_HTTPS": port,
        }
        for name in ("PYTHONPATH", "LANG", "LC_ALL", "TZ"):
            if name in os.environ:
                env[name] = os.environ[name]
        env.update(self.kubelet.env)
        env.update(self.kubelet.session_marker)
        for source in self.container.get("envFrom") or []:
            prefix = source.get("prefix", "")
            data = self._env_source(source)
            env.update({prefix + k: v for k, v in data.items()})
        for var in self.container.get("env") or []:
            if "value" in var:
                env[var["name"]] = expand(str(var["value"]), env)
            elif "valueFrom" in var:
                value = self._value_from(var["valueFrom"])
                if value is not None:
                    env[var["name"]] = value
            else:
                env[var["name"]] = ""
        return env

    def _env_source(self, source: dict[str, Any]) -> dict[str, str]:
        if "configMapRef" in source:
            ref = source["configMapRef"]
            return self._config_map(ref["name"], optional=bool(ref.get("optional")))
        if "secretRef" in source:
            ref = source["secretRef"]
            return self._secret(ref["name"], optional=bool(ref.get("optional")))
        return {}

    def _value_from(self, source: dict[str, Any]) -> str | None:
        if "fieldRef" in source:
            return self._field(source["fieldRef"]["fieldPath"])
        if "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            data = self._config_map(ref["name"], optional=bool(ref.get("optional")))
            return data.get(ref["key"])
        if "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            data = self._secret(ref["name"], optional=bool(ref.get("optional")))
            return data.get(ref["key"])
        if "resourceFieldRef" in source:
            ref = source["resourceFieldRef"]
            kind, _, resource = str(ref["resource"]).partition(".")
            value = ((self.container.get("resources") or {}).get(kind) or {}).get(resource)
            return str(value) if value is not None else "0"
        return None

    def _field(self, path: str) -> str:
        obj = self.pod.obj
        meta = obj["metadata"]
        simple = {
            "metadata.name": meta["name"],
            "metadata.namespace": meta["namespace"],
            "metadata.uid": meta["uid"],
            "spec.nodeName": obj["spec"].get("nodeName", ""),
            "spec.serviceAccountName": obj["spec"].get("serviceAccountName", "default"),
            "status.podIP": "127.0.0.1",
            "status.hostIP": "127.0.0.1",
        }
        if path in simple:
            return str(simple[path])
        match = re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path)
        if match:
            return str((meta.get(match.group(1)) or {}).get(match.group(2), ""))
        raise LookupError(f"fieldRef {path!r} is not known to the stand-in kubelet")

    def _config_map(self, name: str, *, optional: bool = False) -> dict[str, str]:
        try:
            found = self.api.get(f"/api/v1/namespaces/{self.namespace}/configmaps/{name}")
        except ApiError as error:
            if error.status == 404 and optional:
                return {}
            raise
        return dict(found.get("data") or {})

    def _secret(self, name: str, *, optional: bool = False) -> dict[str, str]:
        return {
            k: v.decode(errors="replace") for k, v in self._secret_bytes(name, optional).items()
        }

    def _secret_bytes(self, name: str, optional: bool) -> dict[str, bytes]:
        try:
            found = self.api.get(f"/api/v1/namespaces/{self.namespace}/secrets/{name}")
        except ApiError as error:
            if error.status == 404 and optional:
                return {}
            raise
        return {k: base64.b64decode(v) for k, v in (found.get("data") or {}).items()}

    # -- volumes ------------------------------------------------------------------------
    def _prepare_volumes(self) -> dict[str, Path]:
        folders: dict[str, Path] = {}
        for volume in self.spec.get("volumes") or []:
            folders[volume["name"]] = self._volume(volume)
        mounts: dict[str, Path] = {}
        for mount in self.container.get("volumeMounts") or []:
            host = folders[mount["name"]]
            if mount.get("subPath"):
                host = host / mount["subPath"]
                host.mkdir(parents=True, exist_ok=True)
            mounts[mount["mountPath"]] = host
        (self.pod.folder / "mounts.json").write_text(
            json.dumps({k: str(v) for k, v in mounts.items()}, indent=2) + "\n"
        )
        return mounts

    def _volume(self, volume: dict[str, Any]) -> Path:
        name = volume["name"]
        folder: Path = self.pod.folder / "volumes" / str(name)
        if "persistentVolumeClaim" in volume:
            return self._claim_folder(volume["persistentVolumeClaim"]["claimName"])
        if "hostPath" in volume:
            path = Path(str(volume["hostPath"]["path"]))
            if volume["hostPath"].get("type") in ("DirectoryOrCreate", None, ""):
                path.mkdir(parents=True, exist_ok=True)
            return path
        folder.mkdir(parents=True, exist_ok=True)
        if "emptyDir" in volume:
            return folder
        files: dict[str, bytes] = {}
        if "configMap" in volume:
            files = self._config_map_files(volume["configMap"])
        elif "secret" in volume:
            files = self._secret_files(volume["secret"])
        elif "downwardAPI" in volume:
            files = self._downward_files(volume["downwardAPI"].get("items") or [])
        elif "projected" in volume:
            for source in volume["projected"].get("sources") or []:
                files.update(self._projected_source(source))
        else:
            raise LookupError(f"volume {name!r}: a kind the stand-in kubelet does not mount")
        for relative, content in files.items():
            target = folder / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
        return folder

    def _claim_folder(self, claim: str) -> Path:
        """The hostPath of the PV bound to the claim (waits for the binding)."""
        deadline = time.monotonic() + 120
        while True:
            pvc = self.api.get(
                f"/api/v1/namespaces/{self.namespace}/persistentvolumeclaims/{claim}"
            )
            volume = (pvc.get("spec") or {}).get("volumeName")
            if volume and (pvc.get("status") or {}).get("phase") == "Bound":
                pv = self.api.get(f"/api/v1/persistentvolumes/{volume}")
                host = (pv.get("spec") or {}).get("hostPath", {}).get("path")
                if not host:
                    raise LookupError(f"PV {volume} of claim {claim} is not a hostPath volume")
                return Path(str(host))
            if time.monotonic() > deadline:
                raise LookupError(
                    f"claim {self.namespace}/{claim} not bound within 120 s: "
                    f"{pvc.get('spec')} {pvc.get('status')}"
                )
            if self.pod.deleting.wait(0.5):
                raise LookupError(f"pod deleted while waiting for claim {claim}")

    @staticmethod
    def _select(data: Mapping[str, bytes], items: list[dict[str, Any]] | None) -> dict[str, bytes]:
        if not items:
            return dict(data)
        return {item["path"]: data[item["key"]] for item in items if item["key"] in data}

    def _config_map_files(self, source: dict[str, Any]) -> dict[str, bytes]:
        data = self._config_map(source["name"], optional=bool(source.get("optional")))
        return self._select({k: v.encode() for k, v in data.items()}, source.get("items"))

    def _secret_files(self, source: dict[str, Any]) -> dict[str, bytes]:
        name = source.get("secretName") or source.get("name")
        data = self._secret_bytes(str(name), bool(source.get("optional")))
        return self._select(data, source.get("items"))

    def _downward_files(self, items: list[dict[str, Any]]) -> dict[str, bytes]:
        return {
            item["path"]: self._field(item["fieldRef"]["fieldPath"]).encode()
            for item in items
            if "fieldRef" in item
        }

    def _projected_source(self, source: dict[str, Any]) -> dict[str, bytes]:
        if "serviceAccountToken" in source:
            token = source["serviceAccountToken"]
            return {token.get("path", "token"): self._token(token).encode()}
        if "configMap" in source:
            return self._config_map_files(source["configMap"])
        if "secret" in source:
            return self._secret_files(source["secret"])
        if "downwardAPI" in source:
            return self._downward_files(source["downwardAPI"].get("items") or [])
        raise LookupError(f"projected source {sorted(source)} is not known to the kubelet")

    def _token(self, source: dict[str, Any]) -> str:
        """A token of the pod's ServiceAccount, bound to the pod, as a kubelet requests it."""
        account = self.spec.get("serviceAccountName") or "default"
        spec: dict[str, Any] = {
            "expirationSeconds": int(source.get("expirationSeconds") or 3607),
            "boundObjectRef": {
                "apiVersion": "v1",
                "kind": "Pod",
                "name": self.name,
                "uid": self.pod.uid,
            },
        }
        if source.get("audience"):
            spec["audiences"] = [source["audience"]]
        answer = self.api.create(
            f"/api/v1/namespaces/{self.namespace}/serviceaccounts/{account}/token",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec},
        )
        return str(answer["status"]["token"])

    # -- the process --------------------------------------------------------------------
    def _spawn(self, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        argv = [self._resolve(argv[0]), *argv[1:]]
        binds = [
            (str(host), mount)
            for mount, host in self.pod.mounts.items()
            if any(
                mount == p or mount.startswith(p.rstrip("/") + "/")
                for p in self.kubelet.bind_prefixes
            )
        ]
        # The kernel kills the process if this thread (which waits for it) is gone: a
        # test session that dies leaves no pod behind.
        wrapped = ["setpriv", "--pdeathsig", "KILL", "--"]
        if binds and os.geteuid() == 0 and shutil.which("unshare"):
            script = (
                'while [ "$1" != -- ]; do mkdir -p "$2"; mount --bind "$1" "$2"; shift 2; done;'
                ' shift; exec "$@"'
            )
            flat = [part for pair in binds for part in pair]
            wrapped += ["unshare", "--mount", "--propagation", "private", "--"]
            wrapped += ["/bin/sh", "-ec", script, "sh", *flat, "--"]
        workdir = self.container.get("workingDir")
        cwd = Path(rewrite_path(workdir, self.pod.mounts)) if workdir else self.pod.folder
        log = (self.pod.folder / "container.log").open("ab")
        with log:
            return subprocess.Popen(
                [*wrapped, *argv],
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _container_id(self) -> str:
        proc = self.pod.proc
        return f"standin://{proc.pid if proc else 0}-{self.pod.uid[:8]}"

    # -- status -------------------------------------------------------------------------
    def _container_status(self, state: dict[str, Any], *, ready: bool) -> dict[str, Any]:
        image = str(self.container.get("image", ""))
        return {
            "name": self.container["name"],
            "image": image,
            "imageID": f"standin://{image}",
            "containerID": self._container_id(),
            "ready": ready,
            "started": "running" in state,
            "restartCount": self.pod.restarts,
            "state": state,
        }

    def _write_waiting(self, reason: str, message: str) -> None:
        state = {"waiting": {"reason": reason, "message": message}}
        self._write_status(
            "Pending", state, {}, ready=False, conditions_reason="ContainersNotReady"
        )

    def _write_running(self) -> None:
        state = {"running": {"startedAt": self.pod.started_at}}
        self._write_status("Running", state, {}, ready=True, conditions_reason="")

    def _write_restarting(self, code: int) -> None:
        last = {
            "terminated": {
                "exitCode": code,
                "reason": "Completed" if code == 0 else "Error",
                "startedAt": self.pod.started_at,
                "finishedAt": now_time(),
            }
        }
        state = {"waiting": {"reason": "CrashLoopBackOff"}}
        self._write_status(
            "Running", state, last, ready=False, conditions_reason="ContainersNotReady"
        )

    def _write_status(
        self,
        phase: str,
        state: dict[str, Any],
        last_state: dict[str, Any],
        *,
        ready: bool,
        conditions_reason: str,
    ) -> None:
        now = now_time()
        flag = "True" if ready else "False"

        def condition(kind: str, status: str, reason: str = "") -> dict[str, Any]:
            found: dict[str, Any] = {"type": kind, "status": status, "lastTransitionTime": now}
            if reason:
                found["reason"] = reason
            return found

        started = phase != "Pending" or "running" in state
        container = self._container_status(state, ready=ready)
        container["lastState"] = last_state
        status: dict[str, Any] = {
            "phase": phase,
            "hostIP": "127.0.0.1",
            "hostIPs": [{"ip": "127.0.0.1"}],
            "podIP": "127.0.0.1",
            "podIPs": [{"ip": "127.0.0.1"}],
            "startTime": self.pod.obj.get("status", {}).get("startTime") or now,
            "qosClass": self.pod.obj.get("status", {}).get("qosClass") or "Burstable",
            # Merged by type with what is there (PodScheduled, DisruptionTarget stay).
            "conditions": [
                condition("PodReadyToStartContainers", "True" if started else "False"),
                condition("Initialized", "True"),
                condition("ContainersReady", flag, conditions_reason),
                condition("Ready", flag, conditions_reason),
            ],
            "containerStatuses": [container],
        }
        path = f"/api/v1/namespaces/{self.namespace}/pods/{self.name}/status"
        deadline = time.monotonic() + API_RETRY_SECONDS
        while True:
            try:
                self.api.patch(path, {"status": status}, kind="strategic")
                return
            except ApiError as error:
                if error.status == 404:
                    self.pod.gone.set()
                    return
                if error.status < 500 and error.status != 429:
                    raise
            except (OSError, httpx.HTTPError):
                pass  # the API server away (restarted by a test): retried below
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"status of {self.pod.key} not written for {API_RETRY_SECONDS} s"
                )
            time.sleep(1.0)


def _exit_code(returncode: int) -> int:
    """A container's exit code: a death by signal N is 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


def pod_labelled(**labels: str) -> PodPredicate:
    """A predicate: pods carrying all these labels (``app_kubernetes_io_component`` style
    names do not work for keys with dots and slashes: pass a dict with ``**{...}``)."""

    def matches(pod: dict[str, Any]) -> bool:
        have = (pod.get("metadata") or {}).get("labels") or {}
        return all(have.get(k) == v for k, v in labels.items())

    return matches


def in_namespace(namespace: str) -> PodPredicate:
    def matches(pod: dict[str, Any]) -> bool:
        return bool((pod.get("metadata") or {}).get("namespace") == namespace)

    return matches


@contextlib.contextmanager
def standin_kubelet(
    server: str, ca_file: Path, cert: tuple[Path, Path], workdir: Path, **options: Any
) -> Iterator[StandinKubelet]:
    kubelet = StandinKubelet(server, ca_file, cert, workdir, **options)
    kubelet.start()
    try:
        yield kubelet
    finally:
        kubelet.stop()


__all__ = [
    "DEFAULT_IMAGES",
    "Fault",
    "Image",
    "NodeSpec",
    "StandinKubelet",
    "expand",
    "image_repository",
    "in_namespace",
    "pod_labelled",
    "rewrite_path",
    "standin_kubelet",
]

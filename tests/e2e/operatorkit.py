"""The operator as the chart deploys it, run as a local process against the real API server.

The chart is installed into the test's namespace (``helm install``): its ServiceAccount,
Role, RoleBinding, claims and the operator's Deployment. Nothing runs that Deployment's
pod (it is pinned to a node that does not exist); :class:`OperatorPod` runs what the pod
would run instead: the built wheel's ``kubescribe operator`` with the container's args
and its environment resolved from the Deployment the API server holds (values,
``fieldRef``, ``secretKeyRef``), and its volumes mapped to folders the way a kubelet
would (a claim to its ``hostPath`` PersistentVolume, an emptyDir to a fresh folder, a
Secret to a folder of its keys).

Its credentials are a pod's: a token of the chart's operator ServiceAccount from the
TokenRequest API, with the cluster's CA and the namespace, in
``/var/run/secrets/kubernetes.io/serviceaccount/`` (the path the Kubernetes client's and
kopf's in-cluster loaders read, which no setting moves), and ``KUBERNETES_SERVICE_HOST``
and ``_PORT``. The process runs in a mount namespace of its own (``unshare --mount``, as
root) where a folder of the test's is bound over ``/run`` (``/var/run``), so the token is
where a pod has it and the machine's own ``/run`` is left alone. So the chart's Role is
what the API server enforces on every request the operator makes.

Two things differ from a pod, on purpose: processes share one network namespace, so the
liveness and HTTP API ports are free ports on 127.0.0.1 instead of 8080 and 8000 on all
addresses; and ``TZ=UTC``, so that the log's times compare with the test's.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from kubescribe_operator.jobs import ANNOTATION_PATH, LABEL_ATTEMPT, SELECTOR_LABELS
from kubescribe_operator.kube_api import load_api_client, selector_string
from kubescribe_operator.leader import LEASE_NAME
from kubescribe_protocol.names import MANUAL_DIR, in_progress_path, result_path

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "kubescribe"
HELM = REPO / "scripts" / "tools" / "helm"
RELEASE = "kubescribe"
#: Where a pod finds its ServiceAccount's token, CA and namespace (under /run: /var/run
#: is a link to it on every machine these tests run on).
SERVICE_ACCOUNT_DIR = "secrets/kubernetes.io/serviceaccount"
#: A node label no node has: the chart's operator pod stays Pending; the test runs it.
UNSCHEDULABLE = {"kubescribe.test/operator-runs": "outside-the-cluster"}
#: Transcription defaults of the e2e tests: the small English model, int8. ``auto``
#: asks the Job for a GPU (the stand-in kubelet's nodes have them) and runs on the CPU.
TEST_DEFAULTS = {
    "model": "tiny.en",
    "language": "en",
    "computeType": "int8",
    "device": "auto",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def unshare_works() -> str | None:
    """None when this machine can run a process in a mount namespace of its own (root,
    util-linux ``unshare``), else why not."""
    if shutil.which("unshare") is None:
        return "no unshare (util-linux) on PATH"
    if os.geteuid() != 0:
        return "not root: a private mount namespace for the pod's token path needs root"
    probe = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "true"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        return f"unshare --mount fails here: {probe.stderr.strip()}"
    return None


# --- the admin's side ---------------------------------------------------------------------
@dataclass
class Admin:
    """What a test does as the cluster's admin: its kubeconfig and API clients."""

    kubeconfig: Path
    api_client: Any = field(init=False)

    def __post_init__(self) -> None:
        self.api_client = load_api_client(str(self.kubeconfig))

    @property
    def core(self) -> Any:
        return client.CoreV1Api(self.api_client)

    @property
    def batch(self) -> Any:
        return client.BatchV1Api(self.api_client)

    @property
    def apps(self) -> Any:
        return client.AppsV1Api(self.api_client)

    @property
    def coordination(self) -> Any:
        return client.CoordinationV1Api(self.api_client)

    @property
    def custom(self) -> Any:
        return client.CustomObjectsApi(self.api_client)

    def _cluster(self) -> dict[str, Any]:
        config = yaml.safe_load(self.kubeconfig.read_text())
        current = next(c for c in config["contexts"] if c["name"] == config["current-context"])
        name = current["context"]["cluster"]
        cluster: dict[str, Any] = next(c for c in config["clusters"] if c["name"] == name)[
            "cluster"
        ]
        return cluster

    def server(self) -> tuple[str, int]:
        url = urlsplit(self._cluster()["server"])
        assert url.hostname is not None
        return url.hostname, url.port or 443

    def ca_pem(self) -> bytes:
        cluster = self._cluster()
        if "certificate-authority-data" in cluster:
            return base64.b64decode(cluster["certificate-authority-data"])
        path = Path(cluster["certificate-authority"])
        if not path.is_absolute():
            path = self.kubeconfig.parent / path
        return path.read_bytes()

    def token(self, namespace: str, service_account: str, seconds: int = 3600) -> str:
        """A token of the ServiceAccount from the TokenRequest API (what a kubelet puts
        in a pod's projected volume)."""
        answer = self.core.create_namespaced_service_account_token(
            service_account,
            namespace,
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
             "spec": {"expirationSeconds": seconds}},
        )  # fmt: skip
        token: str = answer.status.token
        return token

    def create_namespace(self, name: str) -> None:
        """A namespace that enforces Pod Security ``restricted``, as the chart expects."""
        labels = {
            f"pod-security.kubernetes.io/{mode}": "restricted"
            for mode in ("enforce", "audit", "warn")
        }
        self.core.create_namespace({"metadata": {"name": name, "labels": labels}})

    def delete_namespace(self, name: str) -> None:
        with contextlib.suppress(ApiException):
            self.core.delete_namespace(name, propagation_policy="Background")

    def lease_holder(self, namespace: str) -> str | None:
        try:
            lease = self.coordination.read_namespaced_lease(LEASE_NAME, namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        holder: str | None = lease.spec.holder_identity
        return holder

    def jobs(self, namespace: str) -> list[Any]:
        items: list[Any] = self.batch.list_namespaced_job(
            namespace, label_selector=selector_string(SELECTOR_LABELS)
        ).items
        return items

    def pods(self, namespace: str) -> list[Any]:
        items: list[Any] = self.core.list_namespaced_pod(
            namespace, label_selector=selector_string(SELECTOR_LABELS)
        ).items
        return items


# --- the chart --------------------------------------------------------------------------
@dataclass(frozen=True)
class Release:
    """The chart installed in a namespace, with its volumes on this machine's folders."""

    admin: Admin
    namespace: str
    root: Path
    model_dir: Path
    name: str = RELEASE

    @property
    def deployment_name(self) -> str:
        return f"{self.name}-operator"

    def deployment(self) -> dict[str, Any]:
        found: dict[str, Any] = self.admin.api_client.sanitize_for_serialization(
            self.admin.apps.read_namespaced_deployment(self.deployment_name, self.namespace)
        )
        return found


def chart_values(root: Path, model_dir: Path, **overrides: Any) -> dict[str, Any]:
    """The values of a quick test on top of the chart's defaults: the volume at the
    test's folder (so the Jobs mount it at the path the operator sees), the models
    folder where the model fixture put it, the quick defaults, no waiting for stable
    files."""
    values: dict[str, Any] = {
        "storage": {
            "root": str(root),
            "data": {"storageClassName": "", "keepOnUninstall": False},
            "models": {
                "mountPath": str(model_dir),
                "storageClassName": "",
                "keepOnUninstall": False,
            },
        },
        # The models are on their folder already; the chart's tests run the fill Job.
        "modelFill": {"enabled": False},
        "operator": {"nodeSelector": UNSCHEDULABLE},
        "defaults": TEST_DEFAULTS,
        "worker": {
            # What a stand-in node has room for, several at once.
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {}},
            "image": {"repository": "kubescribe-worker", "tag": "test"},
        },
        "controller": {
            "scanIntervalSeconds": 1,
            "stableSeconds": 0,
            "retryBackoffSeconds": 0,
            "parallel": 2,
            # A loaded CI machine starts a worker slowly: no false "lost worker".
            "heartbeatTimeoutSeconds": 600,
        },
    }
    _merge(values, overrides)
    return values


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> None:
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def install_chart(
    admin: Admin, namespace: str, root: Path, model_dir: Path, values: Mapping[str, Any]
) -> Release:
    """``helm install`` into ``namespace``, after hostPath PersistentVolumes reserved for
    the chart's two claims (the PV binder binds them), so a kubelet and this kit both
    find the folders behind them."""
    release = Release(admin, namespace, root, model_dir)
    for claim, folder in (("kubescribe-data", root), ("kubescribe-models", model_dir)):
        admin.core.create_persistent_volume(
            {
                "metadata": {
                    "name": f"{namespace}-{claim}",
                    "labels": {"kubescribe.test/namespace": namespace},
                },
                "spec": {
                    "capacity": {"storage": "100Gi"},
                    "accessModes": ["ReadWriteMany"],
                    "persistentVolumeReclaimPolicy": "Retain",
                    "storageClassName": "",
                    "hostPath": {"path": str(folder), "type": "Directory"},
                    "claimRef": {"namespace": namespace, "name": claim},
                },
            }
        )
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as file:
        yaml.safe_dump(dict(values), file)
    try:
        done = subprocess.run(
            [str(HELM), "install", release.name, str(CHART), "--namespace", namespace,
             "--kubeconfig", str(admin.kubeconfig), "--values", file.name],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    finally:
        Path(file.name).unlink()
    assert done.returncode == 0, f"helm install failed:\n{done.stdout}\n{done.stderr}"
    return release


def delete_volumes(admin: Admin, namespace: str) -> None:
    for volume in admin.core.list_persistent_volume(
        label_selector=f"kubescribe.test/namespace={namespace}"
    ).items:
        with contextlib.suppress(ApiException):
            admin.core.delete_persistent_volume(volume.metadata.name)


# --- the operator pod, run here -------------------------------------------------------------
def _bound_folder(admin: Admin, namespace: str, claim: str) -> Path:
    pvc = admin.core.read_namespaced_persistent_volume_claim(claim, namespace)
    assert pvc.spec.volume_name, f"claim {claim} is not bound"
    volume = admin.core.read_persistent_volume(pvc.spec.volume_name)
    return Path(volume.spec.host_path.path)


def _remap(value: str, mounts: Mapping[str, Path]) -> str:
    """``value`` with a container path under one of ``mounts`` turned into the folder
    that stands for that mount here."""
    for mount_path, folder in mounts.items():
        if value == mount_path or value.startswith(mount_path.rstrip("/") + "/"):
            return str(folder) + value[len(mount_path) :]
    return value


_LIVENESS = re.compile(r"^--liveness=http://[^/]+(/.*)$")


class OperatorPod:
    """One operator "pod" of the release: the Deployment's container, run here."""

    def __init__(self, release: Release, bin_dir: Path, workdir: Path, name: str) -> None:
        self.release = release
        self.bin_dir = bin_dir
        self.name = name
        self.folder = workdir / name
        self.folder.mkdir(parents=True)
        self.log = self.folder / "operator.log"
        self.liveness_port = free_port()
        self.api_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.command, self.env = self._pod_spec()

    @property
    def identity(self) -> str:
        """The operator's identity in the Lease (``POD_NAME``, from the fieldRef)."""
        return self.name

    def _pod_spec(self) -> tuple[list[str], dict[str, str]]:
        deployment = self.release.deployment()
        pod = deployment["spec"]["template"]["spec"]
        container = next(c for c in pod["containers"] if c["name"] == "operator")
        mounts = self._volumes(pod, container)
        env = self._env(container, mounts)
        args = [self._arg(arg) for arg in container.get("args") or []]
        run = self.folder / "run"
        self._service_account(run / SERVICE_ACCOUNT_DIR, pod["serviceAccountName"])
        host, port = self.release.admin.server()
        env.update(KUBERNETES_SERVICE_HOST=host, KUBERNETES_SERVICE_PORT=str(port))
        # The image's entrypoint (operator/Dockerfile), with the Deployment's args.
        entrypoint = [str(self.bin_dir / "kubescribe"), "operator"]
        # A mount namespace of its own, where the token folder is /run (/var/run).
        command = [
            "unshare", "--mount", "--propagation", "private", "--",
            "sh", "-c", 'mount --bind "$0" /run && exec "$@"', str(run),
            *entrypoint, *args,
        ]  # fmt: skip
        return command, env

    def _arg(self, arg: str) -> str:
        match = _LIVENESS.match(arg)
        if match:
            return f"--liveness=http://127.0.0.1:{self.liveness_port}{match.group(1)}"
        return arg

    def _volumes(self, pod: Mapping[str, Any], container: Mapping[str, Any]) -> dict[str, Path]:
        """Container mount path -> the folder that stands for it here."""
        admin, namespace = self.release.admin, self.release.namespace
        volumes = {volume["name"]: volume for volume in pod.get("volumes") or []}
        mounts: dict[str, Path] = {}
        for mount in container.get("volumeMounts") or []:
            volume = volumes[mount["name"]]
            if "persistentVolumeClaim" in volume:
                claim = volume["persistentVolumeClaim"]["claimName"]
                mounts[mount["mountPath"]] = _bound_folder(admin, namespace, claim)
            elif "emptyDir" in volume:
                folder = self.folder / "volumes" / mount["name"]
                folder.mkdir(parents=True)
                mounts[mount["mountPath"]] = folder
            elif "secret" in volume:
                folder = self.folder / "volumes" / mount["name"]
                folder.mkdir(parents=True)
                secret = admin.core.read_namespaced_secret(
                    volume["secret"]["secretName"], namespace
                )
                data = secret.data or {}
                items = volume["secret"].get("items") or [{"key": k, "path": k} for k in data]
                for item in items:
                    (folder / item["path"]).write_bytes(base64.b64decode(data[item["key"]]))
                mounts[mount["mountPath"]] = folder
            else:
                raise AssertionError(f"volume {volume} is not one this kit maps")
        return mounts

    def _env(self, container: Mapping[str, Any], mounts: Mapping[str, Path]) -> dict[str, str]:
        admin, namespace = self.release.admin, self.release.namespace
        env = {
            "PATH": f"{self.bin_dir}:/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "TZ": "UTC",
        }
        for item in container.get("env") or []:
            name = item["name"]
            if "value" in item:
                env[name] = _remap(str(item["value"]), mounts)
                continue
            source = item["valueFrom"]
            if "fieldRef" in source:
                field_path = source["fieldRef"]["fieldPath"]
                env[name] = {"metadata.name": self.name, "metadata.namespace": namespace}[
                    field_path
                ]
            elif "secretKeyRef" in source:
                ref = source["secretKeyRef"]
                try:
                    secret = admin.core.read_namespaced_secret(ref["name"], namespace)
                except ApiException as exc:
                    if exc.status == 404 and ref.get("optional"):
                        continue
                    raise
                value = (secret.data or {}).get(ref["key"])
                if value is None:
                    assert ref.get("optional"), f"secret {ref['name']} has no {ref['key']}"
                    continue
                env[name] = base64.b64decode(value).decode()
            else:
                raise AssertionError(f"env {name}: a source this kit does not resolve")
        # One network namespace for all processes here (a pod has its own).
        if "KUBESCRIBE_API_PORT" in env:
            env["KUBESCRIBE_API_HOST"] = "127.0.0.1"
            env["KUBESCRIBE_API_PORT"] = str(self.api_port)
        return env

    def _service_account(self, folder: Path, service_account: str) -> None:
        folder.mkdir(parents=True)
        admin, namespace = self.release.admin, self.release.namespace
        (folder / "token").write_text(admin.token(namespace, service_account))
        (folder / "ca.crt").write_bytes(admin.ca_pem())
        (folder / "namespace").write_text(namespace)

    # --- the process ----------------------------------------------------------------------
    def start(self) -> OperatorPod:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.command, stdout=out, stderr=subprocess.STDOUT, env=self.env,
                cwd=self.folder, start_new_session=True,
            )  # fmt: skip
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def healthy(self) -> bool:
        url = f"http://127.0.0.1:{self.liveness_port}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                return bool(answer.status == 200)
        except OSError:
            return False

    def kill(self) -> None:
        """kill -9: no cleanup, no Lease given back, Jobs left as they are."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(60)

    def terminate(self, timeout: float = 90) -> int:
        """SIGTERM, as the kubelet stops a pod; its exit status (killed after ``timeout``,
        then -9)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                return -9
        return self.proc.returncode

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


OperatorFactory = Callable[[], OperatorPod]


@contextlib.contextmanager
def operator_pods(release: Release, bin_dir: Path, workdir: Path) -> Iterator[OperatorFactory]:
    """Makes operator pods of the release (not started); stops those still running."""
    made: list[OperatorPod] = []

    def make() -> OperatorPod:
        pod = OperatorPod(
            release, bin_dir, workdir, f"{release.deployment_name}-{uuid.uuid4().hex[:5]}"
        )
        made.append(pod)
        return pod

    try:
        yield make
    finally:
        for pod in made:
            if pod.alive():
                pod.terminate(60)


# --- what the operator's log says -------------------------------------------------------------
#: The ways a refused request shows in the operator's log: kopf's errors
#: (``'code': 403``, APIForbiddenError), the Kubernetes client's ``(403)`` and
#: ``Reason: Forbidden``, KubeApiError's ``HTTP 403``.
_REFUSED = re.compile(
    r"HTTP (?:401|403|409|422)\b|\((?:401|403|409|422)\)|'code': (?:401|403|409|422)\b"
    r"|Reason: (?:Unauthorized|Forbidden|Conflict|Unprocessable Entity)"
    r"|API(?:Unauthorized|Forbidden|Conflict|Unprocessable)Error"
)
_STAMP = re.compile(r"^\[?(\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2})")


@dataclass(frozen=True)
class Refusal:
    at: datetime | None
    line: str


def refusals(log: str) -> list[Refusal]:
    """Every line of an operator's log that shows a 401, 403, 409 or 422, with the time
    of the log record it belongs to (a traceback's lines carry none of their own)."""
    found: list[Refusal] = []
    at: datetime | None = None
    for line in log.splitlines():
        stamp = _STAMP.match(line)
        if stamp:
            at = datetime.fromisoformat(stamp.group(1).replace(" ", "T")).replace(tzinfo=UTC)
        if _REFUSED.search(line):
            found.append(Refusal(at, line.strip()))
    return found


def refusals_outside(log: str, windows: list[tuple[datetime, datetime]]) -> list[Refusal]:
    """The refusals that no window excuses (see the control-plane tests for why a
    window is excused); one without a time is never excused."""
    return [
        refusal
        for refusal in refusals(log)
        if refusal.at is None or not any(start <= refusal.at <= end for start, end in windows)
    ]


# --- every Job ever created ---------------------------------------------------------------
@dataclass
class JobRecord:
    name: str
    uid: str
    path: str
    attempt: int


class JobRecorder:
    """Watches the namespace's Jobs from before the operator starts and records every
    Job that ever existed (by uid): a second Job of one (file, attempt) shows as two
    uids under one name. A watch that ends is resumed from its resourceVersion; after
    410 Gone, a fresh list (a Job born and gone inside that gap would be missed, which
    the tests avoid by keeping Jobs for longer than any gap)."""

    def __init__(self, admin: Admin, namespace: str) -> None:
        self.admin = admin
        self.namespace = namespace
        self.records: dict[str, JobRecord] = {}
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="job recorder", daemon=True)

    def __enter__(self) -> JobRecorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _note(self, job: Mapping[str, Any]) -> None:
        metadata = job.get("metadata") or {}
        labels = metadata.get("labels") or {}
        record = JobRecord(
            name=str(metadata.get("name")),
            uid=str(metadata.get("uid")),
            path=str((metadata.get("annotations") or {}).get(ANNOTATION_PATH)),
            attempt=int(labels.get(LABEL_ATTEMPT) or 0),
        )
        with self._lock:
            self.records.setdefault(record.uid, record)

    def _list(self) -> str:
        answer = self.admin.batch.list_namespaced_job(
            self.namespace, label_selector=selector_string(SELECTOR_LABELS),
            _preload_content=False,
        )  # fmt: skip
        body = yaml.safe_load(answer.data)
        for job in body.get("items") or []:
            self._note(job)
        return str(body["metadata"]["resourceVersion"])

    def _run(self) -> None:
        version: str | None = None
        while not self._stop.is_set():
            try:
                if version is None:
                    version = self._list()
                stream: Any = watch.Watch()  # type: ignore[no-untyped-call]
                for event in stream.stream(
                    self.admin.batch.list_namespaced_job, self.namespace,
                    label_selector=selector_string(SELECTOR_LABELS),
                    resource_version=version, timeout_seconds=20, allow_watch_bookmarks=True,
                ):  # fmt: skip
                    raw = event["raw_object"]
                    if event["type"] == "ERROR":
                        version = None if raw.get("code") == 410 else version
                        break
                    version = str(raw["metadata"]["resourceVersion"])
                    if event["type"] in ("ADDED", "MODIFIED", "DELETED"):
                        self._note(raw)
                    if self._stop.is_set():
                        break
            except ApiException as exc:
                if exc.status == 410:
                    version = None
                else:
                    self._pause(f"job watch: {exc.status} {exc.reason}")
            except Exception as exc:  # the API server may be down for a while (restarts)
                self._pause(f"job watch: {exc!r}")

    def _pause(self, why: str) -> None:
        self.errors.append(why)
        self._stop.wait(1)

    def jobs(self) -> list[JobRecord]:
        with self._lock:
            return list(self.records.values())

    def doubled(self) -> dict[tuple[str, int], list[str]]:
        """(file, attempt) -> the uids of its Jobs, for each that had more than one."""
        by_attempt: dict[tuple[str, int], list[str]] = {}
        for record in self.jobs():
            by_attempt.setdefault((record.path, record.attempt), []).append(record.uid)
        return {key: uids for key, uids in by_attempt.items() if len(uids) > 1}


# --- waiting for files ----------------------------------------------------------------------
def terminal(root: Path, rel: str) -> str | None:
    """``completed``, ``manual`` or None. A move to ``manual/`` is done once the
    ``.in_progress`` followed the audio (the move is a journal)."""
    if result_path(root / rel).is_file():
        return "completed"
    moved = root / MANUAL_DIR / rel
    if moved.is_file() and in_progress_path(moved).is_file():
        return "manual"
    return None


def wait_for(
    condition: Callable[[], bool], timeout: float, what: str, *, log: Callable[[], str]
) -> None:
    """Poll ``condition`` for up to ``timeout`` s (budgets of minutes: a loaded CI box)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n"
                         f"--- operator log ---\n{log()[-8000:]}")  # fmt: skip

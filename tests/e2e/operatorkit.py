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
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

# Re-exported: the e2e operator tests wait with it.
from volumekit import terminal as terminal

from e2e.kubekit import ApiError, Cluster
from e2e.standin_kubelet import Fault, StandinKubelet, in_namespace
from kubescribe_operator.k8s.jobs import SELECTOR_LABELS
from kubescribe_operator.k8s.kube_api import selector_string
from kubescribe_operator.k8s.leader import LEASE_NAME
from kubescribe_operator.k8s.names import ANNOTATION_PATH, LABEL_ATTEMPT

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


#: The API group and version of the kinds the tests read that are not core/v1.
_API_PREFIX = {
    "jobs": "/apis/batch/v1",
    "leases": "/apis/coordination.k8s.io/v1",
    "deployments": "/apis/apps/v1",
    "transcriptions": "/apis/kubescribe.io/v1alpha1",
}


# --- the chart --------------------------------------------------------------------------
@dataclass(frozen=True)
class Release:
    """The chart installed in a namespace, with its volumes on this machine's folders."""

    cluster: Cluster
    namespace: str
    root: Path
    model_dir: Path
    name: str = RELEASE

    @property
    def deployment_name(self) -> str:
        return f"{self.name}-operator"

    def path(self, kind: str, name: str = "", group: str = "") -> str:
        """The API path of a kind (``jobs``, ``pods``...) in the release's namespace."""
        prefix = _API_PREFIX.get(kind, "/api/v1")
        return f"{prefix}/namespaces/{self.namespace}/{kind}" + (f"/{name}" if name else "")

    def get(self, kind: str, name: str = "", **params: str) -> Any:
        return self.cluster.api.get(self.path(kind, name), **params)

    def deployment(self) -> dict[str, Any]:
        found: dict[str, Any] = self.get("deployments", self.deployment_name)
        return found

    def jobs(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.get(
            "jobs", labelSelector=selector_string(SELECTOR_LABELS)
        )["items"]
        return items

    def worker_pods(self) -> list[dict[str, Any]]:
        """The pods of the operator's Jobs (not the chart's own, e.g. its operator's)."""
        items: list[dict[str, Any]] = self.get(
            "pods", labelSelector=selector_string(SELECTOR_LABELS)
        )["items"]
        return items

    def lease_holder(self) -> str | None:
        try:
            lease = self.get("leases", LEASE_NAME)
        except ApiError as error:
            if error.status == 404:
                return None
            raise
        holder = (lease.get("spec") or {}).get("holderIdentity")
        return str(holder) if holder else None


def chart_values(root: Path, model_dir: Path) -> dict[str, Any]:
    """The values of every e2e test on top of the chart's defaults: the volume at the
    test's folder (so the Jobs mount it at the path the operator sees), the models
    folder where the model fixture put it, the quick defaults, no waiting for stable
    files. A test's own values go in a second values file over these."""
    return {
        "storage": {
            "root": str(root),
            "data": {"keepOnUninstall": False},
            "models": {"mountPath": str(model_dir), "keepOnUninstall": False},
        },
        # The models are in their folder already; the chart's own tests run the fill Job.
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


def install_chart(
    cluster: Cluster, namespace: str, root: Path, model_dir: Path, values: Mapping[str, Any]
) -> Release:
    """``helm install`` into ``namespace`` with :func:`chart_values` and then ``values``,
    after hostPath PersistentVolumes reserved for the chart's two claims (the PV binder
    binds them), so a kubelet and this kit both find the folders behind them."""
    release = Release(cluster, namespace, root, model_dir)
    for claim, volume, size in (
        ("kubescribe-data", root, "100Gi"),
        ("kubescribe-models", model_dir, "20Gi"),
    ):
        cluster.hostpath_volume(volume, namespace=namespace, claim=claim, size=size)
    with tempfile.TemporaryDirectory(prefix="kubescribe-values-") as folder:
        files = []
        for number, layer in enumerate((chart_values(root, model_dir), values)):
            file = Path(folder) / f"values-{number}.yaml"
            file.write_text(yaml.safe_dump(dict(layer)))
            files += ["--values", str(file)]
        cluster.helm("install", release.name, str(CHART), "--namespace", namespace, *files)
    for claim in ("kubescribe-data", "kubescribe-models"):
        cluster.wait_bound(namespace, claim)
    return release


# --- the operator pod, run here -------------------------------------------------------------
def _bound_folder(release: Release, claim: str) -> Path:
    pvc = release.get("persistentvolumeclaims", claim)
    volume = pvc["spec"].get("volumeName")
    assert volume, f"claim {claim} is not bound"
    return Path(
        release.cluster.api.get(f"/api/v1/persistentvolumes/{volume}")["spec"]["hostPath"]["path"]
    )


def _secret(release: Release, name: str) -> dict[str, bytes] | None:
    """A Secret's data, decoded; None if there is no such Secret."""
    try:
        secret = release.get("secrets", name)
    except ApiError as error:
        if error.status == 404:
            return None
        raise
    return {key: base64.b64decode(value) for key, value in (secret.get("data") or {}).items()}


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
        #: How many times the process was started again (``start(restart=True)``).
        self.restarts = 0
        self._keep = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
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
        url = urlsplit(self.release.cluster.server)
        host, port = url.hostname or "127.0.0.1", url.port or 443
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
        volumes = {volume["name"]: volume for volume in pod.get("volumes") or []}
        mounts: dict[str, Path] = {}
        for mount in container.get("volumeMounts") or []:
            volume = volumes[mount["name"]]
            if "persistentVolumeClaim" in volume:
                claim = volume["persistentVolumeClaim"]["claimName"]
                mounts[mount["mountPath"]] = _bound_folder(self.release, claim)
            elif "emptyDir" in volume:
                folder = self.folder / "volumes" / mount["name"]
                folder.mkdir(parents=True)
                mounts[mount["mountPath"]] = folder
            elif "secret" in volume:
                folder = self.folder / "volumes" / mount["name"]
                folder.mkdir(parents=True)
                data = _secret(self.release, volume["secret"]["secretName"])
                assert data is not None, f"no secret {volume['secret']['secretName']}"
                items = volume["secret"].get("items") or [{"key": k, "path": k} for k in data]
                for item in items:
                    (folder / item["path"]).write_bytes(data[item["key"]])
                mounts[mount["mountPath"]] = folder
            else:
                raise AssertionError(f"volume {volume} is not one this kit maps")
        return mounts

    def _env(self, container: Mapping[str, Any], mounts: Mapping[str, Path]) -> dict[str, str]:
        namespace = self.release.namespace
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
                value = (_secret(self.release, ref["name"]) or {}).get(ref["key"])
                if value is None:
                    assert ref.get("optional"), f"secret {ref['name']} has no {ref['key']}"
                    continue
                env[name] = value.decode()
            else:
                raise AssertionError(f"env {name}: a source this kit does not resolve")
        # One network namespace for all processes here (a pod has its own).
        if "KUBESCRIBE_API_PORT" in env:
            env["KUBESCRIBE_API_HOST"] = "127.0.0.1"
            env["KUBESCRIBE_API_PORT"] = str(self.api_port)
        return env

    def _service_account(self, folder: Path, service_account: str) -> None:
        folder.mkdir(parents=True)
        cluster, namespace = self.release.cluster, self.release.namespace
        (folder / "token").write_text(cluster.service_account_token(namespace, service_account))
        (folder / "ca.crt").write_bytes(cluster.ca_file.read_bytes())
        (folder / "namespace").write_text(namespace)

    # --- the process ----------------------------------------------------------------------
    def start(self, *, restart: bool = False) -> OperatorPod:
        """Starts the operator. ``restart``: as a Deployment's pod (restartPolicy
        Always), the process is started again whenever it exits, after the kubelet's
        first back-off (10 s), until :meth:`terminate` or :meth:`kill`."""
        self._launch()
        if restart:
            self._keep.set()
            threading.Thread(
                target=self._supervise, name=f"{self.name} restarts", daemon=True
            ).start()
        return self

    def _launch(self, *, again: bool = False) -> None:
        with self._lock, self.log.open("ab") as out:
            if again and self._stopping.is_set():
                return  # stopped while it waited to restart
            if again:
                self.restarts += 1
            self.proc = subprocess.Popen(
                self.command, stdout=out, stderr=subprocess.STDOUT, env=self.env,
                cwd=self.folder, start_new_session=True,
            )  # fmt: skip

    def _supervise(self) -> None:
        while self._keep.is_set():
            assert self.proc is not None
            self.proc.wait()
            if self._keep.is_set() and not self._stopping.wait(10):
                self._launch(again=True)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def healthy(self) -> bool:
        url = f"http://127.0.0.1:{self.liveness_port}/healthz"
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                return bool(answer.status == 200)
        except OSError:
            return False

    def _signal(self, sig: signal.Signals) -> subprocess.Popen[bytes]:
        """Stops restarts, then signals the process's group; the process."""
        self._keep.clear()
        self._stopping.set()
        with self._lock:
            assert self.proc is not None
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, sig)
            return self.proc

    def kill(self) -> None:
        """kill -9: no cleanup, no Lease given back, Jobs left as they are."""
        self._signal(signal.SIGKILL).wait(60)

    def terminate(self, timeout: float = 90) -> int:
        """SIGTERM, as the kubelet stops a pod; its exit status (killed after ``timeout``,
        then -9)."""
        proc = self._signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            return -9
        return proc.returncode

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


OperatorFactory = Callable[[], OperatorPod]


@contextlib.contextmanager
def operator_pods(release: Release, bin_dir: Path, workdir: Path) -> Iterator[OperatorFactory]:
    """Makes operator pods of the release (not started); stops those still running."""
    made: list[OperatorPod] = []

    def make() -> OperatorPod:
        name = f"{release.deployment_name}-{uuid.uuid4().hex[:5]}"
        pod = OperatorPod(release, bin_dir, workdir, name)
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
    """Watches the release's Jobs from before the operator starts and records every Job
    that ever existed (by uid): a second Job of one (file, attempt) shows as two uids.
    A watch that ends is resumed from its resourceVersion; after 410 Gone, a fresh list
    (a Job born and gone inside such a gap would be missed: the tests keep Jobs for
    longer than any gap)."""

    def __init__(self, release: Release) -> None:
        self.release = release
        self.records: dict[str, JobRecord] = {}
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="job recorder", daemon=True)

    def __enter__(self) -> JobRecorder:
        self._list()  # the Jobs there are before the thread starts
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(60)

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
        body = self.release.get("jobs", labelSelector=selector_string(SELECTOR_LABELS))
        for job in body.get("items") or []:
            self._note(job)
        return str(body["metadata"]["resourceVersion"])

    def _run(self) -> None:
        version: str | None = None
        selector = selector_string(SELECTOR_LABELS)
        while not self._stop.is_set():
            try:
                if version is None:
                    version = self._list()
                for event in self.release.cluster.api.watch(
                    self.release.path("jobs"), resource_version=version, timeout_seconds=20,
                    labelSelector=selector,
                ):  # fmt: skip
                    body = event["object"]
                    if event["type"] == "ERROR":
                        if body.get("code") == 410:
                            version = None
                        break
                    version = str(body["metadata"]["resourceVersion"])
                    if event["type"] != "BOOKMARK":
                        self._note(body)
                    if self._stop.is_set():
                        break
            except ApiError as error:
                if error.status == 410:
                    version = None
                else:
                    self._pause(f"job watch: {error}")
            except Exception as error:  # the API server may be down a while (its restart)
                self._pause(f"job watch: {error!r}")

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


# --- what the pods run --------------------------------------------------------------------
#: ``kubescribe`` for pods whose work does not matter to a test: ``kubescribe worker
#: --root R --attempt N [--model-dir M] -- PATH`` writes the ``.result`` a worker would
#: (after ``STANDIN_SECONDS``, 0 unless the kubelet's env says; and, where the env names
#: a ``STANDIN_GATE`` file, not before that file exists: a test holds its pods Running for
#: as long as it needs, without betting on a duration; put it on the data volume, as a
#: Job's /tmp is an emptyDir) and exits 0. A shell script, so a
#: pod costs milliseconds, not a Python start.
STANDIN_WORKER = """#!/bin/sh
set -eu
[ "$1" = worker ] || { echo "stand-in: only 'kubescribe worker'" >&2; exit 2; }
shift
while [ "$1" != -- ]; do
  case "$1" in --root) root=$2 ;; esac
  shift 2
done
rel=$2
sleep "${STANDIN_SECONDS:-0}"
while [ -n "${STANDIN_GATE:-}" ] && [ ! -e "$STANDIN_GATE" ]; do sleep 0.2; done
dir=$(dirname "$root/$rel")
name=$(basename "$rel")
printf '{"filename": "%s", "path": "%s", "transcription": {"text": "stand-in"}}\\n' \\
  "$name" "$rel" > "$dir/.$name.result.tmp"
mv "$dir/.$name.result.tmp" "$dir/$name.result"
"""


def standin_bin(folder: Path) -> Path:
    """A bin folder whose ``kubescribe`` is :data:`STANDIN_WORKER`."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "kubescribe"
    script.write_text(STANDIN_WORKER)
    script.chmod(0o755)
    return folder


# --- fixtures (a test module imports the ones it uses) --------------------------------------
@dataclass
class Deployed:
    """A release of the chart, a factory of its operator pods, the Jobs it ever had, and
    the kubelet that runs its pods."""

    release: Release
    pod: OperatorFactory
    jobs: JobRecorder
    kubelet: StandinKubelet

    def inject(self, fault: Fault, *, times: int | None = 1) -> Any:
        """The next ``times`` pods of this release's namespace suffer ``fault``."""
        return self.kubelet.inject(fault, in_namespace(self.release.namespace), times=times)

    @property
    def root(self) -> Path:
        return self.release.root


Deploy = Callable[..., Deployed]


@pytest.fixture(name="deploy")
def deploy_fixture(
    cluster: Cluster,
    namespace: str,
    kubelet: StandinKubelet,
    model_dir: Path,
    operator_venv: Path,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> Iterator[Deploy]:
    """``deploy(pods_run=..., **values)``: the chart installed into the test's namespace
    with the e2e values and then ``values`` (nested dicts, as in values.yaml), a Job
    recorder watching from before any operator runs, and a factory of operator pods
    (the built wheel with ``[operator]`` only: what the operator image holds). The
    kubelet runs the pods' ``kubescribe`` from the built wheel with every extra
    (``pods_run="wheel"``: real transcription) or :data:`STANDIN_WORKER` (``"standin"``).
    At the end, the operators still running are stopped (SIGTERM), the recorder too."""
    saved = (list(kubelet.bin_dirs), dict(kubelet.env))
    with contextlib.ExitStack() as stack:

        def deploy(pods_run: str = "standin", **values: Any) -> Deployed:
            if pods_run == "wheel":
                wheel_venv: Path = request.getfixturevalue("wheel_venv")
                kubelet.bin_dirs = [wheel_venv / "bin"]
            else:
                kubelet.bin_dirs = [standin_bin(tmp_path / "standin-bin")]
            # The wheel's code, not the checkout's (the kubelet passes PYTHONPATH on).
            kubelet.env["PYTHONPATH"] = ""
            root = tmp_path / "data"
            root.mkdir()
            release = install_chart(cluster, namespace, root, model_dir, values)
            recorder = stack.enter_context(JobRecorder(release))
            pods = stack.enter_context(operator_pods(release, operator_venv / "bin", tmp_path))
            return Deployed(release, pods, recorder, kubelet)

        try:
            yield deploy
        finally:
            kubelet.bin_dirs, kubelet.env = saved

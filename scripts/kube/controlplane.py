"""A real Kubernetes control plane on 127.0.0.1, the way controller-runtime's envtest runs one.

etcd, kube-apiserver (RBAC and Node authorization, the default admission plugins, so Pod
Security admission is on), kube-controller-manager (every controller, each with its own
ServiceAccount's credentials) and kube-scheduler, each its own process group on free
ports, with certificates made by ``openssl``. Nothing runs pods: a stand-in kubelet does
(``tests/e2e/standin_kubelet.py``).

    python3 scripts/kube/controlplane.py up [--dir DIR]     # starts it, prints KUBECONFIG
    python3 scripts/kube/controlplane.py env [--dir DIR]    # export KUBECONFIG=...
    python3 scripts/kube/controlplane.py down [--dir DIR]   # stops what `up` started

From Python (the e2e tests' session fixture does this)::

    with ControlPlane.start(workdir) as plane:
        plane.admin_kubeconfig      # a kubeconfig of a system:masters user
        plane.restart("kube-apiserver")

Only the processes it started are stopped, by their process groups, and only its folder
is removed (``down``). The binaries come from ``controlplane_binaries.binaries()``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType

sys.path.insert(0, str(Path(__file__).resolve().parent))
from controlplane_binaries import binaries

HOST = "127.0.0.1"
SERVICE_CIDR = "10.0.0.0/24"
#: The first address of SERVICE_CIDR: the ``kubernetes`` Service's ClusterIP.
SERVICE_IP = "10.0.0.1"
ISSUER = "https://kubernetes.default.svc.cluster.local"
#: Seconds each component gets to answer its health check (a loaded 2-core machine).
START_TIMEOUT = 180.0
STOP_GRACE = 15.0
STATE_FILE = "controlplane.json"
#: Set (to the control plane's folder) in the environment of every process a test starts
#: for this control plane (the stand-in kubelet's pods, operators): when the control plane
#: stops, or its guard finds the test session gone, every such process still alive is
#: killed, even one that left its process group.
SESSION_ENV = "KUBESCRIBE_E2E_SESSION"


class ControlPlaneError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# --- certificates -----------------------------------------------------------------------


def _openssl(*args: str, cwd: Path) -> None:
    done = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise ControlPlaneError(f"openssl {' '.join(args)}: {done.stderr.strip()}")


def _signed(pki: Path, name: str, subject: str, extensions: str) -> None:
    """``name.key`` and ``name.crt``, signed by the CA in ``pki``."""
    (pki / f"{name}.ext").write_text(extensions)
    _openssl("genrsa", "-out", f"{name}.key", "2048", cwd=pki)
    _openssl("req", "-new", "-key", f"{name}.key", "-subj", subject, "-out", f"{name}.csr", cwd=pki)
    _openssl(
        *("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key"),
        *("-CAcreateserial", "-days", "30", "-sha256"),
        *("-extfile", f"{name}.ext", "-out", f"{name}.crt"),
        cwd=pki,
    )


#: Client certificates: file name -> subject (CN is the user, O the groups).
CLIENTS = {
    "admin": "/O=system:masters/CN=kubescribe-admin",
    "controller-manager": "/CN=system:kube-controller-manager",
    "scheduler": "/CN=system:kube-scheduler",
}
_CLIENT_EXT = "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"


def make_pki(pki: Path) -> None:
    pki.mkdir(parents=True, exist_ok=True)
    _openssl("genrsa", "-out", "ca.key", "2048", cwd=pki)
    _openssl(
        *("req", "-x509", "-new", "-key", "ca.key", "-sha256", "-days", "30"),
        *("-subj", "/CN=kubescribe-test-ca", "-out", "ca.crt"),
        cwd=pki,
    )
    _signed(
        pki,
        "apiserver",
        "/CN=kube-apiserver",
        _CLIENT_EXT
        + "extendedKeyUsage=serverAuth\n"
        + f"subjectAltName=IP:{HOST},IP:{SERVICE_IP},DNS:localhost,DNS:kubernetes,"
        "DNS:kubernetes.default,DNS:kubernetes.default.svc,"
        "DNS:kubernetes.default.svc.cluster.local\n",
    )
    for name, subject in CLIENTS.items():
        _signed(pki, name, subject, _CLIENT_EXT + "extendedKeyUsage=clientAuth\n")
    _openssl("genrsa", "-out", "sa.key", "2048", cwd=pki)
    _openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=pki)


def write_kubeconfig(path: Path, server: str, ca: Path, cert: Path, key: Path) -> Path:
    # JSON is YAML: no YAML library needed here.
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "kubescribe-e2e",
                "cluster": {"server": server, "certificate-authority": str(ca)},
            }
        ],
        "users": [
            {
                "name": "kubescribe-e2e",
                "user": {"client-certificate": str(cert), "client-key": str(key)},
            }
        ],
        "contexts": [
            {
                "name": "kubescribe-e2e",
                "context": {"cluster": "kubescribe-e2e", "user": "kubescribe-e2e"},
            }
        ],
        "current-context": "kubescribe-e2e",
    }
    path.write_text(json.dumps(config, indent=2) + "\n")
    return path


# --- processes ----------------------------------------------------------------------------


@dataclass
class Ports:
    etcd: int = field(default_factory=free_port)
    etcd_peer: int = field(default_factory=free_port)
    apiserver: int = field(default_factory=free_port)
    controller_manager: int = field(default_factory=free_port)
    scheduler: int = field(default_factory=free_port)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie of ours still answers kill(0); it is gone for our purposes.
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    return True


def kill_marked(marker: str) -> list[int]:
    """SIGKILLs every process whose environment holds ``SESSION_ENV=marker``; their pids."""
    wanted = f"{SESSION_ENV}={marker}".encode()
    killed = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue  # gone, or not ours to read
        if wanted in environ:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(entry.name), signal.SIGKILL)
                killed.append(int(entry.name))
    return killed


def stop_group(pid: int, grace: float = STOP_GRACE) -> None:
    """SIGTERM the process group ``pid`` leads, SIGKILL it after ``grace`` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not _alive(pid):
                break
            time.sleep(0.1)
        else:
            continue
        # The leader is gone; SIGKILL whatever else of its group lingers.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        return


@dataclass
class ControlPlane:
    """One running control plane; its folder holds certs, kubeconfigs, data and logs."""

    workdir: Path
    bin_dir: Path
    ports: Ports
    #: Component name -> pid, each the leader of its own process group.
    pids: dict[str, int] = field(default_factory=dict)
    #: The guard process (see :meth:`start`), while there is one.
    guard: subprocess.Popen[bytes] | None = None

    # -- paths ------------------------------------------------------------------------
    @property
    def pki(self) -> Path:
        return self.workdir / "pki"

    @property
    def logs(self) -> Path:
        return self.workdir / "logs"

    @property
    def server(self) -> str:
        return f"https://{HOST}:{self.ports.apiserver}"

    @property
    def etcd_url(self) -> str:
        """etcd's client URL (plain HTTP; its JSON gateway answers ``/v3/...``)."""
        return f"http://{HOST}:{self.ports.etcd}"

    @property
    def ca_file(self) -> Path:
        return self.pki / "ca.crt"

    @property
    def session_marker(self) -> dict[str, str]:
        """Env to give every process started for this control plane (see SESSION_ENV)."""
        return {SESSION_ENV: str(self.workdir)}

    @property
    def admin_kubeconfig(self) -> Path:
        return self.workdir / "admin.kubeconfig"

    def kubeconfig_of(self, client: str) -> Path:
        return self.workdir / f"{client}.kubeconfig"

    # -- life ------------------------------------------------------------------------
    @classmethod
    def start(
        cls, workdir: Path, bin_dir: Path | None = None, *, guarded: bool = True
    ) -> ControlPlane:
        """Makes certs and kubeconfigs in ``workdir`` and starts the four components.

        ``guarded``: a guard process stops them all once this process is gone, however
        it went (even ``kill -9``), so a test session never leaves a control plane behind.
        """
        plane = cls(workdir=workdir, bin_dir=bin_dir or binaries(), ports=Ports())
        workdir.mkdir(parents=True, exist_ok=True)
        plane.logs.mkdir(exist_ok=True)
        make_pki(plane.pki)
        for client in CLIENTS:
            write_kubeconfig(
                plane.kubeconfig_of(client),
                plane.server,
                plane.ca_file,
                plane.pki / f"{client}.crt",
                plane.pki / f"{client}.key",
            )
        try:
            plane.save()
            if guarded:
                plane._start_guard()
            for name in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"):
                plane._launch(name)
                plane.wait_healthy(name)
        except BaseException:
            plane.stop()
            raise
        return plane

    def __enter__(self) -> ControlPlane:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _command(self, name: str) -> list[str]:
        pki, ports = self.pki, self.ports
        binary = str(self.bin_dir / name)
        if name == "etcd":
            peer = f"http://{HOST}:{ports.etcd_peer}"
            return [
                binary,
                *("--name", "default", "--data-dir", str(self.workdir / "etcd")),
                *("--listen-client-urls", self.etcd_url, "--advertise-client-urls", self.etcd_url),
                *("--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer),
                *("--initial-cluster", f"default={peer}"),
                "--unsafe-no-fsync",
                *("--log-level", "warn"),
            ]
        if name == "kube-apiserver":
            return [
                binary,
                *("--etcd-servers", self.etcd_url),
                *("--bind-address", HOST, "--advertise-address", HOST),
                *("--secure-port", str(ports.apiserver)),
                *("--cert-dir", str(self.workdir / "apiserver-certs")),
                *("--tls-cert-file", str(pki / "apiserver.crt")),
                *("--tls-private-key-file", str(pki / "apiserver.key")),
                *("--client-ca-file", str(pki / "ca.crt")),
                *("--authorization-mode", "RBAC,Node"),
                *("--service-account-issuer", ISSUER),
                *("--service-account-key-file", str(pki / "sa.pub")),
                *("--service-account-signing-key-file", str(pki / "sa.key")),
                *("--service-cluster-ip-range", SERVICE_CIDR),
                *("--endpoint-reconciler-type", "none"),
                "--profiling=false",
            ]
        common = [
            *("--bind-address", HOST),
            "--leader-elect=false",
            "--profiling=false",
        ]
        if name == "kube-controller-manager":
            kubeconfig = str(self.kubeconfig_of("controller-manager"))
            return [
                binary,
                *common,
                *("--secure-port", str(ports.controller_manager)),
                *("--cert-dir", str(self.workdir / "controller-manager-certs")),
                *("--kubeconfig", kubeconfig),
                *("--authentication-kubeconfig", kubeconfig),
                *("--authorization-kubeconfig", kubeconfig),
                *("--controllers", "*"),
                "--use-service-account-credentials",
                *("--service-account-private-key-file", str(pki / "sa.key")),
                *("--root-ca-file", str(pki / "ca.crt")),
                *("--cluster-signing-cert-file", str(pki / "ca.crt")),
                *("--cluster-signing-key-file", str(pki / "ca.key")),
                # A claim created before its PV binds on the next sync (15 s by default).
                "--pvclaimbinder-sync-period=2s",
                *("--service-cluster-ip-range", SERVICE_CIDR),
            ]
        if name == "kube-scheduler":
            kubeconfig = str(self.kubeconfig_of("scheduler"))
            return [
                binary,
                *common,
                *("--secure-port", str(ports.scheduler)),
                *("--cert-dir", str(self.workdir / "scheduler-certs")),
                *("--kubeconfig", kubeconfig),
                *("--authentication-kubeconfig", kubeconfig),
                *("--authorization-kubeconfig", kubeconfig),
            ]
        raise ControlPlaneError(f"no component {name!r}")

    def _start_guard(self) -> None:
        # The guard reads its stdin until EOF: the end of this process (any death closes
        # the pipe), or stop() closing it. Then it stops the groups in the state file.
        self.guard = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "guard", "--dir", str(self.workdir)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=(self.logs / "guard.log").open("ab"),
            start_new_session=True,
        )

    def _launch(self, name: str) -> None:
        log = (self.logs / f"{name}.log").open("ab")
        with log:
            proc = subprocess.Popen(
                self._command(name),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                # Its own process group: stopped by the group, and a Ctrl-C at the
                # terminal does not reach it before we stop it in order.
                start_new_session=True,
            )
        self.pids[name] = proc.pid
        self.save()

    def _health_url(self, name: str) -> str:
        if name == "etcd":
            return f"{self.etcd_url}/health"
        port = {
            "kube-apiserver": self.ports.apiserver,
            "kube-controller-manager": self.ports.controller_manager,
            "kube-scheduler": self.ports.scheduler,
        }[name]
        return f"https://{HOST}:{port}/" + ("readyz" if name == "kube-apiserver" else "healthz")

    def _ssl_context(self, name: str) -> ssl.SSLContext:
        if name == "kube-apiserver":
            context = ssl.create_default_context(cafile=str(self.ca_file))
            context.load_cert_chain(str(self.pki / "admin.crt"), str(self.pki / "admin.key"))
            return context
        # The controller-manager and scheduler serve a self-signed cert of their own.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context

    def healthy(self, name: str) -> bool:
        url = self._health_url(name)
        context = None if name == "etcd" else self._ssl_context(name)
        try:
            with urllib.request.urlopen(url, timeout=5, context=context) as answer:  # noqa: S310
                return bool(answer.status == 200)
        except (urllib.error.URLError, OSError, ssl.SSLError):
            return False

    def wait_healthy(self, name: str, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid = self.pids.get(name)
            if pid is None or not _alive(pid):
                raise ControlPlaneError(f"{name} exited; its log:\n{self.log_tail(name)}")
            if self.healthy(name):
                return
            time.sleep(0.25)
        raise ControlPlaneError(f"{name} not healthy after {timeout:.0f} s:\n{self.log_tail(name)}")

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.logs / f"{name}.log"
        if not path.exists():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def stop_component(self, name: str, grace: float = STOP_GRACE) -> None:
        """Stops one component (SIGTERM, then SIGKILL); :meth:`start_component` brings it back."""
        pid = self.pids.pop(name, None)
        if pid is not None:
            stop_group(pid, grace)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
            self.save()

    def start_component(self, name: str) -> None:
        """Starts a stopped component on its old port and waits until it is healthy."""
        if name in self.pids and _alive(self.pids[name]):
            raise ControlPlaneError(f"{name} is running")
        self._launch(name)
        self.wait_healthy(name)

    def restart(self, name: str, grace: float = STOP_GRACE) -> None:
        """Stops and starts one component (``kube-apiserver``, ``etcd``, ...) on the same port."""
        self.stop_component(name, grace)
        self.start_component(name)

    def stop(self) -> None:
        """Stops every component it started, the API server's clients first, etcd last."""
        for name in ("kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd"):
            self.stop_component(name)
        kill_marked(str(self.workdir))
        with contextlib.suppress(FileNotFoundError):
            (self.workdir / STATE_FILE).unlink()
        if self.guard is not None:
            assert self.guard.stdin is not None
            self.guard.stdin.close()
            self.guard.wait(60)
            self.guard = None

    # -- state, for the command line's `down` ------------------------------------------
    def save(self) -> None:
        state = {
            "workdir": str(self.workdir),
            "bin_dir": str(self.bin_dir),
            "ports": asdict(self.ports),
            "pids": self.pids,
        }
        (self.workdir / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")

    @classmethod
    def load(cls, workdir: Path) -> ControlPlane:
        state = json.loads((workdir / STATE_FILE).read_text())
        return cls(
            workdir=Path(state["workdir"]),
            bin_dir=Path(state["bin_dir"]),
            ports=Ports(**state["ports"]),
            pids={name: int(pid) for name, pid in state["pids"].items()},
        )


@contextlib.contextmanager
def running(workdir: Path | None = None) -> Iterator[ControlPlane]:
    """A control plane for the ``with`` block, in ``workdir`` or a temporary folder."""
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kube-")))
        with ControlPlane.start(workdir) as plane:
            yield plane


# --- command line ---------------------------------------------------------------------------


def _default_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"kubescribe-controlplane-{os.getuid()}"


def _guard(workdir: Path) -> int:
    """Waits for EOF on stdin (its starter is gone or done), then stops what is left."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while sys.stdin.buffer.read(4096):
        pass
    if (workdir / STATE_FILE).exists():
        plane = ControlPlane.load(workdir)
        if plane.pids:
            print(f"stopping what its starter left: {plane.pids}", file=sys.stderr)
        plane.stop()
    # The tests' processes (pods of the stand-in kubelet) of a session that died.
    killed = kill_marked(str(workdir))
    if killed:
        print(f"killed the session's processes {killed}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("action", choices=["up", "down", "env", "guard"])
    parser.add_argument("--dir", type=Path, default=_default_dir(), help="its folder (%(default)s)")
    args = parser.parse_args(argv)
    workdir: Path = args.dir.resolve()
    if args.action == "up":
        if (workdir / STATE_FILE).exists():
            print(f"already up in {workdir} (down first)", file=sys.stderr)
            return 1
        started = time.monotonic()
        plane = ControlPlane.start(workdir, guarded=False)
        print(f"up in {time.monotonic() - started:.1f} s: {plane.server}", file=sys.stderr)
        print(f"export KUBECONFIG={plane.admin_kubeconfig}")
        return 0
    if args.action == "guard":
        return _guard(workdir)
    if not (workdir / STATE_FILE).exists():
        print(f"no control plane in {workdir}", file=sys.stderr)
        return 1 if args.action == "env" else 0
    plane = ControlPlane.load(workdir)
    if args.action == "env":
        print(f"export KUBECONFIG={plane.admin_kubeconfig}")
        return 0
    plane.stop()
    import shutil

    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

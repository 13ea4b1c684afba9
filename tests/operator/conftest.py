"""Fixtures of the operator tests: the emulated API server, a kubelet, the operator process.

The operator runs as its own process (``kubescribe operator``, kopf with ``-m``), as in
a cluster, pointed at the emulator by a kubeconfig, so killing and restarting it is
real. Its root is the test's temporary folder, which the Jobs mount at the same path.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kube_emulator import EmulatorServer
from kubelet import Kubelet
from kubescribe_operator.kube_api import load_api_client
from kubescribe_protocol.names import MANUAL_DIR, in_progress_path, result_path

#: Transcription defaults of every test: the small English model on the CPU.
TEST_DEFAULTS = {"model_size": "tiny.en", "device": "cpu", "compute_type": "int8", "language": "en"}


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer() as server:
        yield server


@pytest.fixture
def kubeconfig(emulator: EmulatorServer, tmp_path: Path) -> Path:
    return emulator.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


@pytest.fixture
def api_client(kubeconfig: Path) -> Any:
    return load_api_client(str(kubeconfig))


@pytest.fixture
def kubelet(api_client: Any, tmp_path: Path) -> Iterator[Kubelet]:
    logs = tmp_path / "pods"
    logs.mkdir()
    with Kubelet(api_client, logs) as fake:
        yield fake
    assert fake.errors == []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class OperatorProcess:
    """``kubescribe operator`` in a child process, with its log in a file."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> OperatorProcess:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable, "-m", "kubescribe_cli", "operator", "--namespace", "default",
                    "--liveness", f"http://127.0.0.1:{self.port}/healthz",
                ],
                stdout=out, stderr=subprocess.STDOUT, env=self.env, start_new_session=True,
            )  # fmt: skip
        return self

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def kill(self) -> None:
        """kill -9: no cleanup, no Lease released, Jobs left as they are."""
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


OperatorFactory = Callable[..., OperatorProcess]


@pytest.fixture
def operator(
    kubeconfig: Path, root: Path, model_dir: Path, tmp_path: Path
) -> Iterator[OperatorFactory]:
    """Makes operator processes (not started) with settings for a quick test."""
    made: list[OperatorProcess] = []

    def make(**settings: Any) -> OperatorProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBESCRIBE_")}
        values: dict[str, Any] = {
            "root": str(root),
            "model_dir": str(model_dir),
            "stable_seconds": 0,
            "scan_interval_seconds": 0.3,
            "retry_backoff_seconds": 0,
            "parallel": 2,
            "max_attempts": 3,
            "worker_image": "kubescribe-worker:test",
            "defaults": TEST_DEFAULTS,
            **settings,
        }
        for name, value in values.items():
            text = json.dumps(value) if isinstance(value, dict | list) else str(value)
            env[f"KUBESCRIBE_{name.upper()}"] = text
        env["KUBECONFIG"] = str(kubeconfig)
        process = OperatorProcess(env, tmp_path / f"operator-{len(made)}.log")
        made.append(process)
        return process

    yield make
    for process in made:
        process.stop()


def terminal(root: Path, rel: str) -> str | None:
    """``completed``, ``manual`` or None for a file under ``root``."""
    if result_path(root / rel).is_file():
        return "completed"
    if (root / MANUAL_DIR / rel).is_file():
        return "manual"
    return None


def wait_until(
    condition: Callable[[], bool], timeout: float, what: str, *, logs: Callable[[], str]
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}\n--- operator log ---\n{logs()[-6000:]}")


def manual_status(root: Path, rel: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(in_progress_path(root / MANUAL_DIR / rel).read_text())
    return data

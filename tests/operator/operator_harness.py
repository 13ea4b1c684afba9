"""Helpers of the operator tests: the operator process, and waiting for files to settle."""

from __future__ import annotations

import contextlib
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

# Re-exported: the operator and Transcription tests wait with it.
from volumekit import terminal as terminal

from kubescribe_protocol.names import MANUAL_DIR, in_progress_path


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

#: Transcription defaults of every operator test: the small English model on the CPU.
TEST_DEFAULTS = {"model_size": "tiny.en", "device": "cpu", "compute_type": "int8", "language": "en"}


@contextlib.contextmanager
def operator_factory(
    kubeconfig: Path, root: Path, model_dir: Path, logs: Path, **base: Any
) -> Iterator[OperatorFactory]:
    """Makes operator processes (not started) with settings for a quick test: ``base``
    over the quick defaults, and each call's settings over ``base``. Stops them all at
    the end."""
    made: list[OperatorProcess] = []

    def make(**settings: Any) -> OperatorProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBESCRIBE_")}
        values: dict[str, Any] = {
            "root": str(root),
            "model_dir": str(model_dir),
            "stable_seconds": 0,
            "scan_interval_seconds": 0.3,
            "retry_backoff_seconds": 0,
            "worker_image": "kubescribe-worker:test",
            "defaults": TEST_DEFAULTS,
            **base,
            **settings,
        }
        for name, value in values.items():
            text = json.dumps(value) if isinstance(value, dict | list) else str(value)
            env[f"KUBESCRIBE_{name.upper()}"] = text
        env["KUBECONFIG"] = str(kubeconfig)
        process = OperatorProcess(env, logs / f"operator-{len(made)}.log")
        made.append(process)
        return process

    try:
        yield make
    finally:
        for process in made:
            process.stop()


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

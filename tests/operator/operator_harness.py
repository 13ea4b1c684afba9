"""Helpers of the operator tests: the operator process, and waiting for files to settle."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kubescribe_protocol.names import MANUAL_DIR, in_progress_path, result_path


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


def terminal(root: Path, rel: str) -> str | None:
    """``completed``, ``manual`` or None for a file under ``root``. A move to ``manual/``
    is done once the ``.in_progress`` followed the audio (the move is a journal)."""
    if result_path(root / rel).is_file():
        return "completed"
    moved = root / MANUAL_DIR / rel
    if moved.is_file() and in_progress_path(moved).is_file():
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

"""The local executor on its own: how an ending is reported, stops, and stray workers of
a previous runner."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from kubescribe_operator.core.executor import AttemptEnd, AttemptKey, AttemptSpec, EndReason
from kubescribe_operator.local.executor import CommandBuilder, LocalExecutor, worker_pids
from kubescribe_protocol.atomic import read_model, write_model
from kubescribe_protocol.codes import ErrorCode
from kubescribe_protocol.models import Attempt, FileStatus, InProgress, Priority
from kubescribe_protocol.names import in_progress_path
from kubescribe_worker.switches import FAIL_ATTEMPTS_ENV


def _fake_worker(code: str) -> CommandBuilder:
    """A command with a worker's command line (so it is found as one) running ``code``."""

    def command(spec: AttemptSpec) -> list[str]:
        return [sys.executable, "-c", code, "worker", "--root", str(spec.root), "--attempt",
                str(spec.key.attempt), "--", spec.key.path]  # fmt: skip

    return command


def _spec(root: Path, path: str = "a.mp3", attempt: int = 1) -> AttemptSpec:
    return AttemptSpec(key=AttemptKey(path, attempt), root=root, priority=Priority.AUTO_SCAN,
                       deadline=datetime.now(UTC), wants_gpu=False)  # fmt: skip


def _collect(executor: LocalExecutor, timeout: float = 10) -> list[AttemptEnd]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ended = executor.collect()
        if ended:
            return ended
        time.sleep(0.02)
    raise AssertionError("nothing ended")


def test_exit_codes_signals_and_stops(tmp_path: Path) -> None:
    exits = LocalExecutor(tmp_path, command=_fake_worker("import sys; sys.exit(10)"))
    exits.start(_spec(tmp_path))
    assert _collect(exits) == [AttemptEnd(AttemptKey("a.mp3", 1), EndReason.EXITED, 10)]

    sleeper = LocalExecutor(tmp_path, command=_fake_worker("import time; time.sleep(60)"))
    pid = int(sleeper.start(_spec(tmp_path, "b.mp3")))
    assert sleeper.start(_spec(tmp_path, "b.mp3")) == str(pid)  # already runs: same handle
    assert sleeper.live() == {AttemptKey("b.mp3", 1)}
    sleeper.stop(AttemptKey("b.mp3", 1), EndReason.DEADLINE_EXCEEDED)
    (end,) = _collect(sleeper)
    assert end.reason is EndReason.DEADLINE_EXCEEDED and end.exit_code == -signal.SIGKILL

    pid = int(sleeper.start(_spec(tmp_path, "c.mp3")))
    sleeper.stop(AttemptKey("c.mp3", 1), EndReason.STOPPED)  # SIGTERM
    (end,) = _collect(sleeper)
    assert end.reason is EndReason.STOPPED and end.exit_code == -signal.SIGTERM

    pid = int(sleeper.start(_spec(tmp_path, "d.mp3")))
    subprocess.run(["kill", "-9", str(pid)], check=True)  # not our doing: the OOM killer?
    (end,) = _collect(sleeper)
    assert end.reason is EndReason.KILLED and end.detail == "SIGKILL"
    assert sleeper.live() == set()


def test_a_new_executor_kills_workers_left_by_a_previous_runner(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    stray = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "worker", "--root", str(root),
         "--attempt", "2", "--", "dir/x y.mp3"],
        start_new_session=True,
    )  # fmt: skip
    other_root = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)", "worker", "--root",
         str(root / "elsewhere"), "--attempt", "1", "--", "z.mp3"],
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while stray.pid not in worker_pids(root) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert worker_pids(root) == {stray.pid: AttemptKey("dir/x y.mp3", 2)}
        assert LocalExecutor(root).live() == set()
        assert stray.wait(timeout=10) == -signal.SIGKILL
        assert other_root.poll() is None  # another root's worker is not ours to kill
    finally:
        for proc in (stray, other_root):
            if proc.poll() is None:
                proc.kill()
            proc.wait()


def test_a_workers_fork_is_not_a_second_worker(tmp_path: Path) -> None:
    # A fork keeps the worker's command line (until it execs, or for good): still one worker.
    root = tmp_path.resolve()
    forking = "import os, time\nif os.fork() == 0:\n    time.sleep(60)\nelse:\n    time.sleep(60)"
    worker = subprocess.Popen(
        [sys.executable, "-c", forking, "worker", "--root", str(root), "--attempt", "1",
         "--", "a.mp3"],
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        children: list[str] = []
        while not children and time.monotonic() < deadline:
            children_file = Path(f"/proc/{worker.pid}/task/{worker.pid}/children")
            children = children_file.read_text().split()
            time.sleep(0.02)
        assert children, "the stand-in worker did not fork"
        assert worker_pids(root) == {worker.pid: AttemptKey("a.mp3", 1)}
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()


def test_a_local_worker_records_its_pid_and_host_as_the_attempts_runner(tmp_path: Path) -> None:
    audio = tmp_path / "a.mp3"
    audio.write_bytes(b"not audio: the injected failure comes first")
    write_model(
        in_progress_path(audio),
        InProgress(filename=audio.name, path=audio.name, status=FileStatus.PROCESSING,
                   attempt=1, attempts=[Attempt(attempt_number=1, executor="local")]),
    )  # fmt: skip
    # The real worker, failed at once by its switch: a write without a model.
    executor = LocalExecutor(tmp_path, env={FAIL_ATTEMPTS_ENV: "1"})
    pid = int(executor.start(_spec(tmp_path)))
    (end,) = _collect(executor, timeout=120)
    assert end.reason is EndReason.EXITED and end.exit_code != 0
    status = read_model(in_progress_path(audio), InProgress)
    assert status is not None and status.error is not None
    assert status.error.code == ErrorCode.INJECTED_FAILURE
    assert status.attempts[-1].runner == f"{pid}@{socket.gethostname()}"

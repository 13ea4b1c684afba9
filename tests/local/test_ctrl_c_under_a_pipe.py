"""Ctrl-C to ``kubescribe run watch 2>&1 | tee log``: the terminal interrupts the whole
pipeline, ``tee`` leaves first, and the runner must still record the interruption of the
files it runs (a write to the closed pipe used to kill it, and its workers with it)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from speechkit import ENGLISH_SENTENCES, have_speech_tools, speak

from kubescribe_protocol.atomic import read_model
from kubescribe_protocol.codes import ErrorCode
from kubescribe_protocol.models import FileStatus, InProgress
from kubescribe_protocol.names import in_progress_path

from .helpers import env_with, run_command, worker_stalls, workers_of

pytestmark = pytest.mark.skipif(not have_speech_tools(), reason="needs espeak-ng and ffmpeg")

#: ``tee LOG`` in Python: copies its input to LOG, and dies of SIGINT like tee does.
TEE = (
    "import sys\n"
    "with open(sys.argv[1], 'ab') as log:\n"
    "    for line in sys.stdin.buffer:\n"
    "        log.write(line); log.flush()\n"
)


def _wait_for(condition: str, check: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {condition}")


def test_ctrl_c_to_a_pipeline_records_the_interruption(tmp_path: Path, model_dir: Path) -> None:
    root = (tmp_path / "root").resolve()
    speak(root / "talk.mp3", ENGLISH_SENTENCES[2])
    log = tmp_path / "tee.log"
    # The pipeline's process group, as a shell makes it: tee leads it, the runner joins.
    tee = subprocess.Popen([sys.executable, "-c", TEE, str(log)], stdin=subprocess.PIPE,
                           process_group=0)  # fmt: skip
    assert tee.stdin is not None
    runner = subprocess.Popen(
        run_command(root, model_dir),
        env=env_with(KUBESCRIBE_TEST_STALL_SECONDS="600"),
        stdout=tee.stdin,
        stderr=subprocess.STDOUT,
        process_group=tee.pid,
    )
    tee.stdin.close()
    try:
        # The worker is inside its attempt (it logs that it stalls there, with no model).
        _wait_for("the worker to stall", lambda: worker_stalls(root))
        # The runner's lines went through tee to its log until then.
        _wait_for("the banner in tee's log", lambda: "watching" in log.read_text(errors="replace"))
        # Ctrl-C reaches tee and the runner alike; tee gone first is the order that used
        # to lose the record, made certain here.
        os.kill(tee.pid, signal.SIGINT)
        tee.wait(timeout=60)
        os.killpg(tee.pid, signal.SIGINT)  # the group lives on in the runner
        assert runner.wait(timeout=120) == 130
    finally:
        for process in (runner, tee):
            if process.poll() is None:
                process.kill()
                process.wait()
        for pid in workers_of(root):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
    assert workers_of(root) == {}
    status = read_model(in_progress_path(root / "talk.mp3"), InProgress)
    assert status is not None and status.status is FileStatus.ERROR
    assert status.attempts[0].error is not None
    assert status.attempts[0].error.code == ErrorCode.INTERRUPTED

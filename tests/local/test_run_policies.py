"""Queue order, deadlines, lost heartbeats, stale cleanup, growing files and Ctrl-C, with
the real ``kubescribe run`` and the real worker."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
from speechkit import ENGLISH_SENTENCES, have_speech_tools, speak

from kubescribe_protocol.atomic import read_model, write_model
from kubescribe_protocol.codes import ErrorCode
from kubescribe_protocol.models import (
    Attempt,
    FileStatus,
    InProgress,
    Priority,
    Result,
    TranscriptionSettings,
    utc_now,
)
from kubescribe_protocol.names import in_progress_path, result_path
from kubescribe_protocol.state import FileState, file_state

from .helpers import (
    env_with,
    manual_status,
    run_command,
    run_once,
    worker_stalls,
    workers_of,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not have_speech_tools(), reason="needs espeak-ng and ffmpeg"),
]

SETTINGS = TranscriptionSettings(
    model_size="tiny.en", device="cpu", compute_type="int8", language="en"
)


def test_api_request_first_then_oldest_under_parallel_1(tmp_path: Path, model_dir: Path) -> None:
    root = tmp_path / "root"
    ages = {"newest.mp3": 1_000, "oldest.mp3": 9_000}
    now = time.time()
    for n, (rel, age) in enumerate(ages.items()):
        speak(root / rel, ENGLISH_SENTENCES[n])
        os.utime(root / rel, (now - age, now - age))
    speak(root / "requested.mp3", ENGLISH_SENTENCES[0])
    write_model(
        in_progress_path(root / "requested.mp3"),
        InProgress(filename="requested.mp3", path="requested.mp3", status=FileStatus.QUEUED,
                   priority=Priority.API_REQUEST, api_clients=["c0ffee"], settings=SETTINGS),
    )  # fmt: skip
    done = run_once(root, model_dir, "--parallel", "1")
    starts = {}
    for rel in [*ages, "requested.mp3"]:
        result = read_model(result_path(root / rel), Result)
        assert result is not None, done.stderr[-3000:]
        assert result.processing_start is not None
        starts[rel] = result.processing_start
    assert sorted(starts, key=starts.__getitem__) == [
        "requested.mp3", "oldest.mp3", "newest.mp3",
    ]  # fmt: skip


def test_deadline_and_lost_heartbeat_are_failed_attempts(tmp_path: Path, model_dir: Path) -> None:
    root = tmp_path / "root"
    speak(root / "slow.mp3", ENGLISH_SENTENCES[0])
    # The worker sleeps 60 s without a heartbeat; the deadline (4 s) comes first.
    run_once(root, model_dir, "--deadline", "4", "--max-attempts", "1",
             KUBESCRIBE_TEST_STALL_SECONDS="60", timeout=120)  # fmt: skip
    status = manual_status(root, "slow.mp3")
    assert status.error is not None and status.error.code == ErrorCode.MAX_ATTEMPTS
    assert status.attempts[0].error is not None
    assert status.attempts[0].error.code == ErrorCode.TIMEOUT
    assert status.attempts[0].end_time is not None

    speak(root / "quiet.mp3", ENGLISH_SENTENCES[1])
    # It stalls before its first heartbeat, so the start timeout is the one that fires.
    run_once(root, model_dir, "--max-attempts", "1", KUBESCRIBE_TEST_STALL_SECONDS="60",
             KUBESCRIBE_START_TIMEOUT_SECONDS="4", timeout=120)  # fmt: skip
    status = manual_status(root, "quiet.mp3")
    assert status.attempts[0].error is not None
    assert status.attempts[0].error.code == ErrorCode.HEARTBEAT_LOST
    assert workers_of(root.resolve()) == {}


def _processing(root: Path, rel: str, hours_ago: float) -> None:
    then = utc_now() - timedelta(hours=hours_ago)
    write_model(
        in_progress_path(root / rel),
        InProgress(filename=Path(rel).name, path=rel, status=FileStatus.PROCESSING, attempt=1,
                   start_time=then, updated_at=then, settings=SETTINGS,
                   attempts=[Attempt(attempt_number=1, start_time=then, heartbeat=then,
                                     executor="local", runner="999999")]),
    )  # fmt: skip


def test_stale_in_progress_goes_to_manual_and_a_fresh_one_is_resumed(
    tmp_path: Path, model_dir: Path
) -> None:
    root = tmp_path / "root"
    speak(root / "abandoned.mp3", ENGLISH_SENTENCES[0])
    speak(root / "interrupted.mp3", ENGLISH_SENTENCES[1])
    _processing(root, "abandoned.mp3", hours_ago=25)
    _processing(root, "interrupted.mp3", hours_ago=1)
    done = run_once(root, model_dir)
    status = manual_status(root, "abandoned.mp3")
    assert status.error is not None and status.error.code == ErrorCode.STALE
    assert status.attempts[0].status.value == "failed"
    assert file_state(root, "interrupted.mp3") is FileState.COMPLETED, done.stderr[-3000:]


def test_growing_file_is_not_taken_and_ctrl_c_stops_gracefully(
    tmp_path: Path, model_dir: Path
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    source = speak(tmp_path / "source.mp3", " ".join(ENGLISH_SENTENCES[:2]))
    data = source.read_bytes()
    target = root / "growing.mp3"
    command = run_command(root, model_dir)
    command[command.index("--stable-seconds") + 1] = "2"
    runner = subprocess.Popen(command, env=env_with(), stderr=subprocess.PIPE, text=True)
    try:
        chunks = 8
        with target.open("wb") as handle:
            for n in range(chunks):  # about 4 s of growth, a write every 0.5 s
                handle.write(data[n * len(data) // chunks : (n + 1) * len(data) // chunks])
                handle.flush()
                time.sleep(0.5)
                assert not in_progress_path(target).exists(), "taken while still growing"
        deadline = time.monotonic() + 120
        while not result_path(target).exists() and time.monotonic() < deadline:
            time.sleep(0.25)
        assert file_state(root, "growing.mp3") is FileState.COMPLETED
        runner.send_signal(signal.SIGINT)
        _, stderr = runner.communicate(timeout=60)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.communicate()
    assert runner.returncode == 130, stderr[-3000:]
    assert "done: 1 completed" in stderr
    result = read_model(result_path(target), Result)
    assert result is not None and "report" in result.transcription.text.lower()


def test_ctrl_c_mid_attempt_leaves_the_file_recoverable(tmp_path: Path, model_dir: Path) -> None:
    root = (tmp_path / "root").resolve()
    speak(root / "talk.mp3", ENGLISH_SENTENCES[2])
    runner = subprocess.Popen(
        run_command(root, model_dir),
        env=env_with(KUBESCRIBE_TEST_STALL_SECONDS="60"),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Its stall's log line comes after the fence check and its signal handler: no
        # fixed sleep that a loaded machine outlasts.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not worker_stalls(root):
            time.sleep(0.1)
        assert workers_of(root), "no worker running"
        runner.send_signal(signal.SIGINT)
        _, stderr = runner.communicate(timeout=60)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.communicate()
    assert runner.returncode == 130, stderr[-3000:]
    assert workers_of(root) == {}
    status = read_model(in_progress_path(root / "talk.mp3"), InProgress)
    assert status is not None and status.status is FileStatus.ERROR
    assert status.attempts[0].error is not None
    assert status.attempts[0].error.code == ErrorCode.INTERRUPTED
    # An interruption does not count: with max_attempts 1 the file still gets its attempt.
    run_once(root, model_dir, "--max-attempts", "1")
    assert file_state(root, "talk.mp3") is FileState.COMPLETED

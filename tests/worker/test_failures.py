"""Inputs that can never work, missing and broken models, test switches and signals:
each ends with its documented error code and exit code, and loses nothing."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import speechkit

from kubescribe_protocol.codes import ErrorCode, ExitCode
from kubescribe_protocol.models import AttemptStatus, FileStatus
from kubescribe_protocol.names import result_path

from .workerkit import (
    RUN_TIMEOUT,
    claim,
    place,
    read_status,
    run_worker,
    start_worker,
    worker_command,
    worker_env,
)


def assert_failed(root: Path, rel: str, code: ErrorCode, exit_code: ExitCode,
                  retry_after: float | None) -> None:  # fmt: skip
    status = read_status(root, rel)
    assert status.status is FileStatus.ERROR
    assert status.error is not None and status.error.code == code.value, status.error
    assert status.error.message and status.error.retry_after == retry_after
    record = status.attempts[-1]
    assert record.attempt_number == 1 and record.status is AttemptStatus.FAILED
    assert record.error == status.error
    assert record.end_time is not None and record.exit_code == exit_code
    assert not result_path(root / rel).exists()


def _text_named_mp3(folder: Path) -> Path:
    path = folder / "src.mp3"
    path.write_text("This is a shopping list, not a recording.\nmilk\nbread\n", encoding="utf-8")
    return path


def _zero_bytes(folder: Path) -> Path:
    path = folder / "src.mp3"
    path.write_bytes(b"")
    return path


def _mp3_cut_to_its_header(folder: Path) -> Path:
    mp3 = speechkit.speak(folder / "whole.mp3", "Hello there.")
    path = folder / "src.mp3"
    path.write_bytes(mp3.read_bytes()[:300])  # the ID3 tag and a broken first frame
    return path


def _video_without_audio(folder: Path) -> Path:
    return speechkit.video_without_audio(folder / "src.mp4")


BAD_INPUTS = {
    "zero-byte file": (_zero_bytes, "empty.mp3", ErrorCode.EMPTY_FILE),
    "text named .mp3": (_text_named_mp3, "списки/shopping list.mp3", ErrorCode.NOT_AUDIO),
    "mp3 cut to its header": (_mp3_cut_to_its_header, "a/b/c/cut.mp3", ErrorCode.UNDECODABLE),
    "video without audio": (_video_without_audio, "screen cast.mp4", ErrorCode.NO_AUDIO_STREAM),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_fails_with_its_code_and_keeps_the_file(tmp_path: Path, case: str) -> None:
    make, rel, code = BAD_INPUTS[case]
    (tmp_path / "src").mkdir()
    source = make(tmp_path / "src")
    root = tmp_path / "root"
    place(source, root, rel)
    before = hashlib.sha256((root / rel).read_bytes()).hexdigest()
    claim(root, rel)
    started = time.monotonic()
    # No model directory at all: a bad input must fail before any model is looked for.
    done = run_worker(root, rel, None, KUBESCRIBE_MODEL_DIR=str(tmp_path / "no-models"))
    assert done.returncode == ExitCode.BAD_INPUT, done.stderr[-3000:]
    assert_failed(root, rel, code, ExitCode.BAD_INPUT, retry_after=None)
    assert hashlib.sha256((root / rel).read_bytes()).hexdigest() == before
    # Classified before WhisperX was imported: seconds, not the import's many seconds.
    assert time.monotonic() - started < 30


def test_missing_audio_is_file_missing(tmp_path: Path) -> None:
    claim(tmp_path, "gone.mp3")
    done = run_worker(tmp_path, "gone.mp3", None)
    assert done.returncode == ExitCode.BAD_INPUT, done.stderr[-3000:]
    assert_failed(tmp_path, "gone.mp3", ErrorCode.FILE_MISSING, ExitCode.BAD_INPUT, None)


def test_missing_model_says_where_it_looked(tmp_path: Path, english_short: Path) -> None:
    rel = place(english_short, tmp_path / "root", "talk.wav")
    root = tmp_path / "root"
    (tmp_path / "models").mkdir()
    claim(root, rel, model_size="medium.en")  # a Whisper size no package carries
    # The model directory from the environment, as a Job's container gets it; no hub.
    done = run_worker(root, rel, None, KUBESCRIBE_MODEL_DIR=str(tmp_path / "models"),
                      HF_HUB_OFFLINE="1")  # fmt: skip
    assert done.returncode == ExitCode.MODEL_ERROR, done.stderr[-3000:]
    assert_failed(root, rel, ErrorCode.MODEL_MISSING, ExitCode.MODEL_ERROR, 300)
    details = read_status(root, rel).error.details or ""  # type: ignore[union-attr]
    assert str(tmp_path / "models" / "medium.en" / "model.bin") in details
    assert "packages" in details and "hub" in details


@pytest.mark.parametrize(
    ("settings", "code", "said"),
    [
        ({"model_size": "huge"}, ErrorCode.UNKNOWN_MODEL_SIZE, "Whisper has tiny.en, tiny"),
        ({"model_size": "tiny.en", "language": "de"}, ErrorCode.UNSUPPORTED_LANGUAGE, "en"),
        ({"model_size": "base", "language": "xx"}, ErrorCode.UNSUPPORTED_LANGUAGE, "en, zh, de"),
    ],
)
def test_settings_no_model_can_honour_are_not_retried(
    tmp_path: Path, english_short: Path, model_dir: Path, settings: dict[str, Any],
    code: ErrorCode, said: str,
) -> None:  # fmt: skip
    # Settings that reached the worker anyway (a status file written by hand): refused
    # with a code no retry follows (retry_after None, exit 10), before any model loads.
    root = tmp_path / "root"
    rel = place(english_short, root, "talk.wav")
    claim(root, rel, **settings)
    done = run_worker(root, rel, model_dir)
    assert done.returncode == ExitCode.BAD_INPUT, done.stderr[-3000:]
    assert_failed(root, rel, code, ExitCode.BAD_INPUT, retry_after=None)
    error = read_status(root, rel).error
    assert error is not None and said in f"{error.message} {error.details}"


def test_broken_model_is_model_broken(tmp_path: Path, english_short: Path) -> None:
    root = tmp_path / "root"
    rel = place(english_short, root, "talk.wav")
    broken = tmp_path / "models" / "tiny.en"
    broken.mkdir(parents=True)
    (broken / "model.bin").write_bytes(b"not a CTranslate2 model" * 100)
    (broken / "config.json").write_text("{}")
    claim(root, rel)
    done = run_worker(root, rel, tmp_path / "models")
    assert done.returncode == ExitCode.MODEL_ERROR, done.stderr[-3000:]
    assert_failed(root, rel, ErrorCode.MODEL_BROKEN, ExitCode.MODEL_ERROR, 300)


def test_injected_failure_switch(tmp_path: Path, english_short: Path) -> None:
    rel = place(english_short, tmp_path, "talk.wav")
    claim(tmp_path, rel)
    done = run_worker(tmp_path, rel, None, KUBESCRIBE_TEST_FAIL_ATTEMPTS="2, 1")
    assert done.returncode == ExitCode.FAILED, done.stderr[-3000:]
    assert_failed(tmp_path, rel, ErrorCode.INJECTED_FAILURE, ExitCode.FAILED, 1)


def _line_or_eof(process: subprocess.Popen[str]) -> str:
    """The worker's next stderr line, ``"stalling"`` once it says so; fails at its end."""
    assert process.stderr is not None
    line = process.stderr.readline()
    assert line, "the worker ended before its stall"
    return "stalling" if "stalling" in line else line


def test_sigterm_ends_the_attempt_as_interrupted(tmp_path: Path, english_short: Path) -> None:
    rel = place(english_short, tmp_path, "talk.wav")
    claim(tmp_path, rel)
    process = start_worker(tmp_path, rel, None, KUBESCRIBE_TEST_STALL_SECONDS="60")
    # Its stall's log line comes after its signal handler is in place: no sleep that a
    # loaded machine outlasts (a SIGTERM before the handler kills Python outright).
    assert process.stderr is not None
    before = "".join(iter(lambda: _line_or_eof(process), "stalling"))
    assert process.poll() is None, before[-3000:]
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == ExitCode.INTERRUPTED, stderr[-3000:]
    assert_failed(tmp_path, rel, ErrorCode.INTERRUPTED, ExitCode.INTERRUPTED, 0)
    assert (tmp_path / rel).read_bytes() == english_short.read_bytes()


#: Root reads any file whatever its mode: these take away its file-permission override.
WITHOUT_OVERRIDE = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner", "--"]


def test_unreadable_audio_has_its_own_code_and_is_retried(tmp_path: Path) -> None:
    root = tmp_path / "root"
    rel = place(_text_named_mp3(_folder(tmp_path)), root, "locked.mp3")
    claim(root, rel)
    (root / rel).chmod(0)
    command = worker_command(root, rel, 1, None)
    if os.geteuid() == 0:
        command = [*WITHOUT_OVERRIDE, *command]
    env = worker_env(KUBESCRIBE_MODEL_DIR=str(tmp_path / "none"))
    done = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False
    )
    assert done.returncode == ExitCode.FAILED, done.stderr[-3000:]
    # retry_after None: the controller's backoff applies (tests/core checks it retries).
    assert_failed(root, rel, ErrorCode.AUDIO_UNREADABLE, ExitCode.FAILED, retry_after=None)
    error = read_status(root, rel).error
    assert error is not None and "give the user kubescribe runs as" in error.message
    assert "chmod a+r" in error.message and "PermissionError" in (error.details or "")
    assert (root / rel).stat().st_mode & 0o777 == 0  # left as it was, for a person to fix


def test_a_fifo_as_audio_is_refused_without_opening_it(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    os.mkfifo(root / "pipe.mp3")
    claim(root, "pipe.mp3")
    # On the old code the worker blocks opening the FIFO until the timeout.
    done = run_worker(root, "pipe.mp3", None, KUBESCRIBE_MODEL_DIR=str(tmp_path / "none"))
    assert done.returncode == ExitCode.BAD_INPUT, done.stderr[-3000:]
    assert_failed(root, "pipe.mp3", ErrorCode.NOT_REGULAR_FILE, ExitCode.BAD_INPUT, None)


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    folder.mkdir(exist_ok=True)
    return folder

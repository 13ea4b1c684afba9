"""The real worker publishes a result only for the audio its attempt started on (issue
14, items 7 and 8): audio deleted or replaced while it was transcribed gets no result."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from kubescribe_protocol.atomic import write_model
from kubescribe_protocol.codes import ErrorCode, ExitCode
from kubescribe_protocol.fingerprint import fingerprint
from kubescribe_protocol.models import FileStatus
from kubescribe_protocol.names import in_progress_path, result_path

from .workerkit import RUN_TIMEOUT, claim, place, read_result, read_status, start_worker


def _claim_with_fingerprint(root: Path, rel: str) -> None:
    status = claim(root, rel)
    status.attempts[-1].audio = fingerprint(root / rel)  # as the controller records it
    write_model(in_progress_path(root / rel), status)


def _held_before_publishing(
    root: Path, rel: str, model_dir: Path, gate: Path
) -> subprocess.Popen[str]:
    """A worker that has made its transcript and waits at the gate (its test switch)."""
    process = start_worker(root, rel, model_dir, KUBESCRIBE_TEST_HOLD_BEFORE_PUBLISH=str(gate))
    deadline = time.monotonic() + RUN_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        progress = read_status(root, rel).progress
        if progress is not None and progress.stage == "generating_text":
            return process
        time.sleep(0.1)
    process.kill()
    _, stderr = process.communicate()
    raise AssertionError(f"the worker never reached generating_text: {stderr[-3000:]}")


def _release(process: subprocess.Popen[str], gate: Path) -> tuple[int, str]:
    gate.touch()
    _, stderr = process.communicate(timeout=RUN_TIMEOUT)
    return process.returncode, stderr


def test_audio_replaced_mid_run_gets_no_result(
    tmp_path: Path, english_short: Path, russian_short: Path, model_dir: Path
) -> None:
    rel = place(english_short, tmp_path, "talk.wav")
    _claim_with_fingerprint(tmp_path, rel)
    process = _held_before_publishing(tmp_path, rel, model_dir, tmp_path / ".gate")
    place(russian_short, tmp_path, "talk.wav")  # replaced by other audio
    code, stderr = _release(process, tmp_path / ".gate")
    assert code == ExitCode.FAILED, stderr[-3000:]
    assert not result_path(tmp_path / rel).exists()
    status = read_status(tmp_path, rel)
    assert status.status is FileStatus.ERROR
    assert status.error is not None and status.error.code == ErrorCode.AUDIO_CHANGED.value
    assert status.error.retry_after == 0


def test_audio_deleted_mid_run_gets_no_result(
    tmp_path: Path, english_short: Path, model_dir: Path
) -> None:
    rel = place(english_short, tmp_path, "talk.wav")
    _claim_with_fingerprint(tmp_path, rel)
    process = _held_before_publishing(tmp_path, rel, model_dir, tmp_path / ".gate")
    (tmp_path / rel).unlink()
    code, stderr = _release(process, tmp_path / ".gate")
    assert code == ExitCode.BAD_INPUT, stderr[-3000:]
    assert not result_path(tmp_path / rel).exists()
    status = read_status(tmp_path, rel)
    assert status.error is not None and status.error.code == ErrorCode.FILE_MISSING.value
    assert "deleted while it was transcribed" in status.error.message


def test_audio_only_touched_mid_run_gets_its_result_with_its_fingerprint(
    tmp_path: Path, english_short: Path, model_dir: Path
) -> None:
    rel = place(english_short, tmp_path, "talk.wav")
    _claim_with_fingerprint(tmp_path, rel)
    process = _held_before_publishing(tmp_path, rel, model_dir, tmp_path / ".gate")
    (tmp_path / rel).touch()  # a new mtime, the same bytes
    code, stderr = _release(process, tmp_path / ".gate")
    assert code == ExitCode.OK, stderr[-3000:]
    result = read_result(tmp_path, rel)
    assert result.audio == fingerprint(tmp_path / rel)
    assert "fox" in result.transcription.text.lower()

"""A worker whose attempt is no longer the file's current one writes nothing."""

from __future__ import annotations

import time
from pathlib import Path

from kubescribe_protocol.atomic import write_model
from kubescribe_protocol.codes import ExitCode
from kubescribe_protocol.models import Attempt
from kubescribe_protocol.names import in_progress_path, result_path

from .workerkit import claim, place, read_status, run_worker, start_worker


def test_stale_attempt_writes_nothing(tmp_path: Path, english_short: Path) -> None:
    rel = place(english_short, tmp_path, "talk.wav")
    claim(tmp_path, rel, attempt=2)
    before = in_progress_path(tmp_path / rel).read_bytes()
    done = run_worker(tmp_path, rel, None, attempt=1)
    assert done.returncode == ExitCode.SUPERSEDED, done.stderr[-3000:]
    assert in_progress_path(tmp_path / rel).read_bytes() == before
    assert not result_path(tmp_path / rel).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["talk.wav", "talk.wav.in_progress"]


def test_no_status_file_or_should_continue_false_writes_nothing(
    tmp_path: Path, english_short: Path
) -> None:
    rel = place(english_short, tmp_path, "talk.wav")
    done = run_worker(tmp_path, rel, None)
    assert done.returncode == ExitCode.SUPERSEDED, done.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["talk.wav"]

    status = claim(tmp_path, rel)
    status.should_continue = False
    write_model(in_progress_path(tmp_path / rel), status)
    before = in_progress_path(tmp_path / rel).read_bytes()
    done = run_worker(tmp_path, rel, None)
    assert done.returncode == ExitCode.SUPERSEDED, done.stderr[-3000:]
    assert in_progress_path(tmp_path / rel).read_bytes() == before


def test_attempt_superseded_while_running_stops_writing(
    tmp_path: Path, english_short: Path, model_dir: Path
) -> None:
    rel = place(english_short, tmp_path, "talk.wav")
    claim(tmp_path, rel)
    process = start_worker(tmp_path, rel, model_dir, KUBESCRIBE_TEST_STALL_SECONDS="3")
    time.sleep(1.0)
    # The controller gave up on attempt 1 and started attempt 2 meanwhile.
    newer = read_status(tmp_path, rel)
    newer.attempt = 2
    newer.attempts.append(Attempt(attempt_number=2, executor="local", runner="other"))
    write_model(in_progress_path(tmp_path / rel), newer)
    written = in_progress_path(tmp_path / rel).read_bytes()
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == ExitCode.SUPERSEDED, stderr[-3000:]
    assert in_progress_path(tmp_path / rel).read_bytes() == written
    assert not result_path(tmp_path / rel).exists()

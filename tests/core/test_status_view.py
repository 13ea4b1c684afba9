"""``kubescribe status``: every state, its details, counts first, and --json."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kubescribe_operator.volume.status_view import collect, main
from kubescribe_protocol.atomic import write_model
from kubescribe_protocol.models import (
    FileStatus,
    InProgress,
    Priority,
    Progress,
    Stage,
    StatusError,
)
from kubescribe_protocol.names import in_progress_path


def _tree(root: Path) -> None:
    for rel in ("a/pending.mp3", "a/busy.mp3", "failed.mp3", "done.mp3", "asked.wav",
                "manual/b/gave up.mp3"):  # fmt: skip
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"x")
    os.utime(root / "a/pending.mp3", (1_000_000, 1_000_000))  # long still: queued
    (root / "done.mp3.result").write_text("{}")
    write_model(root / "a/busy.mp3.in_progress", InProgress(
        filename="busy.mp3", status=FileStatus.PROCESSING, attempt=2,
        progress=Progress(stage=Stage.PROCESSING_AUDIO, percentage=42)))  # fmt: skip
    write_model(root / "failed.mp3.in_progress", InProgress(
        filename="failed.mp3", status=FileStatus.ERROR, attempt=1,
        error=StatusError(code="whisperx_failed", message="boom", retry_after=60)))  # fmt: skip
    write_model(root / "asked.wav.in_progress", InProgress(
        filename="asked.wav", status=FileStatus.QUEUED, priority=Priority.API_REQUEST))  # fmt: skip
    write_model(root / "manual/b/gave up.mp3.in_progress", InProgress(
        filename="gave up.mp3", status=FileStatus.ERROR, attempt=3,
        error=StatusError(code="max_attempts_exceeded", message="3 attempts failed")))  # fmt: skip


def test_table_and_json(tmp_path: Path) -> None:
    _tree(tmp_path)
    out = io.StringIO()
    assert main(tmp_path, as_json=False, out=out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0].endswith("2 pending, 1 processing, 1 error, 1 completed, 1 manual")
    text = out.getvalue()
    assert "attempt 2, processing_audio 42%" in text
    assert "whisperx_failed; next attempt 20" in text
    assert "max_attempts_exceeded: 3 attempts failed" in text
    assert "queued (API request)" in text

    out = io.StringIO()
    main(tmp_path, as_json=True, out=out)
    document = json.loads(out.getvalue())
    rows = {row["path"]: row for row in document["files"]}
    assert document["counts"]["pending"] == 2
    assert rows["a/busy.mp3"]["percentage"] == 42
    assert rows["failed.mp3"]["next_attempt"] is not None
    assert rows["manual/b/gave up.mp3"]["state"] == "manual"
    assert rows["manual/b/gave up.mp3"]["error_code"] == "max_attempts_exceeded"


def test_a_file_whose_move_to_manual_is_under_way_shows_its_error(tmp_path: Path) -> None:
    audio = tmp_path / "talk.mp3"
    audio.write_bytes(b"x")
    status = InProgress(
        filename="talk.mp3",
        status=FileStatus.ERROR,
        error=StatusError(code="not_audio", message="not audio"),
    )
    status.manual_path = "manual/talk.mp3"  # type: ignore[attr-defined]
    write_model(in_progress_path(audio), status)
    (tmp_path / "manual").mkdir()
    audio.rename(tmp_path / "manual" / "talk.mp3")  # the .in_progress has not followed yet
    (row,) = collect(tmp_path)
    assert row.state == "manual" and row.error_code == "not_audio"


def test_a_file_still_being_copied_is_arriving_not_queued(tmp_path: Path) -> None:
    (tmp_path / "old.mp3").write_bytes(b"x")
    os.utime(tmp_path / "old.mp3", (1_000_000, 1_000_000))
    (tmp_path / "copying.mp3").write_bytes(b"x")  # changed just now
    rows = {row.path: row for row in collect(tmp_path, stable_seconds=90)}
    assert rows["copying.mp3"].state == "arriving"
    assert rows["copying.mp3"].position is None and rows["copying.mp3"].eta_seconds is None
    assert rows["old.mp3"].state == "pending" and rows["old.mp3"].position == 1

    out = io.StringIO()
    main(tmp_path, as_json=False, out=out)
    lines = out.getvalue().splitlines()
    assert lines[0].endswith("1 arriving, 1 pending, 0 processing, 0 error, 0 completed, 0 manual")
    copying = next(line for line in lines if "copying.mp3" in line)
    assert copying.startswith("arriving") and "still changing" in copying
    assert "#" not in copying and "ETA" not in copying


def test_status_into_a_closed_pipe_exits_quietly(tmp_path: Path) -> None:
    for n in range(1500):  # far more than a pipe holds
        (tmp_path / f"talk {n:04d}.mp3").write_bytes(b"x")
        (tmp_path / f"talk {n:04d}.mp3.result").write_text("{}")
    for as_json in ("", " --json"):
        done = subprocess.run(
            f"set -o pipefail; {sys.executable} -m kubescribe_cli status '{tmp_path}'{as_json}"
            " | head -3",
            shell=True, executable="/bin/bash", capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert len(done.stdout.splitlines()) == 3
        assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
        assert done.returncode == 0, done.stderr


def test_an_interrupted_file_is_retried_first_and_shown_as_interrupted(tmp_path: Path) -> None:
    # Two files queued long ago, then one whose attempt a Ctrl-C stopped: the README
    # promises it "at once", so it is first, and it reads as interrupted, not failed.
    start = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    for index, name in enumerate(("long1.mp3", "long2.mp3")):
        (tmp_path / name).write_bytes(b"x")
        os.utime(tmp_path / name, (1_000_000, 1_000_000))
        write_model(in_progress_path(tmp_path / name), InProgress(
            filename=name, status=FileStatus.QUEUED,
            start_time=start + timedelta(minutes=index)))  # fmt: skip
    (tmp_path / "stopped.mp3").write_bytes(b"x")
    os.utime(tmp_path / "stopped.mp3", (1_000_000, 1_000_000))
    write_model(in_progress_path(tmp_path / "stopped.mp3"), InProgress(
        filename="stopped.mp3", status=FileStatus.ERROR, attempt=1,
        start_time=start + timedelta(hours=1),
        error=StatusError(code="interrupted", message="kubescribe stopped the attempt",
                          retry_after=0)))  # fmt: skip
    rows = {row.path: row for row in collect(tmp_path)}
    assert rows["stopped.mp3"].position == 1
    assert (rows["long1.mp3"].position, rows["long2.mp3"].position) == (2, 3)
    out = io.StringIO()
    main(tmp_path, as_json=False, out=out)
    (line,) = [line for line in out.getvalue().splitlines() if "stopped.mp3" in line]
    assert "interrupted" in line and "failed" not in line

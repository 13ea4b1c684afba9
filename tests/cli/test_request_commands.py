"""``kubescribe cancel|retry|result|status`` on a volume, with no API and, between the
steps, a real ``kubescribe run --once`` (no worker needed: the file is cancelled)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from speechkit import speak

from kubescribe_protocol.manual import move_to_manual
from kubescribe_protocol.models import Attempt, FileStatus, InProgress, Priority
from kubescribe_protocol.names import in_progress_path


def kubescribe(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "kubescribe_cli", *args], capture_output=True,
                          text=True, timeout=120, check=False, cwd=cwd)  # fmt: skip


def test_cancel_moves_to_manual_and_retry_brings_back(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "talks").mkdir(parents=True)
    audio = speak(root / "talks" / "one.wav", "One small step.")

    cancelled = kubescribe("cancel", str(audio), "--root", str(root))
    assert cancelled.returncode == 0, cancelled.stderr
    status = InProgress.model_validate_json(in_progress_path(audio).read_text())
    assert status.should_continue is False

    waiting = kubescribe("result", "talks/one.wav", "--root", str(root))
    assert waiting.returncode == 4 and "pending" in waiting.stderr

    # A controller applies the cancel: the file goes to manual/ with error "cancelled".
    ran = subprocess.run(
        [sys.executable, "-m", "kubescribe_cli", "run", str(root), "--once", "--scan-interval",
         "0.2"], capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert not audio.exists() and (root / "manual/talks/one.wav").is_file(), ran.stderr
    manual_status = in_progress_path(root / "manual/talks/one.wav").read_text()
    moved = InProgress.model_validate_json(manual_status)
    assert moved.error is not None and moved.error.code == "cancelled"

    again = kubescribe("cancel", "talks/one.wav", "--root", str(root))
    assert again.returncode == 4 and "not_cancellable" in again.stderr

    two = speak(root / "talks" / "two.wav", "Two small steps.")
    os.utime(two, (1_000_000, 1_000_000))  # long still: queued, not arriving
    retried = kubescribe("retry", "manual/talks/one.wav", cwd=root)
    assert retried.returncode == 0, retried.stderr
    assert audio.is_file() and not (root / "manual/talks/one.wav").exists()
    back = InProgress.model_validate_json(in_progress_path(audio).read_text())
    assert back.should_continue and back.status.value == "queued" and back.attempts == []
    assert back.error is None and back.priority is Priority.AUTO_SCAN
    assert (back.__pydantic_extra__ or {})["earlier_runs"][0]["error"]["code"] == "cancelled"

    shown = kubescribe("status", str(root), "--json")
    rows = {row["path"]: row for row in json.loads(shown.stdout)["files"]}
    assert rows["talks/one.wav"]["position"] in (1, 2)
    assert {rows["talks/one.wav"]["position"], rows["talks/two.wav"]["position"]} == {1, 2}
    # No result measured on this volume yet: no honest ETA.
    assert rows["talks/one.wav"]["eta_seconds"] is None


def test_bad_paths_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    traversal = kubescribe("cancel", "../x.wav", "--root", str(root))
    assert traversal.returncode == 2 and "path_traversal" in traversal.stderr
    missing = kubescribe("result", "nothing.wav", "--root", str(root))
    assert missing.returncode == 3 and "not_found" in missing.stderr
    outside = tmp_path / "real.wav"
    speak(outside, "Outside.")
    (root / "link.wav").symlink_to(outside)
    linked = kubescribe("cancel", "link.wav", "--root", str(root))
    assert linked.returncode == 2 and "symlink" in linked.stderr
    assert not in_progress_path(outside).exists()


def test_retry_from_the_parent_folder_finds_the_root_from_the_path(tmp_path: Path) -> None:
    # A root no controller has run on yet (no .kubescribe/): the folder above manual/.
    root = tmp_path / "watch"
    audio = speak(root / "phone.wav", "Call me back.")
    failed = InProgress(filename="phone.wav", path="phone.wav", status=FileStatus.ERROR,
                        attempt=3, attempts=[Attempt(attempt_number=n, status="failed")
                                             for n in (1, 2, 3)])  # fmt: skip
    move_to_manual(root, "phone.wav", failed)

    retried = kubescribe("retry", "watch/manual/phone.wav", cwd=tmp_path)
    assert retried.returncode == 0, retried.stderr
    assert audio.is_file() and not (root / "manual/phone.wav").exists()
    assert not (tmp_path / "phone.wav").exists()
    back = InProgress.model_validate_json(in_progress_path(audio).read_text())
    # A fresh run: no attempt yet, and its number says so.
    assert back.attempt == 0 and back.attempts == []
    retried_at = json.loads(in_progress_path(audio).read_text())["earlier_runs"][0]["retried_at"]
    assert retried_at.endswith("Z") and "+00:00" not in retried_at


def test_a_path_whose_root_cannot_be_told_asks_for_root(tmp_path: Path) -> None:
    loose = speak(tmp_path / "somewhere" / "x.wav", "Where am I?")
    cancelled = kubescribe("cancel", "somewhere/x.wav", cwd=tmp_path)
    assert cancelled.returncode == 2 and "--root" in cancelled.stderr
    assert not in_progress_path(loose).exists()

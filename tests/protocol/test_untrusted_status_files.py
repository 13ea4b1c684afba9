"""Status files are written by anyone who can write the volume: what a reader refuses
(a FIFO, a huge file, a manual_path out of place) and what a writer keeps bounded."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kubescribe_protocol.additions import (
    KEEP_LAST_ATTEMPTS,
    attempts_dropped,
    set_manual_path,
)
from kubescribe_protocol.atomic import (
    MAX_STATUS_BYTES,
    NotRegularStatusFileError,
    StatusFileTooLargeError,
    read_model,
    write_model,
)
from kubescribe_protocol.manual import ManualPathError, check_manual_target, finish_manual_move
from kubescribe_protocol.models import Attempt, InProgress

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_a_fifo_as_status_file_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "x.mp3.in_progress"
    os.mkfifo(fifo)
    # On the old code this open() waits for a writer for ever (pytest's timeout ends it).
    with pytest.raises(NotRegularStatusFileError, match="is a FIFO, not a regular file"):
        read_model(fifo, InProgress)
    assert NotRegularStatusFileError.code == "status_not_regular_file"


def test_a_folder_as_status_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "x.mp3.in_progress").mkdir()
    with pytest.raises(NotRegularStatusFileError, match="folder"):
        read_model(tmp_path / "x.mp3.in_progress", InProgress)


def test_a_status_file_over_the_limit_is_not_read(tmp_path: Path) -> None:
    big = tmp_path / "x.mp3.in_progress"
    with big.open("wb") as handle:
        handle.truncate(MAX_STATUS_BYTES + 1)  # sparse: costs no disk
    with pytest.raises(StatusFileTooLargeError, match=f"over the limit of {MAX_STATUS_BYTES}"):
        read_model(big, InProgress)


def test_a_writer_keeps_the_first_and_the_last_attempts_and_counts_the_rest(
    tmp_path: Path,
) -> None:
    status = InProgress(filename="x.mp3", start_time=T0, updated_at=T0)
    total = KEEP_LAST_ATTEMPTS + 31
    status.attempts = [Attempt(attempt_number=n, start_time=T0) for n in range(1, total + 1)]
    status.attempt = total
    target = tmp_path / "x.mp3.in_progress"
    write_model(target, status)
    again = read_model(target, InProgress)
    assert again is not None
    numbers = [record.attempt_number for record in again.attempts]
    assert numbers == [1, *range(total - KEEP_LAST_ATTEMPTS + 1, total + 1)]
    assert attempts_dropped(again) == 30
    assert again.current() is not None
    # A second write adds to the count instead of restarting it.
    again.attempts.append(Attempt(attempt_number=total + 1, start_time=T0))
    again.attempt = total + 1
    write_model(target, again)
    third = read_model(target, InProgress)
    assert third is not None and attempts_dropped(third) == 31


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("/some/absolute/dir/evil.mp3", "absolute or has '..'"),
        ("../../x.mp3", "absolute or has '..'"),
        ("manual/../../x.mp3", "absolute or has '..'"),
        ("manual/other.mp3", "is not its place"),
        ("elsewhere/a.mp3", "is not its place"),
        ("manual/a (1).mp3", "is not its place"),
        ("manual/a (2).wav", "is not its place"),
    ],
)
def test_a_manual_path_not_the_files_own_place_is_refused(target: str, why: str) -> None:
    with pytest.raises(ManualPathError, match=rf"{why}.*it must be manual/a\.mp3"):
        check_manual_target("a.mp3", target)


def test_the_manual_paths_kubescribe_chooses_are_accepted() -> None:
    assert check_manual_target("d/a.mp3", "manual/d/a.mp3") == "manual/d/a.mp3"
    assert check_manual_target("d/a.mp3", "manual/d/a (12).mp3") == "manual/d/a (12).mp3"


def test_finishing_a_move_refuses_a_target_out_of_place(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "a.mp3").write_bytes(b"audio")
    status = InProgress(filename="a.mp3", start_time=T0, updated_at=T0)
    set_manual_path(status, str(tmp_path / "outside" / "evil.mp3"))
    write_model(root / "a.mp3.in_progress", status)
    with pytest.raises(ManualPathError):
        finish_manual_move(root, "a.mp3", str(tmp_path / "outside" / "evil.mp3"))
    assert (root / "a.mp3").read_bytes() == b"audio"
    assert not (tmp_path / "outside").exists()

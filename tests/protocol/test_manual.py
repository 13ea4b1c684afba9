"""Moves to manual/: keep the relative path and the history, never overwrite, survive crashes."""

from __future__ import annotations

from pathlib import Path

from kubescribe_protocol.additions import manual_path
from kubescribe_protocol.atomic import read_model, write_model
from kubescribe_protocol.manual import finish_manual_move, move_to_manual, read_manual_status
from kubescribe_protocol.models import Attempt, FileStatus, InProgress, StatusError
from kubescribe_protocol.names import in_progress_path
from kubescribe_protocol.state import FileState, file_state


def _failed(rel: str) -> InProgress:
    return InProgress(
        filename=Path(rel).name,
        path=rel,
        status=FileStatus.ERROR,
        attempt=3,
        attempts=[Attempt(attempt_number=n, status="failed") for n in (1, 2, 3)],
        error=StatusError(code="max_attempts_exceeded", message="gave up after 3 attempts"),
    )


def test_move_keeps_path_and_history(tmp_path: Path) -> None:
    rel = "team a/встреча.mp3"
    audio = tmp_path / rel
    audio.parent.mkdir()
    audio.write_bytes(b"audio bytes")
    target = move_to_manual(tmp_path, rel, _failed(rel))
    assert target == "manual/team a/встреча.mp3"
    assert (tmp_path / target).read_bytes() == b"audio bytes"
    moved = read_model(in_progress_path(tmp_path / target), InProgress)
    assert moved is not None and len(moved.attempts) == 3
    # manual_path is only for a move under way; a finished move does not keep it.
    assert "manual_path" not in in_progress_path(tmp_path / target).read_text()
    assert not audio.exists() and not in_progress_path(audio).exists()
    assert file_state(tmp_path, rel) is FileState.MANUAL


def test_move_never_overwrites(tmp_path: Path) -> None:
    for content in (b"first", b"second", b"third"):
        (tmp_path / "talk.mp3").write_bytes(content)
        move_to_manual(tmp_path, "talk.mp3", _failed("talk.mp3"))
    manual = tmp_path / "manual"
    assert (manual / "talk.mp3").read_bytes() == b"first"
    assert (manual / "talk (2).mp3").read_bytes() == b"second"
    assert (manual / "talk (3).mp3").read_bytes() == b"third"
    assert in_progress_path(manual / "talk (3).mp3").is_file()


def test_interrupted_move_is_finished_from_the_journal(tmp_path: Path) -> None:
    # The state a crash leaves after the audio moved and before its .in_progress followed.
    audio = tmp_path / "talk.mp3"
    audio.write_bytes(b"x")
    status = _failed("talk.mp3")
    status.manual_path = "manual/talk.mp3"  # type: ignore[attr-defined]
    write_model(in_progress_path(audio), status)
    (tmp_path / "manual").mkdir()
    audio.rename(tmp_path / "manual" / "talk.mp3")
    assert file_state(tmp_path, "talk.mp3") is FileState.MANUAL
    finish_manual_move(tmp_path, "talk.mp3", "manual/talk.mp3")
    finish_manual_move(tmp_path, "talk.mp3", "manual/talk.mp3")  # idempotent
    assert in_progress_path(tmp_path / "manual" / "talk.mp3").is_file()
    assert not in_progress_path(audio).exists()
    finished = read_model(in_progress_path(tmp_path / "manual" / "talk.mp3"), InProgress)
    assert finished is not None and manual_path(finished) is None  # the journal is closed


def test_status_of_a_file_whose_move_is_under_way(tmp_path: Path) -> None:
    # The audio is in manual/ already, its .in_progress not yet: readers still find it.
    audio = tmp_path / "talk.mp3"
    audio.write_bytes(b"x")
    status = _failed("talk.mp3")
    status.manual_path = "manual/talk.mp3"  # type: ignore[attr-defined]
    write_model(in_progress_path(audio), status)
    (tmp_path / "manual").mkdir()
    audio.rename(tmp_path / "manual" / "talk.mp3")
    behind = read_manual_status(tmp_path, "talk.mp3")
    assert behind is not None and behind.error is not None
    assert behind.error.code == "max_attempts_exceeded"
    finish_manual_move(tmp_path, "talk.mp3", "manual/talk.mp3")
    moved = read_manual_status(tmp_path, "talk.mp3")
    assert moved is not None and moved.error is not None


def test_no_manual_status_for_a_file_never_moved(tmp_path: Path) -> None:
    (tmp_path / "talk.mp3").write_bytes(b"x")
    write_model(in_progress_path(tmp_path / "talk.mp3"), _failed("talk.mp3"))
    assert read_manual_status(tmp_path, "talk.mp3") is None

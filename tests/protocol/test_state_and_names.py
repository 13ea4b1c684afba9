"""A file's state comes from disk alone; names keep talk.mp3 and talk.wav apart."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubescribe_protocol.atomic import write_model
from kubescribe_protocol.codes import PERMANENT_ERRORS, ErrorCode, ExitCode, exit_code_for
from kubescribe_protocol.models import FileStatus, InProgress, Result, StatusError, Transcription
from kubescribe_protocol.names import (
    in_progress_path,
    is_hidden_or_temporary,
    is_media_name,
    output_path,
    result_path,
)
from kubescribe_protocol.state import FileState, file_state


def test_status_file_names_keep_the_full_name() -> None:
    assert in_progress_path(Path("d/talk.mp3")) == Path("d/talk.mp3.in_progress")
    assert result_path(Path("d/talk.wav")) == Path("d/talk.wav.result")
    assert output_path(Path("d/talk.mp3"), "srt") == Path("d/talk.srt")


@pytest.mark.parametrize(
    ("name", "media"),
    [("a.mp3", True), ("B.WAV", True), ("clip.mp4", True), ("notes.txt", False),
     ("a.mp3.in_progress", False), ("a.mp3.result", False), ("noext", False)],
)  # fmt: skip
def test_media_names(name: str, media: bool) -> None:
    assert is_media_name(name) is media


@pytest.mark.parametrize(
    "name", [".hidden.mp3", "~lock.mp3", "talk.mp3.part", "talk.mp3.crdownload", "talk.mp3~"]
)
def test_temporary_names(name: str) -> None:
    assert is_hidden_or_temporary(name)
    assert not is_hidden_or_temporary("talk.mp3")


def _status(status: FileStatus, error: bool = False) -> InProgress:
    return InProgress(
        filename="talk.mp3",
        status=status,
        error=StatusError(code="whisperx_failed", message="x") if error else None,
    )


def test_states_from_disk(tmp_path: Path) -> None:
    audio = tmp_path / "d" / "talk.mp3"
    audio.parent.mkdir()
    assert file_state(tmp_path, "d/talk.mp3") is FileState.NOT_FOUND
    audio.write_bytes(b"x")
    assert file_state(tmp_path, "d/talk.mp3") is FileState.PENDING
    for status, state in [
        (FileStatus.QUEUED, FileState.PENDING),
        (FileStatus.PROCESSING, FileState.PROCESSING),
        (FileStatus.ERROR, FileState.ERROR),
    ]:
        write_model(in_progress_path(audio), _status(status))
        assert file_state(tmp_path, "d/talk.mp3") is state
    # The simplified seed version: "error: audio + .in_progress with an error field".
    write_model(in_progress_path(audio), _status(FileStatus.COMPLETED, error=True))
    assert file_state(tmp_path, "d/talk.mp3") is FileState.ERROR
    # A worker killed between writing .result and removing .in_progress: completed.
    write_model(
        result_path(audio), Result(filename="talk.mp3", transcription=Transcription(text=""))
    )
    assert file_state(tmp_path, "d/talk.mp3") is FileState.COMPLETED


def test_manual_state(tmp_path: Path) -> None:
    moved = tmp_path / "manual" / "d" / "talk.mp3"
    moved.parent.mkdir(parents=True)
    moved.write_bytes(b"x")
    assert file_state(tmp_path, "d/talk.mp3") is FileState.MANUAL


def test_exit_codes_are_distinct_by_kind() -> None:
    for code in PERMANENT_ERRORS:
        assert exit_code_for(code) is ExitCode.BAD_INPUT
    assert exit_code_for(ErrorCode.OUT_OF_MEMORY) is ExitCode.OUT_OF_MEMORY
    assert exit_code_for(ErrorCode.MODEL_MISSING) is ExitCode.MODEL_ERROR
    assert exit_code_for(ErrorCode.WHISPERX_FAILED) is ExitCode.FAILED
    assert len({int(code) for code in ExitCode}) == len(ExitCode)

"""Audio deleted, replaced or still growing under its attempt or after its result
(issue 14, items 7, 8 and 10): a result is only ever the text of the audio beside it."""

from __future__ import annotations

import os
import time
from pathlib import Path

from kubescribe_operator.core.changed_audio import HISTORY_INFIX
from kubescribe_operator.core.executor import AttemptKey
from kubescribe_protocol.additions import earlier_runs
from kubescribe_protocol.atomic import read_model
from kubescribe_protocol.codes import ErrorCode
from kubescribe_protocol.models import FileStatus, Result
from kubescribe_protocol.names import in_progress_path, result_path
from kubescribe_protocol.state import FileState, file_state

from .fakes import FakeExecutor
from .test_controller import audio, make, status_of


def _in_the_future(path: Path) -> None:
    # A writer's mtime the wall clock cannot make old during the test: only what the
    # controller saw (on its fake clock) can call the file still.
    later = time.time() + 3600
    os.utime(path, (later, later))


def _history(root: Path, rel: str) -> list[Path]:
    return sorted(root.glob(f"{Path(rel).name}.result{HISTORY_INFIX}*"))


def _text_of(path: Path) -> str:
    result = read_model(path, Result)
    assert result is not None
    return result.transcription.text


def _run_one(executor: FakeExecutor, text: str) -> None:
    (key,) = executor.running
    executor.succeed(key, text)


def test_a_result_whose_audio_grew_after_it_is_kept_as_history_and_done_again(
    tmp_path: Path,
) -> None:
    # A copy that paused longer than stable_seconds: its first part was transcribed.
    controller, executor, clock = make(tmp_path, stable_seconds=60)
    path = audio(tmp_path, "long.mp3", b"a" * 3000, mtime=1000)
    controller.tick()
    clock.advance(61)
    controller.tick()
    _run_one(executor, "the first part")
    controller.tick()
    assert file_state(tmp_path, "long.mp3") is FileState.COMPLETED
    record = read_model(result_path(path), Result)
    assert record is not None and record.audio is not None and record.audio.size == 3000

    with path.open("ab") as copy:  # the copy goes on
        copy.write(b"b" * 3000)
    controller.rescan()
    (kept,) = _history(tmp_path, "long.mp3")
    assert _text_of(kept) == "the first part"
    assert not result_path(path).exists()
    assert file_state(tmp_path, "long.mp3") is FileState.PENDING
    controller.tick()
    assert len(executor.specs) == 1  # a new file: it waits to hold still
    clock.advance(61)
    controller.tick()
    _run_one(executor, "the whole file")
    controller.tick()
    assert _text_of(result_path(path)) == "the whole file"
    assert _history(tmp_path, "long.mp3") == [kept]


def test_a_result_made_by_an_older_kubescribe_is_left_alone(tmp_path: Path) -> None:
    controller, _, _ = make(tmp_path)
    path = audio(tmp_path, "old.mp3")
    result_path(path).write_text('{"filename": "old.mp3", "transcription": {"text": "hi"}}')
    path.write_bytes(b"y" * 500)  # newer than its result, but the result names no audio
    controller.rescan()
    assert file_state(tmp_path, "old.mp3") is FileState.COMPLETED
    assert _history(tmp_path, "old.mp3") == []


def test_audio_deleted_during_its_attempt_is_forgotten_and_a_new_file_is_transcribed(
    tmp_path: Path,
) -> None:
    controller, executor, _ = make(tmp_path)
    path = audio(tmp_path, "talk.mp3", b"a" * 200)
    controller.tick()
    (key,) = executor.running
    path.unlink()
    executor.fail(key, ErrorCode.FILE_MISSING)
    controller.tick()
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no .in_progress, no manual/
    assert controller.all_terminal()

    # A worker that wrote its result just as the audio was deleted (an older worker, or
    # the instant between its check and its write): not completed, not a .result.
    audio(tmp_path, "talk.mp3", b"b" * 300)
    controller.rescan()
    controller.tick()
    (key,) = executor.running
    assert key == AttemptKey("talk.mp3", 1)
    (tmp_path / "talk.mp3").unlink()
    executor.succeed(key, "text of deleted audio")
    controller.tick()
    assert controller.counters.completed == 0
    assert not result_path(tmp_path / "talk.mp3").exists()
    assert [_text_of(p) for p in _history(tmp_path, "talk.mp3")] == ["text of deleted audio"]

    audio(tmp_path, "talk.mp3", b"c" * 400)  # saved again later: a new file
    controller.rescan()
    controller.tick()
    _run_one(executor, "the new file")
    controller.tick()
    assert _text_of(result_path(tmp_path / "talk.mp3")) == "the new file"


def test_audio_replaced_during_its_attempt_starts_again_as_new(tmp_path: Path) -> None:
    controller, executor, clock = make(tmp_path, stable_seconds=60, max_attempts=1)
    path = audio(tmp_path, "talk.mp3", b"a" * 200, mtime=1000)
    controller.tick()
    clock.advance(61)
    controller.tick()
    (key,) = executor.running
    path.write_bytes(b"tone" * 100)
    _in_the_future(path)
    # Even a failure that is not audio_changed says nothing of the new audio: it is not
    # counted (max_attempts 1 would send the file to manual/).
    executor.fail(key, ErrorCode.WHISPERX_FAILED, now=clock.now)
    controller.tick()
    status = status_of(tmp_path, "talk.mp3")
    assert status.status is FileStatus.QUEUED and status.attempts == []
    (run,) = earlier_runs(status)
    assert [r.error.code for r in run.attempts if r.error] == ["whisperx_failed"]
    clock.advance(30)
    controller.tick()
    assert "talk.mp3" in controller.still_changing()
    assert executor.running == set()  # the new audio has not held still yet
    clock.advance(31)
    controller.tick()
    assert executor.running == {AttemptKey("talk.mp3", 2)}
    executor.succeed(AttemptKey("talk.mp3", 2), "the tone")
    controller.tick()
    assert _text_of(result_path(path)) == "the tone"


def test_a_request_for_a_file_still_being_written_waits_until_it_holds_still(
    tmp_path: Path,
) -> None:
    controller, executor, clock = make(tmp_path, stable_seconds=600)
    path = audio(tmp_path, "g2.mp3", b"a" * 100)
    _in_the_future(path)
    controller.recover()
    controller.request("g2.mp3", client_id="c-1")
    controller.tick()
    assert executor.running == set()
    assert "g2.mp3" in controller.still_changing()
    for size in (200, 300):  # the writer appends
        clock.advance(3)
        path.write_bytes(b"a" * size)
        _in_the_future(path)
        controller.tick()
        assert executor.running == set()
    clock.advance(5)  # still for REQUEST_STABLE_SECONDS, far less than stable_seconds
    controller.tick()
    assert executor.running == {AttemptKey("g2.mp3", 1)}
    assert "g2.mp3" not in controller.still_changing()
    assert in_progress_path(path).exists()

"""The core's decisions, driven tick by tick with a fake clock and a hand-driven executor."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from kubescribe_operator.core.controller import Controller
from kubescribe_operator.core.executor import AttemptKey, EndReason
from kubescribe_operator.settings import ControllerSettings
from kubescribe_protocol.atomic import read_model, write_model
from kubescribe_protocol.codes import ErrorCode
from kubescribe_protocol.models import Attempt, AttemptStatus, FileStatus, InProgress, Priority
from kubescribe_protocol.names import in_progress_path, result_path
from kubescribe_protocol.state import FileState, file_state

from .fakes import FakeClock, FakeExecutor


def make(root: Path, **overrides: object) -> tuple[Controller, FakeExecutor, FakeClock]:
    values: dict[str, object] = {"stable_seconds": 0, "scan_interval_seconds": 1, **overrides}
    settings = ControllerSettings(root=root, **values)  # type: ignore[arg-type]
    executor = FakeExecutor(root)
    clock = FakeClock()
    return Controller(settings, executor, clock=clock), executor, clock


def audio(root: Path, rel: str, data: bytes = b"x" * 100, mtime: float | None = None) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def status_of(root: Path, rel: str) -> InProgress:
    status = read_model(in_progress_path(root / rel), InProgress)
    assert status is not None
    return status


def test_completes_files_oldest_first_with_api_requests_ahead(tmp_path: Path) -> None:
    controller, executor, _ = make(tmp_path, parallel=1)
    audio(tmp_path, "b/new.mp3", mtime=3000)
    audio(tmp_path, "a/old.wav", mtime=1000)
    audio(tmp_path, "middle.flac", mtime=2000)
    audio(tmp_path, "wanted.ogg", mtime=4000)
    controller.recover()
    controller.request("wanted.ogg", client_id="c-1")
    assert status_of(tmp_path, "wanted.ogg").status is FileStatus.QUEUED
    for _ in range(4):
        controller.tick()
        (key,) = executor.running
        executor.succeed(key)
    controller.tick()
    assert executor.started_paths() == ["wanted.ogg", "a/old.wav", "middle.flac", "b/new.mp3"]
    assert controller.all_terminal()
    for rel in executor.started_paths():
        assert file_state(tmp_path, rel) is FileState.COMPLETED
        assert not in_progress_path(tmp_path / rel).exists()


def test_parallel_limit(tmp_path: Path) -> None:
    controller, executor, _ = make(tmp_path, parallel=2)
    for n in range(5):
        audio(tmp_path, f"f{n}.mp3")
    controller.tick()
    assert len(executor.running) == 2
    executor.succeed(sorted(executor.running)[0])
    controller.tick()
    assert len(executor.running) == 2 and len(executor.specs) == 3


def test_growing_file_is_not_taken_until_stable(tmp_path: Path) -> None:
    controller, executor, clock = make(tmp_path, stable_seconds=60)
    path = audio(tmp_path, "growing.mp3", b"x")
    controller.tick()
    for n in range(5):  # grows every 30 s: never 60 s still
        clock.advance(30)
        path.write_bytes(b"x" * (n + 2))
        controller.tick()
    assert executor.specs == []
    clock.advance(59)
    controller.tick()
    assert executor.specs == []
    clock.advance(2)
    controller.tick()
    assert executor.started_paths() == ["growing.mp3"]


def test_retry_honours_retry_after_then_max_attempts_to_manual(tmp_path: Path) -> None:
    controller, executor, clock = make(tmp_path, max_attempts=3)
    audio(tmp_path, "dir/talk.mp3")
    controller.tick()
    for attempt in (1, 2, 3):
        key = AttemptKey("dir/talk.mp3", attempt)
        assert executor.running == {key}
        executor.fail(key, ErrorCode.WHISPERX_FAILED, retry_after=100, now=clock.now)
        controller.tick()
        if attempt < 3:
            status = status_of(tmp_path, "dir/talk.mp3")
            assert status.status is FileStatus.ERROR
            assert status.error is not None and status.error.code == "whisperx_failed"
            clock.advance(99)
            controller.tick()
            assert executor.running == set()  # not before timestamp + retry_after
            clock.advance(2)
            controller.tick()
    assert file_state(tmp_path, "dir/talk.mp3") is FileState.MANUAL
    moved = status_of(tmp_path, "manual/dir/talk.mp3")
    assert moved.error is not None and moved.error.code == ErrorCode.MAX_ATTEMPTS
    assert [a.attempt_number for a in moved.attempts] == [1, 2, 3]
    assert all(a.status is AttemptStatus.FAILED for a in moved.attempts)
    assert controller.all_terminal()


def test_backoff_when_the_worker_gives_no_retry_after(tmp_path: Path) -> None:
    controller, executor, _ = make(tmp_path, retry_backoff_seconds=10)
    audio(tmp_path, "a.mp3")
    controller.tick()
    executor.die(AttemptKey("a.mp3", 1), exit_code=-11)
    controller.tick()
    status = status_of(tmp_path, "a.mp3")
    assert status.error is not None and status.error.code == ErrorCode.WORKER_DIED
    assert status.error.retry_after == 10
    record = status.attempts[0]
    assert record.exit_code == -11 and record.end_time is not None


def test_bad_input_goes_to_manual_at_once(tmp_path: Path) -> None:
    controller, executor, _ = make(tmp_path)
    audio(tmp_path, "notes.mp3")
    controller.tick()
    executor.fail(AttemptKey("notes.mp3", 1), ErrorCode.NOT_AUDIO)
    controller.tick()
    assert file_state(tmp_path, "notes.mp3") is FileState.MANUAL
    moved = status_of(tmp_path, "manual/notes.mp3")
    assert moved.error is not None and moved.error.code == "not_audio"


def test_exit_code_of_bad_input_alone_goes_to_manual_at_once(tmp_path: Path) -> None:
    # A worker that exits 10 but could not write its error: the exit code is its verdict.
    controller, executor, _ = make(tmp_path)
    audio(tmp_path, "notes.mp3")
    controller.tick()
    executor._exit(AttemptKey("notes.mp3", 1), 10)
    controller.tick()
    assert file_state(tmp_path, "notes.mp3") is FileState.MANUAL
    moved = status_of(tmp_path, "manual/notes.mp3")
    assert moved.error is not None and moved.error.code == "undecodable"
    assert len(moved.attempts) == 1


def test_the_runner_is_recorded_before_it_exists(tmp_path: Path) -> None:
    controller, executor, _ = make(tmp_path)
    audio(tmp_path, "talk.mp3")
    controller.tick()
    (spec,) = executor.specs
    record = status_of(tmp_path, "talk.mp3").current()
    assert record is not None
    assert record.runner == executor.planned_handle(spec.key) == "fake-talk.mp3-1"
    assert record.executor == "fake"


def test_manual_move_never_overwrites(tmp_path: Path) -> None:
    controller, executor, _ = make(tmp_path)
    audio(tmp_path, "manual/x.mp3", b"earlier")
    audio(tmp_path, "x.mp3", b"later")
    controller.tick()
    executor.fail(AttemptKey("x.mp3", 1), ErrorCode.EMPTY_FILE)
    controller.tick()
    assert (tmp_path / "manual/x.mp3").read_bytes() == b"earlier"
    assert (tmp_path / "manual/x (2).mp3").read_bytes() == b"later"
    assert in_progress_path(tmp_path / "manual/x (2).mp3").is_file()


def test_deadline_kills_and_records_timeout(tmp_path: Path) -> None:
    controller, executor, clock = make(tmp_path, attempt_deadline_seconds=60)
    audio(tmp_path, "long.mp3")
    controller.tick()
    key = AttemptKey("long.mp3", 1)
    executor.heartbeat(key, clock.now + timedelta(seconds=59))
    clock.advance(61)
    controller.tick()
    assert executor.stops == [(key, EndReason.DEADLINE_EXCEEDED)]
    controller.tick()
    status = status_of(tmp_path, "long.mp3")
    assert status.status is FileStatus.ERROR
    assert status.attempts[0].error is not None
    assert status.attempts[0].error.code == ErrorCode.TIMEOUT


def test_lost_heartbeat_is_a_failed_attempt(tmp_path: Path) -> None:
    controller, executor, clock = make(tmp_path, heartbeat_timeout_seconds=30)
    audio(tmp_path, "quiet.mp3")
    controller.tick()
    key = AttemptKey("quiet.mp3", 1)
    clock.advance(20)
    executor.heartbeat(key, clock.now)
    clock.advance(25)
    controller.tick()
    assert executor.stops == []
    clock.advance(10)
    controller.tick()
    assert executor.stops == [(key, EndReason.KILLED)]
    controller.tick()
    status = status_of(tmp_path, "quiet.mp3")
    assert status.error is not None and status.error.code == ErrorCode.HEARTBEAT_LOST


def test_a_worker_not_yet_started_gets_the_start_timeout(tmp_path: Path) -> None:
    # A Job waiting for a node or pulling its image writes no heartbeat: that is not a
    # lost heartbeat until start_timeout_seconds.
    controller, executor, clock = make(
        tmp_path, heartbeat_timeout_seconds=30, start_timeout_seconds=300
    )
    audio(tmp_path, "queued.mp3")
    controller.tick()
    key = AttemptKey("queued.mp3", 1)
    clock.advance(290)
    controller.tick()
    assert executor.stops == []
    clock.advance(20)
    controller.tick()
    assert executor.stops == [(key, EndReason.KILLED)]


def test_should_continue_false_stops_further_attempts(tmp_path: Path) -> None:
    controller, executor, clock = make(tmp_path)
    audio(tmp_path, "a.mp3")
    controller.tick()
    executor.fail(AttemptKey("a.mp3", 1), ErrorCode.WHISPERX_FAILED, retry_after=0, now=clock.now)
    controller.tick()
    assert len(executor.specs) == 2
    # A person (or the API) cancels the file while attempt 2 runs.
    key = AttemptKey("a.mp3", 2)
    assert executor.running == {key}
    status = status_of(tmp_path, "a.mp3")
    status.should_continue = False
    write_model(in_progress_path(tmp_path / "a.mp3"), status)
    controller.tick()
    assert (key, EndReason.STOPPED) in executor.stops
    controller.tick()
    assert file_state(tmp_path, "a.mp3") is FileState.MANUAL
    moved = status_of(tmp_path, "manual/a.mp3")
    assert moved.error is not None and moved.error.code == ErrorCode.CANCELLED
    assert len(executor.specs) == 2


def _processing(root: Path, rel: str, when_hours_ago: float, clock: FakeClock) -> None:
    audio(root, rel)
    then = clock.now - timedelta(hours=when_hours_ago)
    status = InProgress(
        filename=Path(rel).name, path=rel, status=FileStatus.PROCESSING, attempt=1,
        start_time=then, updated_at=then,
        attempts=[Attempt(attempt_number=1, start_time=then, heartbeat=then)],
    )  # fmt: skip
    write_model(in_progress_path(root / rel), status)


def test_recovery_requeues_vanished_attempts_and_sends_stale_ones_to_manual(
    tmp_path: Path,
) -> None:
    controller, executor, clock = make(tmp_path, max_attempts=1)
    _processing(tmp_path, "recent.mp3", 1, clock)
    _processing(tmp_path, "ancient.mp3", 25, clock)
    controller.recover()
    assert file_state(tmp_path, "ancient.mp3") is FileState.MANUAL
    stale = status_of(tmp_path, "manual/ancient.mp3")
    assert stale.error is not None and stale.error.code == ErrorCode.STALE
    status = status_of(tmp_path, "recent.mp3")
    assert status.attempts[0].error is not None
    assert status.attempts[0].error.code == ErrorCode.INTERRUPTED
    # An interruption is not the file's fault: max_attempts=1 still allows attempt 2.
    controller.tick()
    assert executor.running == {AttemptKey("recent.mp3", 2)}


def test_recovery_adopts_a_live_attempt(tmp_path: Path) -> None:
    controller, executor, clock = make(tmp_path)
    _processing(tmp_path, "live.mp3", 0, clock)
    executor.running.add(AttemptKey("live.mp3", 1))
    controller.recover()
    controller.tick()
    assert executor.specs == []  # not started twice
    assert "live.mp3" in controller.running
    executor.succeed(AttemptKey("live.mp3", 1))
    controller.tick()
    assert file_state(tmp_path, "live.mp3") is FileState.COMPLETED


def test_recovery_finishes_leftovers(tmp_path: Path) -> None:
    controller, _, clock = make(tmp_path)
    # A worker killed between writing .result and removing .in_progress.
    _processing(tmp_path, "done.mp3", 0, clock)
    result_path(tmp_path / "done.mp3").write_text('{"filename": "done.mp3", '
                                                  '"transcription": {"text": "hi"}}')  # fmt: skip
    # A move to manual/ interrupted after the audio moved.
    _processing(tmp_path, "half.mp3", 0, clock)
    status = status_of(tmp_path, "half.mp3")
    status.manual_path = "manual/half.mp3"  # type: ignore[attr-defined]
    write_model(in_progress_path(tmp_path / "half.mp3"), status)
    (tmp_path / "manual").mkdir()
    (tmp_path / "half.mp3").rename(tmp_path / "manual/half.mp3")
    controller.recover()
    assert file_state(tmp_path, "done.mp3") is FileState.COMPLETED
    assert not in_progress_path(tmp_path / "done.mp3").exists()
    assert file_state(tmp_path, "half.mp3") is FileState.MANUAL
    assert in_progress_path(tmp_path / "manual/half.mp3").is_file()
    assert not in_progress_path(tmp_path / "half.mp3").exists()


def test_worker_error_left_unjudged_by_a_crash_is_judged_on_restart(tmp_path: Path) -> None:
    controller, executor, clock = make(tmp_path)
    audio(tmp_path, "bad.mp3")
    controller.tick()
    executor.fail(AttemptKey("bad.mp3", 1), ErrorCode.UNDECODABLE, now=clock.now)
    # The controller dies before it collects the end; a new one starts.
    fresh, executor2, _ = make(tmp_path)
    fresh.clock = clock
    fresh.tick()
    assert file_state(tmp_path, "bad.mp3") is FileState.MANUAL
    assert executor2.specs == []


def test_request_while_running_is_applied_after_the_attempt(tmp_path: Path) -> None:
    controller, executor, _ = make(tmp_path)
    audio(tmp_path, "a.mp3")
    controller.tick()
    controller.request("a.mp3", "client-7")
    executor.fail(AttemptKey("a.mp3", 1), ErrorCode.WHISPERX_FAILED, retry_after=1000)
    controller.tick()
    status = status_of(tmp_path, "a.mp3")
    assert status.priority is Priority.API_REQUEST and status.api_clients == ["client-7"]


@pytest.mark.parametrize("count", [3])
def test_all_terminal_waits_for_every_file(tmp_path: Path, count: int) -> None:
    controller, executor, _ = make(tmp_path, parallel=count)
    for n in range(count):
        audio(tmp_path, f"f{n}.mp3")
    controller.tick()
    assert not controller.all_terminal()
    for key in sorted(executor.running):
        executor.succeed(key)
    controller.tick()
    assert controller.all_terminal()


def test_cancel_a_waiting_and_a_running_file(tmp_path: Path) -> None:
    controller, executor, _ = make(tmp_path, parallel=1)
    audio(tmp_path, "a.mp3", mtime=1000)
    audio(tmp_path, "b.mp3", mtime=2000)
    audio(tmp_path, "c.mp3", mtime=3000)
    controller.tick()
    assert controller.queue() == ["b.mp3", "c.mp3"]  # a.mp3 runs
    assert controller.cancel("b.mp3")
    controller.tick()
    assert file_state(tmp_path, "b.mp3") is FileState.MANUAL
    moved = status_of(tmp_path, "manual/b.mp3")
    assert moved.error is not None and moved.error.code == ErrorCode.CANCELLED
    assert not moved.should_continue
    assert controller.cancel("a.mp3")
    assert executor.stops == [(AttemptKey("a.mp3", 1), EndReason.STOPPED)]
    controller.tick()
    assert file_state(tmp_path, "a.mp3") is FileState.MANUAL
    moved = status_of(tmp_path, "manual/a.mp3")
    assert moved.error is not None and moved.error.code == ErrorCode.CANCELLED
    assert moved.attempts[0].status is AttemptStatus.FAILED
    assert executor.started_paths() == ["a.mp3", "c.mp3"]
    assert controller.queue() == []

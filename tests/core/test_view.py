"""The controller's read model: what every reader (API, mirror, progress lines) gets."""

from __future__ import annotations

from pathlib import Path

from kubescribe_operator.core.controller import Controller
from kubescribe_operator.core.queue_order import queue_key
from kubescribe_operator.settings import ControllerSettings
from kubescribe_protocol.models import FileStatus, Priority
from kubescribe_protocol.names import in_progress_path, result_path

from .fakes import FakeClock, FakeExecutor


def _controller(root: Path) -> tuple[Controller, FakeExecutor]:
    settings = ControllerSettings(root=root, stable_seconds=0, scan_interval_seconds=1)
    executor = FakeExecutor(root)
    return Controller(settings, executor, clock=FakeClock()), executor


def test_the_view_shows_each_file_as_the_controller_knows_it(tmp_path: Path) -> None:
    for name in ("done.wav", "queued.wav", "broken.wav", "running.wav"):
        (tmp_path / name).write_bytes(b"x" * 100)
    result_path(tmp_path / "done.wav").write_text("{}")
    in_progress_path(tmp_path / "broken.wav").write_text("{not json")
    controller, executor = _controller(tmp_path)
    controller.recover()
    controller.request("queued.wav", client_id="c-1")
    controller.tick()  # starts one attempt (parallel 1): the API request first
    (running,) = executor.running

    view = controller.view()
    files = view.files
    assert set(files) == {"done.wav", "queued.wav", "broken.wav", "running.wav"}
    assert files["done.wav"].completed and files["done.wav"].state == "completed"
    assert files["broken.wav"].unreadable and files["broken.wav"].status is None
    assert running.path == "queued.wav"
    started = files["queued.wav"]
    assert started.running_attempt == 1 and started.state == "processing"
    assert started.priority is Priority.API_REQUEST
    assert started.status is not None and started.status.status is FileStatus.PROCESSING
    assert files["running.wav"].state == "pending"
    assert files["running.wav"].priority is Priority.AUTO_SCAN
    assert set(view.running) == {"queued.wav"} == controller.running


def test_a_view_is_a_copy_and_can_be_of_a_few_files(tmp_path: Path) -> None:
    (tmp_path / "a.wav").write_bytes(b"x")
    controller, executor = _controller(tmp_path)
    controller.recover()
    before = controller.view()
    controller.tick()
    (key,) = executor.running
    executor.succeed(key)
    controller.tick()
    assert before.files["a.wav"].running_attempt is None and not before.files["a.wav"].completed
    assert controller.view().files["a.wav"].completed
    assert set(controller.view(["a.wav", "unknown.wav"]).files) == {"a.wav"}
    assert controller.view(controller.running).files == {}


def test_api_requests_come_first_then_the_longest_waiting() -> None:
    from datetime import UTC, datetime

    early, late = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 2, tzinfo=UTC)
    keys = {
        "scan-late": queue_key(api_request=False, queued_since=late, rel="b"),
        "api-late": queue_key(api_request=True, queued_since=late, rel="c"),
        "scan-early": queue_key(api_request=False, queued_since=early, rel="a"),
    }
    assert sorted(keys, key=keys.__getitem__) == ["api-late", "scan-early", "scan-late"]

"""An in-process executor whose "workers" the test drives by hand, writing the status
files exactly as the real worker does: for fast tests of the core's decisions. The
end-to-end tests in tests/local run the real worker."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kubescribe_operator.core.executor import AttemptEnd, AttemptKey, AttemptSpec, EndReason
from kubescribe_protocol.atomic import read_model, remove_durably, write_model
from kubescribe_protocol.codes import ErrorCode, exit_code_for
from kubescribe_protocol.models import (
    AttemptStatus,
    FileStatus,
    InProgress,
    Result,
    StatusError,
    Transcription,
)
from kubescribe_protocol.names import in_progress_path, result_path


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class FakeExecutor:
    root: Path
    name: str = "fake"
    specs: list[AttemptSpec] = field(default_factory=list)
    running: set[AttemptKey] = field(default_factory=set)
    ended: list[AttemptEnd] = field(default_factory=list)
    stops: list[tuple[AttemptKey, EndReason]] = field(default_factory=list)

    def planned_handle(self, key: AttemptKey) -> str | None:
        return f"fake-{key.path}-{key.attempt}"

    def start(self, spec: AttemptSpec) -> str:
        status = read_model(in_progress_path(spec.root / spec.key.path), InProgress)
        # The contract: the attempt is on disk before its runner exists.
        assert status is not None and status.attempt == spec.key.attempt
        assert status.status is FileStatus.PROCESSING
        self.specs.append(spec)
        self.running.add(spec.key)
        return f"fake-{len(self.specs)}"

    def stop(self, key: AttemptKey, reason: EndReason) -> None:
        self.stops.append((key, reason))
        if key in self.running:
            self.running.discard(key)
            self.ended.append(AttemptEnd(key, reason, exit_code=-9))

    def live(self) -> set[AttemptKey]:
        return set(self.running)

    def collect(self) -> list[AttemptEnd]:
        ended, self.ended = self.ended, []
        return ended

    # --- what a worker would do -------------------------------------------------------

    def started_paths(self) -> list[str]:
        return [spec.key.path for spec in self.specs]

    def succeed(self, key: AttemptKey, text: str = "hello") -> None:
        audio = self.root / key.path
        # As the real worker does: the result names the audio its attempt started on.
        status = read_model(in_progress_path(audio), InProgress)
        record = status.current() if status is not None else None
        write_model(result_path(audio), Result(filename=audio.name, transcription=Transcription(
            text=text), audio=record.audio if record else None))  # fmt: skip
        remove_durably(in_progress_path(audio))
        self._exit(key, 0)

    def fail(self, key: AttemptKey, code: ErrorCode, retry_after: float | None = None,
             now: datetime | None = None) -> None:  # fmt: skip
        path = in_progress_path(self.root / key.path)
        status = read_model(path, InProgress)
        assert status is not None
        error = StatusError(code=code, message=f"test {code}", retry_after=retry_after,
                            timestamp=now or datetime.now(UTC))  # fmt: skip
        record = status.current()
        assert record is not None
        record.status, record.error, record.end_time = AttemptStatus.FAILED, error, error.timestamp
        status.status, status.error = FileStatus.ERROR, error
        write_model(path, status)
        self._exit(key, int(exit_code_for(code)))

    def heartbeat(self, key: AttemptKey, when: datetime) -> None:
        path = in_progress_path(self.root / key.path)
        status = read_model(path, InProgress)
        assert status is not None
        record = status.current()
        assert record is not None
        record.heartbeat = when
        write_model(path, status)

    def die(self, key: AttemptKey, exit_code: int = -9) -> None:
        self._exit(key, exit_code)

    def _exit(self, key: AttemptKey, code: int) -> None:
        self.running.discard(key)
        self.ended.append(AttemptEnd(key, EndReason.EXITED, exit_code=code))

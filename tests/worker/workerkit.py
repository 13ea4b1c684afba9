"""Running the real ``kubescribe worker`` in tests the way the controller does, and
watching its status file from outside as any reader would."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import speechkit

from kubescribe_protocol.atomic import read_model, write_model
from kubescribe_protocol.models import (
    Attempt,
    FileStatus,
    InProgress,
    Result,
    TranscriptionSettings,
)
from kubescribe_protocol.names import in_progress_path, result_path

#: About 45 s of English in sentences that do not repeat (Whisper skips repeated text
#: within one 30 s window): two chunks for WhisperX, so progress has a step to show.
LONG_ENGLISH = speechkit.DISTINCT_ENGLISH_SENTENCES[:13]
RUSSIAN_TEXT = "Привет, как дела? Сегодня хорошая погода, и мы идём гулять в парк."

TINY = {"model_size": "tiny.en", "device": "cpu", "compute_type": "int8"}
#: Worst case on a loaded 2-core machine: importing WhisperX, loading base, a minute of audio.
RUN_TIMEOUT = 180


def english_text() -> str:
    return " ".join(LONG_ENGLISH)


def place(src: Path, root: Path, rel: str) -> str:
    """Copy ``src`` to ``root/rel`` (folders made as needed); returns ``rel``."""
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, target)
    return rel


def claim(root: Path, rel: str, attempt: int = 1, **settings: Any) -> InProgress:
    """Write ``.in_progress`` as the controller does right before it starts attempt N."""
    audio = root / rel
    status = InProgress(
        filename=audio.name,
        path=rel,
        status=FileStatus.PROCESSING,
        attempt=attempt,
        settings=TranscriptionSettings.model_validate({**TINY, **settings}),
        attempts=[
            Attempt(attempt_number=number, executor="local", runner="test")
            for number in range(1, attempt + 1)
        ],
    )
    write_model(in_progress_path(audio), status)
    return status


def worker_command(root: Path, rel: str, attempt: int, model_dir: Path | None) -> list[str]:
    command = [sys.executable, "-m", "kubescribe_cli", "worker", "--root", str(root),
               "--attempt", str(attempt)]  # fmt: skip
    if model_dir is not None:
        command += ["--model-dir", str(model_dir)]
    return [*command, "--", rel]


def worker_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBESCRIBE_")}
    return {**env, **extra}


def run_worker(
    root: Path, rel: str, model_dir: Path | None, attempt: int = 1, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        worker_command(root, rel, attempt, model_dir),
        env=worker_env(**env),
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )


def start_worker(
    root: Path, rel: str, model_dir: Path | None, attempt: int = 1, **env: str
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        worker_command(root, rel, attempt, model_dir),
        env=worker_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def read_status(root: Path, rel: str) -> InProgress:
    status = read_model(in_progress_path(root / rel), InProgress)
    assert status is not None, f"{rel}.in_progress is gone"
    return status


def read_result(root: Path, rel: str) -> Result:
    result = read_model(result_path(root / rel), Result)
    assert result is not None, f"{rel}.result is missing"
    return result


@dataclass
class StatusWatcher:
    """Reads ``.in_progress`` as fast as it can while the worker runs, as a reader
    polling the volume would; remembers every progress it saw and every bad read."""

    path: Path
    seen: list[tuple[str, int]] = field(default_factory=list)
    heartbeats: list[str] = field(default_factory=list)
    bad_reads: list[str] = field(default_factory=list)
    reads: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> StatusWatcher:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                text = self.path.read_text(encoding="utf-8")
            except FileNotFoundError:
                time.sleep(0.01)
                continue
            self.reads += 1
            try:
                data = json.loads(text)
                InProgress.model_validate(data)
            except ValueError as exc:  # JSONDecodeError and ValidationError both are
                self.bad_reads.append(f"{exc}: {text[:200]!r}")
                continue
            progress = data.get("progress") or {}
            if progress:
                entry = (progress["stage"], progress["percentage"])
                if not self.seen or self.seen[-1] != entry:
                    self.seen.append(entry)
            beat = data["attempts"][-1].get("heartbeat")
            if beat and (not self.heartbeats or self.heartbeats[-1] != beat):
                self.heartbeats.append(beat)
            time.sleep(0.01)

"""Atomic writes: readers see the old file or the new one, never a part; no temp file stays."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest

from kubescribe_protocol.atomic import (
    TEMP_PREFIX,
    StatusFileError,
    read_json,
    read_model,
    write_model,
    write_text_atomic,
)
from kubescribe_protocol.models import InProgress


def _rewrite_forever(target: str) -> None:
    # Files of very different sizes make a torn write visible as invalid JSON.
    number = 0
    while True:
        number += 1
        body = {"n": number, "pad": "x" * (number % 7) * 50_000}
        write_text_atomic(Path(target), json.dumps(body))


def test_concurrent_reader_never_sees_a_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "talk.mp3.in_progress"
    write_text_atomic(target, json.dumps({"n": 0}))
    writer = multiprocessing.get_context("spawn").Process(
        target=_rewrite_forever, args=(str(target),)
    )
    writer.start()
    try:
        # Read until the writer has rewritten the file many times: on a loaded machine a
        # spawned process can take many seconds to start, so the bound is generous and the
        # test ends as soon as it has seen enough.
        seen: set[int] = set()
        deadline = time.monotonic() + 180
        while len(seen) <= 50 and time.monotonic() < deadline:
            data = read_json(target)  # raises StatusFileError on a torn file
            assert data is not None
            seen.add(data["n"])
        assert len(seen) > 50, "the writer made too little progress to prove anything"
    finally:
        writer.kill()
        writer.join()


def test_killed_writer_leaves_old_or_new_file(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    for _ in range(5):
        write_text_atomic(target, json.dumps({"n": 0}))
        writer = multiprocessing.get_context("spawn").Process(
            target=_rewrite_forever, args=(str(target),)
        )
        writer.start()
        time.sleep(0.6)
        assert writer.pid is not None
        os.kill(writer.pid, signal.SIGKILL)
        writer.join()
        data = read_json(target)
        assert data is not None and isinstance(data["n"], int)


def test_no_temporary_file_is_left(tmp_path: Path) -> None:
    target = tmp_path / "talk.mp3.in_progress"
    write_model(target, InProgress(filename="talk.mp3"))
    write_model(target, InProgress(filename="talk.mp3", attempt=1))
    assert [p.name for p in tmp_path.iterdir()] == ["talk.mp3.in_progress"]
    assert not any(p.name.startswith(TEMP_PREFIX) for p in tmp_path.iterdir())


def test_read_model_reports_missing_and_corrupt_files(tmp_path: Path) -> None:
    target = tmp_path / "x.in_progress"
    assert read_model(target, InProgress) is None
    target.write_text("{not json", encoding="utf-8")
    with pytest.raises(StatusFileError, match="not valid JSON"):
        read_model(target, InProgress)
    target.write_text('{"status": "processing"}', encoding="utf-8")
    with pytest.raises(StatusFileError, match="not a valid InProgress"):
        read_model(target, InProgress)

"""What ``kubescribe run`` tells a person: a banner at the start, the files it does not
take yet (still changing), the API's address once. A real process, stopped with Ctrl-C;
no worker runs (nothing gets stable in time)."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from .helpers import env_with


def _lines(stream: object, into: queue.Queue[str]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.put(line)


def _run_until(args: list[str], wanted: str, timeout: float = 90) -> str:
    """Start ``kubescribe run``, wait for ``wanted`` on its stderr, Ctrl-C it; all it said."""
    process = subprocess.Popen(
        [sys.executable, "-m", "kubescribe_cli", "run", *args],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env_with(),
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_lines, args=(process.stderr, lines), daemon=True).start()
    said: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while not any(wanted in line for line in said) and time.monotonic() < deadline:
            try:
                said.append(lines.get(timeout=1))
            except queue.Empty:
                assert process.poll() is None, "".join(said)
        assert any(wanted in line for line in said), "".join(said)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    time.sleep(0.2)
    while not lines.empty():
        said.append(lines.get())
    return "".join(said)


def test_banner_and_files_still_changing(tmp_path: Path) -> None:
    root = tmp_path / "watch"
    root.mkdir()
    (root / "talk.mp3").write_bytes(b"still being copied")
    (root / "other.wav").write_bytes(b"also")
    said = _run_until(
        [str(root), "--stable-seconds", "600", "--scan-interval", "0.2",
         "--model-size", "tiny.en", "--device", "cpu"],
        "other.wav: waiting",
    )  # fmt: skip
    assert f"kubescribe run: watching {root}" in said
    assert "model tiny.en, device cpu" in said
    assert "held still for 10 min" in said
    assert "2 files to transcribe, 2 of them still changing" in said
    assert "talk.mp3: waiting until it holds still for 10 min" in said
    assert said.count("talk.mp3: waiting") == 1  # said once, not at every scan


def test_the_api_address_is_said_once(tmp_path: Path) -> None:
    root = tmp_path / "watch"
    root.mkdir()
    said = _run_until(
        [str(root), "--scan-interval", "0.2", "--api", "--api-host", "127.0.0.1",
         "--api-port", "0", "--api-token", "secret"],
        "API listening",
    )  # fmt: skip
    assert said.count("http://127.0.0.1:") == 1, said
    assert "http://127.0.0.1:0" not in said

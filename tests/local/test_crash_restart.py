"""``kill -9`` of ``kubescribe run`` at random moments over a batch, then a restart: no
file lost, never two attempts of one file running, no invalid JSON, every file in
exactly one terminal state at the end."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from speechkit import ENGLISH_SENTENCES, have_speech_tools, speak

from kubescribe_protocol.names import in_progress_path, result_path

from .helpers import (
    assert_all_json_valid,
    env_with,
    run_command,
    run_once,
    status_files,
    temp_files,
    workers_of,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not have_speech_tools(), reason="needs espeak-ng and ffmpeg"),
]

KILLS = 5


class WorkerWatch(threading.Thread):
    """Samples the running workers of a root every 50 ms and remembers the worst moment:
    the most processes running the same file at once."""

    def __init__(self, root: Path) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.worst: Counter[str] = Counter()
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            per_file = Counter(key.path for key in workers_of(self.root).values())
            for path, count in per_file.items():
                self.worst[path] = max(self.worst[path], count)
            time.sleep(0.05)


def test_kill_minus_9_at_random_points_then_restart(tmp_path: Path, model_dir: Path) -> None:
    rng = random.Random(20261124)
    root = (tmp_path / "root").resolve()
    good = [f"batch/clip {n}.mp3" if n % 2 else f"клип {n}.wav" for n in range(6)]
    for n, rel in enumerate(good):
        speak(root / rel, ENGLISH_SENTENCES[n % len(ENGLISH_SENTENCES)])
    bad = ["batch/broken.mp3", "empty.ogg"]
    (root / bad[0]).write_text("not audio at all")
    (root / bad[1]).write_bytes(b"")
    originals = {rel: (root / rel).read_bytes() for rel in good + bad}

    killed_mid_attempt = 0
    watch = WorkerWatch(root)
    watch.start()
    try:
        for kill in range(KILLS):
            runner = subprocess.Popen(
                run_command(root, model_dir, "--once", "--parallel", "2"),
                env=env_with(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(rng.uniform(0.5, 9.0))
            killed_mid_attempt += bool(workers_of(root))
            runner.send_signal(signal.SIGKILL)
            runner.wait()
            # The kernel takes the workers along (PR_SET_PDEATHSIG); give it a moment.
            gone_by = time.monotonic() + 10
            while workers_of(root) and time.monotonic() < gone_by:
                time.sleep(0.05)
            assert workers_of(root) == {}, f"workers outlived the runner after kill {kill}"
            assert_all_json_valid(root)
        # A kill during an atomic write leaves its hidden temporary file; the controller
        # removes those a minute old. Age them so the last run must clean them up.
        for leftover in temp_files(root):
            os.utime(leftover, (time.time() - 120, time.time() - 120))
        done = run_once(root, model_dir, "--parallel", "2", timeout=300)
    finally:
        watch.stopping.set()
        watch.join()

    assert killed_mid_attempt >= 2  # the kills did land while workers ran
    assert max(watch.worst.values(), default=0) <= 1, watch.worst
    assert_all_json_valid(root)
    assert temp_files(root) == []
    for rel, data in originals.items():
        at_root, in_manual = root / rel, root / "manual" / rel
        places = [path for path in (at_root, in_manual) if path.exists()]
        assert len(places) == 1, (rel, places)  # never lost, never in two places
        assert places[0].read_bytes() == data
        completed = result_path(at_root).is_file() and not in_progress_path(at_root).exists()
        manual = in_manual.exists() and in_progress_path(in_manual).is_file()
        assert completed != manual, (rel, completed, manual, done.stderr[-2000:])
    for rel in good:
        assert result_path(root / rel).is_file(), (rel, done.stderr[-3000:])
    for rel in bad:
        assert in_progress_path(root / "manual" / rel).is_file()
    leftovers = [p for p in status_files(root) if p.name.endswith(".in_progress")
                 and "manual" not in p.relative_to(root).parts]  # fmt: skip
    assert leftovers == []

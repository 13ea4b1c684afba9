"""Scan of a tree of 100,000 files, classification included: time and peak memory.

Builds a tree (once, in a temporary folder unless ``--tree`` names one) of 1,000 folders
holding, in all, 40,000 completed files (audio + ``.result``), 19,000 pending audio files
and 500 files with an ``.in_progress`` (status error): 100,000 files on disk. Then, in a
fresh child process (so that its peak memory is the scan's alone), it builds the
controller's index with a first scan and times three rescans. Targets: a scan under 1 s
on local disk, peak memory (the child's whole resident set) under 150 MB.

    python3 bench/scan_speed.py [--tree /tmp/kubescribe-scan-tree]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMPLETED, PENDING, IN_PROGRESS, FOLDERS = 40_000, 19_000, 500, 1_000


def build(tree: Path) -> None:
    from kubescribe_protocol.codes import ErrorCode
    from kubescribe_protocol.models import FileStatus, InProgress, StatusError

    marker = tree / ".built"
    if marker.exists():
        return
    status = InProgress(
        filename="x",
        status=FileStatus.ERROR,
        attempt=1,
        error=StatusError(code=ErrorCode.WHISPERX_FAILED, message="x", retry_after=1e9),
    )
    text = status.model_dump_json()
    kinds = ["completed"] * COMPLETED + ["pending"] * PENDING + ["in_progress"] * IN_PROGRESS
    for n, kind in enumerate(kinds):
        folder = tree / f"team-{n % 50:02d}" / f"week-{n % FOLDERS // 50:02d}"
        if n < FOLDERS:
            folder.mkdir(parents=True, exist_ok=True)
        audio = folder / f"recording {n:06d}.mp3"
        audio.write_bytes(b"")
        if kind == "completed":
            (folder / f"{audio.name}.result").write_text("{}")
        elif kind == "in_progress":
            (folder / f"{audio.name}.in_progress").write_text(text)
    marker.write_text("")


def measure(tree: Path) -> dict[str, float]:
    from kubescribe_operator.core.controller import Controller
    from kubescribe_operator.core.executor import AttemptEnd, AttemptKey, AttemptSpec, EndReason
    from kubescribe_operator.settings import ControllerSettings

    class NoExecutor:
        name = "none"

        def planned_handle(self, key: AttemptKey) -> str | None:
            return None

        def start(self, spec: AttemptSpec) -> str:
            raise AssertionError("the benchmark starts nothing")

        def stop(self, key: AttemptKey, reason: EndReason) -> None: ...

        def live(self) -> set[AttemptKey]:
            return set()

        def collect(self) -> list[AttemptEnd]:
            return []

    controller = Controller(ControllerSettings(root=tree), NoExecutor())
    began = time.perf_counter()
    controller.rescan()
    first = time.perf_counter() - began
    rescans = []
    for _ in range(3):
        began = time.perf_counter()
        controller.rescan()
        rescans.append(time.perf_counter() - began)
    began = time.perf_counter()
    listed = sum(len(files) for _, _, files in os.walk(tree))
    walk = time.perf_counter() - began
    known = controller.view()
    return {
        "files_on_disk": listed - 1,  # the .built marker
        "media_indexed": len(known.files),
        "open_entries": sum(not file.completed for file in known.files.values()),
        "first_scan_s": round(first, 3),
        "rescan_s_best": round(min(rescans), 3),
        "rescan_s_worst": round(max(rescans), 3),
        "os_walk_listing_s": round(walk, 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", type=Path, help="where to build (and keep) the tree")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.tree)))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        tree = args.tree or Path(tmp) / "tree"
        tree.mkdir(parents=True, exist_ok=True)
        began = time.perf_counter()
        build(tree)
        print(f"tree ready in {time.perf_counter() - began:.1f} s: {tree}")
        done = subprocess.run(
            [sys.executable, __file__, "--child", "--tree", str(tree)],
            capture_output=True,
            text=True,
            check=True,
        )
        for key, value in json.loads(done.stdout).items():
            print(f"{key:>18}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

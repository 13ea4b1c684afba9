"""Under a full queue, the gap between one attempt ending and the next starting.

Runs ``kubescribe run --once``'s loop (the real controller and local executor, child
processes, ``--parallel 1``) over N files with a stand-in worker that does no work
(``standin_worker.py``). The gap is the next attempt's ``start_time`` (which the controller
writes into ``.in_progress`` just before it starts the process) minus the moment the
previous worker process was about to exit. Target: under 0.5 s.

    python3 bench/queue_gap.py [--files 40]
"""

from __future__ import annotations

import argparse
import io
import itertools
import statistics
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from kubescribe_operator.core.executor import AttemptSpec, worker_command
from kubescribe_operator.local.executor import LocalExecutor
from kubescribe_operator.local.runner import run_local
from kubescribe_operator.settings import ControllerSettings

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        root.mkdir()
        exits = Path(tmp) / "exits.tsv"
        for n in range(args.files):
            (root / f"clip-{n:04d}.wav").write_bytes(b"RIFF" + bytes(40))

        def command(spec: AttemptSpec) -> list[str]:
            argv = worker_command(spec)[2:]  # drop "kubescribe worker"
            return [sys.executable, str(HERE / "standin_worker.py"), "--exits", str(exits),
                    *argv]  # fmt: skip

        settings = ControllerSettings(root=root, stable_seconds=0, parallel=1)
        log = io.StringIO()
        code = run_local(settings, once=True, out=log, executor=LocalExecutor(root.resolve(),
                         command=command))  # fmt: skip
        if code != 0:
            print(log.getvalue())
            return code
        started, exited = {}, {}
        for line in exits.read_text().splitlines():
            path, start, end = line.split("\t")
            started[path], exited[path] = float(start), float(end)
        order = sorted(exited, key=lambda path: exited[path])
        gaps = [
            started[following] - exited[previous]
            for previous, following in itertools.pairwise(order)
        ]
        gaps.sort()
        print(f"files: {len(order)}, parallel 1, tick_seconds {settings.tick_seconds}")
        print(
            f"gap from a worker's exit to the controller's start_time of the next attempt: "
            f"median {statistics.median(gaps):.3f} s, p90 {gaps[int(len(gaps) * 0.9)]:.3f} s, "
            f"max {gaps[-1]:.3f} s"
        )
        print(f"measured {datetime.now().isoformat(timespec='seconds')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

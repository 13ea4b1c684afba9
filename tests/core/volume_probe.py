"""Drives a real Controller (with the hand-driven executor of fakes.py) over a root that
the calling test made hard to write: run in a subprocess, under ``setpriv`` (no
file-permission override for root) or in a mount namespace whose root is a small tmpfs.

``python volume_probe.py ROOT FIX...``: ticks until nothing more starts, prints what
happened as one JSON line, then runs each FIX command (a shell line: the fault goes away),
moves the clock past every backoff and ticks again, and prints a second JSON line.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, as mypy sees it

from core.fakes import FakeClock, FakeExecutor
from kubescribe_operator.core.controller import Controller
from kubescribe_operator.settings import ControllerSettings


def rounds(controller: Controller, executor: FakeExecutor, clock: FakeClock) -> None:
    for _ in range(6):
        controller.tick()
        for key in sorted(executor.running, key=str):
            executor.succeed(key)
        clock.advance(1)
    controller.tick()


def report(root: Path, controller: Controller, executor: FakeExecutor) -> None:
    view = controller.view()
    print(json.dumps({
        "started": executor.started_paths(),
        "results": sorted(p.relative_to(root).as_posix() for p in root.rglob("*.result")),
        "faults": {subject: {"path": f.path, "error": f.error, "advice": f.advice}
                   for subject, f in view.volume_faults.items()},
    }), flush=True)  # fmt: skip


def main() -> None:
    root = Path(sys.argv[1])
    settings = ControllerSettings(root=root, stable_seconds=0, scan_interval_seconds=0.5)
    executor = FakeExecutor(root)
    clock = FakeClock()
    controller = Controller(settings, executor, clock=clock)
    controller.recover()
    rounds(controller, executor, clock)
    report(root, controller, executor)
    for fix in sys.argv[2:]:
        subprocess.run(fix, shell=True, check=True)  # the test's own line
    clock.advance(600)  # past every backoff
    rounds(controller, executor, clock)
    report(root, controller, executor)


if __name__ == "__main__":
    main()

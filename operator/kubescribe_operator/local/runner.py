"""``kubescribe run``: the controller on one machine, workers as child processes.

The loop ticks the core every ``tick_seconds``. The first Ctrl-C (or SIGTERM) stops
taking new files and asks running workers to stop (each records itself as interrupted,
which does not count against ``max_attempts``); the loop waits up to
``stop_grace_seconds`` for them, and a second Ctrl-C kills them at once. Either way every
file is left in a state the next run picks up.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from ..core.controller import Controller
from ..core.readable import format_duration
from ..core.view import ControllerView
from .executor import STATE_DIR, LocalExecutor
from .nested_roots import LOCK_NAME, runner_above, runner_below
from .reader_output import say
from .settings import LocalSettings

log = logging.getLogger("kubescribe.run")


class AlreadyRunningError(Exception):
    """Another ``kubescribe run`` holds the root."""


@contextlib.contextmanager
def root_lock(root: Path) -> Iterator[None]:
    """One local controller per root, and none on a root inside or above it: two would
    start two attempts of one file. The lock is taken before the others are looked for,
    so of two runners started at once on nested roots, neither misses the other."""
    folder = root / STATE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / LOCK_NAME).open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise AlreadyRunningError(f"another kubescribe run is using {root}") from exc
        above = runner_above(root, STATE_DIR)
        if above is not None:
            raise AlreadyRunningError(
                f"another kubescribe run is using {above}, which holds {root}: "
                "stop it, or run on one of the two only"
            )
        below = runner_below(root, STATE_DIR)
        if below is not None:
            raise AlreadyRunningError(
                f"another kubescribe run is using {below}, inside {root}: "
                "stop it, or run on one of the two only"
            )
        yield


class _Progress:
    """Prints a line when a running file's stage or percentage changes."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.shown: dict[str, tuple[int, str, int]] = {}

    def show(self, view: ControllerView) -> None:
        for rel, file in view.files.items():
            status = file.status
            if status is None or status.progress is None or status.attempt != file.running_attempt:
                continue
            now = (status.attempt, status.progress.stage.value, status.progress.percentage)
            if self.shown.get(rel) != now:
                self.shown[rel] = now
                say(self.out, f"  {rel}: attempt {now[0]}, {now[1]} {now[2]}%")


class _Arrivals:
    """Says, once per file, that a file is not taken yet because it has not held still for
    ``stable_seconds`` (it may still be copied): else a new user sees only silence."""

    def __init__(self, out: TextIO, stable_seconds: float) -> None:
        self.out = out
        self.stable_seconds = stable_seconds
        self.told: set[str] = set()
        self.scans = -1

    def show(self, controller: Controller) -> None:
        if controller.counters.scans == self.scans:
            return  # nothing new to say between scans
        self.scans = controller.counters.scans
        changing = controller.still_changing()
        still = format_duration(self.stable_seconds)
        for rel in sorted(set(changing) - self.told):
            say(self.out, f"  {rel}: waiting until it holds still for {still} (may start in "
                          f"{format_duration(changing[rel])})")  # fmt: skip
        self.told = set(changing)


def banner(settings: LocalSettings, waiting: int, changing: int) -> str:
    """What ``kubescribe run`` says when it starts: where, with what, and what waits."""
    defaults = settings.defaults
    language = defaults.language or "detected"
    models = settings.model_dir or "the bundled ones, else the model hub (no --model-dir)"
    lines = [
        f"kubescribe run: watching {settings.root}",
        f"  model {defaults.model_size}, device {defaults.device} ({defaults.compute_type}), "
        f"language {language}; models: {models}",
        f"  a file starts once it held still for {format_duration(settings.stable_seconds)}; "
        f"scan every {format_duration(settings.scan_interval_seconds)}; "
        f"{settings.parallel} at once",
        f"  {waiting} file{'' if waiting == 1 else 's'} to transcribe"
        + (f", {changing} of them still changing" if changing else ""),
    ]
    return "\n".join(lines)


def run_local(
    settings: LocalSettings,
    *,
    once: bool,
    out: TextIO = sys.stderr,
    executor: LocalExecutor | None = None,
) -> int:
    """Run the controller on ``settings.root`` until it is stopped (or, with ``once``,
    until every file is terminal). ``executor`` replaces the default one (benchmarks)."""
    root = Path(settings.root).resolve()
    if not root.is_dir():
        print(f"kubescribe run: {root} is not a folder", file=out)
        return 2
    settings = settings.model_copy(update={"root": root})
    try:
        with root_lock(root):
            return _loop(settings, once=once, out=out, executor=executor)
    except AlreadyRunningError as exc:
        print(f"kubescribe run: {exc}", file=out)
        return 3


def _loop(
    settings: LocalSettings, *, once: bool, out: TextIO, executor: LocalExecutor | None
) -> int:
    executor = executor or LocalExecutor(settings.root)
    controller = Controller(settings, executor)
    progress = _Progress(out)
    arrivals = _Arrivals(out, settings.stable_seconds)
    signals = {"count": 0}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        signals["count"] += 1

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    stop_by: float | None = None
    # The API (--api) calls into the core from its own threads, under this lock.
    lock, ready = threading.Lock(), threading.Event()
    api = _start_api(controller, lock, ready, settings, out) if settings.api_enabled else None
    try:
        with lock:
            controller.recover()  # the first scan: what the banner counts
            to_do = len(controller.queue()) + len(controller.running)
            changing = len(controller.still_changing())
        say(out, banner(settings, to_do, changing))
        while True:
            with lock:
                controller.tick()
                running = controller.view(controller.running)
                arrivals.show(controller)
            progress.show(running)
            ready.set()
            if signals["count"] and stop_by is None:
                say(out, "stopping: letting running attempts stop by themselves "
                         "(Ctrl-C again to kill them)")  # fmt: skip
                controller.stop_all()
                stop_by = time.monotonic() + settings.stop_grace_seconds
            if stop_by is not None:
                if signals["count"] > 1 or time.monotonic() > stop_by:
                    executor.kill_all()
                if not controller.running:
                    break
            elif once and controller.all_terminal():
                break
            time.sleep(settings.tick_seconds)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if api is not None:
            api.stop()
    counters = controller.counters
    say(
        out,
        f"done: {counters.completed} completed, {counters.manual} sent to manual/, "
        f"{counters.retried} retries, in {settings.root}",
    )
    return 130 if signals["count"] else 0


def _start_api(
    controller: Controller,
    lock: threading.Lock,
    ready: threading.Event,
    settings: LocalSettings,
    out: TextIO,
) -> Any:
    from ..api.server import ApiServer  # FastAPI loads only with --api

    api = ApiServer(controller, lock, settings, ready=ready.is_set)
    api.start()  # it logs where it listens
    return api


def configure_logging(debug: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(asctime)s %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    # Keep the worker children's own logs out of ours.
    os.environ.setdefault("PYTHONUNBUFFERED", "1")

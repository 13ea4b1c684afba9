"""The local executor: each attempt is a child process running the worker command.

A worker must never outlive its controller unseen, or a restarted controller could start
a second attempt of the same file beside it. Two guards:

- each child asks the kernel to kill it when its parent dies (``PR_SET_PDEATHSIG``),
  so a ``kill -9`` of ``kubescribe run`` takes its workers along;
- a new executor first finds any worker of its root still running (its command line
  names the root) and kills it, whatever its parent, before it reports what is live.

Each child runs in its own session, so a Ctrl-C in the terminal reaches only the
controller, which then stops its workers on purpose.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

from ..core.executor import AttemptEnd, AttemptKey, AttemptSpec, EndReason, worker_command

log = logging.getLogger("kubescribe.local")

_PR_SET_PDEATHSIG = 1
#: The hidden folder under the root for the runner's own files (logs, lock).
STATE_DIR = ".kubescribe"

CommandBuilder = Callable[[AttemptSpec], list[str]]


def local_worker_command(spec: AttemptSpec) -> list[str]:
    """:func:`worker_command` run by this very interpreter, so a worker always runs the
    same kubescribe as its controller (a virtual environment need not be on PATH)."""
    command = worker_command(spec)
    return [sys.executable, "-m", "kubescribe_cli", *command[1:]]


def _die_with_parent(parent: int) -> Callable[[], None]:
    def prepare() -> None:  # runs in the child between fork and exec
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return prepare


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode("utf-8", "replace") for part in raw.split(b"\0") if part]


def worker_pids(root: Path) -> dict[int, AttemptKey]:
    """Processes running the worker on ``root``, by pid, with the attempt they run."""
    found: dict[int, AttemptKey] = {}
    root_arg = str(root)
    with contextlib.suppress(FileNotFoundError):
        for name in os.listdir("/proc"):  # noqa: PTH208
            if not name.isdigit():
                continue
            argv = _cmdline(int(name))
            if "worker" not in argv or "--root" not in argv or "--" not in argv:
                continue
            try:
                if argv[argv.index("--root") + 1] != root_arg:
                    continue
                attempt = int(argv[argv.index("--attempt") + 1])
                path = argv[argv.index("--") + 1]
            except (ValueError, IndexError):
                continue
            found[int(name)] = AttemptKey(path, attempt)
    # A worker's fork shows the worker's command line until it execs something else (or
    # forever, for a multiprocessing child): it is part of that worker, not a second one.
    return {pid: key for pid, key in found.items() if _parent(pid) not in found}


def _parent(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name in parentheses may hold spaces: the fields after it are fixed.
    return int(stat.rsplit(")", 1)[1].split()[1])


#: The controller's secrets a worker has no use for (settings read from the environment,
#: in any case): a worker runs ffmpeg and a model on a client's file.
SECRET_VARIABLES = frozenset({"KUBESCRIBE_API_TOKENS", "KUBESCRIBE_CALLBACK_SECRET"})


def worker_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The controller's environment less :data:`SECRET_VARIABLES`."""
    return {name: value for name, value in environ.items()
            if name.upper() not in SECRET_VARIABLES}  # fmt: skip


class LocalExecutor:
    name = "local"

    def __init__(
        self,
        root: Path,
        *,
        command: CommandBuilder = local_worker_command,
        log_dir: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.root = Path(root)
        self.command = command
        self.log_dir = log_dir if log_dir is not None else self.root / STATE_DIR / "logs"
        self.env = env
        self._procs: dict[AttemptKey, subprocess.Popen[bytes]] = {}
        self._stop_reasons: dict[AttemptKey, EndReason] = {}
        self._reaped = False

    def planned_handle(self, key: AttemptKey) -> str | None:
        return None  # a process id exists only once the process does

    def start(self, spec: AttemptSpec) -> str:
        self._reap_strays()
        existing = self._procs.get(spec.key)
        if existing is not None and existing.poll() is None:
            return str(existing.pid)
        env = {**worker_environment(os.environ), **(self.env or {}), **spec.env}
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_name = spec.key.path.replace("/", "__") + f".attempt-{spec.key.attempt}.log"
        output: IO[bytes]
        with (self.log_dir / log_name).open("ab") as output:
            proc = subprocess.Popen(
                self.command(spec),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                preexec_fn=_die_with_parent(os.getpid()),  # the runner is single-threaded
            )
        self._procs[spec.key] = proc
        return str(proc.pid)

    def stop(self, key: AttemptKey, reason: EndReason) -> None:
        proc = self._procs.get(key)
        if proc is None or proc.poll() is not None:
            return
        self._stop_reasons.setdefault(key, reason)
        # A graceful stop lets the worker record itself as interrupted (SIGTERM, exit 14);
        # a deadline or a lost heartbeat means it cannot be trusted to stop: SIGKILL.
        sig = signal.SIGTERM if reason is EndReason.STOPPED else signal.SIGKILL
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)

    def kill_all(self) -> None:
        """SIGKILL every worker still running (a second Ctrl-C)."""
        for key, proc in self._procs.items():
            if proc.poll() is None:
                self._stop_reasons.setdefault(key, EndReason.STOPPED)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)

    def live(self) -> set[AttemptKey]:
        self._reap_strays()
        return {key for key, proc in self._procs.items() if proc.poll() is None}

    def collect(self) -> list[AttemptEnd]:
        ended: list[AttemptEnd] = []
        for key, proc in list(self._procs.items()):
            code = proc.poll()
            if code is None:
                continue
            del self._procs[key]
            # Whatever the worker left in its process group (ffmpeg) goes with it.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            stop_reason = self._stop_reasons.pop(key, None)
            if stop_reason is not None and stop_reason is not EndReason.STOPPED:
                ended.append(AttemptEnd(key, stop_reason, exit_code=code))
            elif code >= 0:
                ended.append(AttemptEnd(key, EndReason.EXITED, exit_code=code))
            elif stop_reason is EndReason.STOPPED:
                ended.append(AttemptEnd(key, EndReason.STOPPED, exit_code=code))
            else:
                name = signal.Signals(-code).name if -code in signal.valid_signals() else code
                ended.append(AttemptEnd(key, EndReason.KILLED, exit_code=code, detail=f"{name}"))
        return ended

    def _reap_strays(self) -> None:
        """Kill workers of this root that a previous controller left (once, at start)."""
        if self._reaped:
            return
        self._reaped = True
        strays = worker_pids(self.root)
        for pid, key in strays.items():
            log.warning("killing worker %d of %s #%d left by a previous run", pid, key.path,
                        key.attempt)  # fmt: skip
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while strays and time.monotonic() < deadline:
            strays = {pid: key for pid, key in strays.items() if Path(f"/proc/{pid}").exists()
                      and _state(pid) != "Z"}  # fmt: skip
            if strays:
                time.sleep(0.05)


def _state(pid: int) -> str:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[-1].split()[0]

"""The one small interface between the controller core and whatever runs a worker.

The core decides *what* runs and *what an ending means*; an executor only starts,
stops and watches attempts. ``local`` runs the worker as a child process;
``kubernetes`` creates one Job per attempt. Both run exactly the command of
:func:`worker_command`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from kubescribe_protocol.models import Priority


@dataclass(frozen=True, order=True)
class AttemptKey:
    """One attempt of one file: the relative path under the root and the attempt number."""

    path: str
    attempt: int


@dataclass(frozen=True)
class AttemptSpec:
    """Everything an executor needs to start one attempt."""

    key: AttemptKey
    root: Path
    priority: Priority
    deadline: datetime
    #: Whether the attempt needs a GPU (``device`` is not ``cpu``).
    wants_gpu: bool
    model_dir: Path | None = None
    #: Extra environment for the worker (test switches, debug).
    env: dict[str, str] = field(default_factory=dict)


class EndReason(StrEnum):
    """How an attempt's runner ended, as the executor saw it."""

    #: The worker exited by itself; ``exit_code`` says how.
    EXITED = "exited"
    #: Killed for memory (the kernel's OOM killer, or a pod's OOMKilled).
    OOM_KILLED = "oom_killed"
    #: Killed because it ran past its deadline.
    DEADLINE_EXCEEDED = "deadline_exceeded"
    #: Killed by a signal we did not send (local), or evicted/preempted (Kubernetes).
    KILLED = "killed"
    EVICTED = "evicted"
    #: Stopped at our request (cancel, shutdown).
    STOPPED = "stopped"
    #: The runner is gone and nothing tells how it ended (a Job deleted by someone,
    #: a process that was not ours to wait for).
    VANISHED = "vanished"


@dataclass(frozen=True)
class AttemptEnd:
    key: AttemptKey
    reason: EndReason
    exit_code: int | None = None
    detail: str = ""


class Executor(Protocol):
    """What the core needs from an executor. Calls come from one thread at a time."""

    #: ``local`` or ``kubernetes``; recorded in each attempt's ``executor`` field.
    name: str

    def planned_handle(self, key: AttemptKey) -> str | None:
        """The runner's handle when it is known before the start (a Job's name is, a
        process id is not): the core records it in the attempt before the runner exists,
        since once the worker runs only the worker writes ``.in_progress``."""
        ...

    def start(self, spec: AttemptSpec) -> str:
        """Start the attempt and return its runner's handle (a pid, a Job name).
        Starting an attempt that already runs is not an error: return its handle."""
        ...

    def stop(self, key: AttemptKey, reason: EndReason) -> None:
        """Ask the attempt's runner to stop; its end is reported by :meth:`collect`."""
        ...

    def live(self) -> set[AttemptKey]:
        """The attempts whose runners exist now (after a restart: the adopted ones)."""
        ...

    def collect(self) -> list[AttemptEnd]:
        """Attempts that ended since the last call, each reported once."""
        ...


def worker_command(spec: AttemptSpec) -> list[str]:
    """The worker's command line, the same for a child process and a Job's container."""
    command = [
        "kubescribe",
        "worker",
        "--root",
        str(spec.root),
        "--attempt",
        str(spec.key.attempt),
    ]
    if spec.model_dir is not None:
        command += ["--model-dir", str(spec.model_dir)]
    return [*command, "--", spec.key.path]

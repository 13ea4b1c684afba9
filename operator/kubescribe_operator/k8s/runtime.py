"""What the kopf handlers share, kept in kopf's operator-wide memo (``memo.runtime``).

:mod:`.kopf_handlers` makes it at startup; :mod:`.kopf_transcriptions` is handed it.
The core is synchronous and takes one caller at a time: every call into it holds
:attr:`Runtime.lock`.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kubescribe_protocol.models import utc_now

from ..core.controller import Controller
from .executor import KubernetesExecutor
from .kube_api import KubeApi
from .leader import LeaderElection
from .settings import KubernetesSettings


@dataclass
class Runtime:
    """What the handlers share, kept in kopf's operator-wide memo."""

    settings: KubernetesSettings
    api: KubeApi
    executor: KubernetesExecutor
    controller: Controller
    leader: LeaderElection
    lock: threading.Lock = field(default_factory=threading.Lock)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    last_tick: datetime = field(default_factory=utc_now)
    leading: bool = False
    waiting_logged: bool = False
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    renewed_at: datetime = field(default_factory=utc_now)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def step(self) -> None:
        """One tick of the core, then the Events about what it decided."""
        with self.lock:
            if not self.leading:
                return
            self.controller.tick()
            self.executor.announce_outcomes()
            self.last_tick = utc_now()

    def recover(self) -> None:
        with self.lock:
            self.executor.sync()
            self.controller.recover()
            self.executor.announce_outcomes()
            self.last_tick = utc_now()


def runtime_of(memo: Any) -> Runtime:
    runtime: Runtime = memo.runtime
    return runtime

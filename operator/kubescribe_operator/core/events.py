"""What the core tells observers (the API's callbacks and metrics) as it works.

Observers run in the core's thread, inside its lock: they must only record or enqueue,
never block or call back into the controller.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class EventKind(StrEnum):
    #: A scan of the root ended; ``seconds`` is how long it took.
    SCANNED = "scanned"
    #: An attempt started; ``seconds`` is how long the file waited since it was queued.
    STARTED = "started"
    #: The file has a ``.result``.
    COMPLETED = "completed"
    #: An attempt failed and another one will follow; ``code`` is its error.
    RETRY = "retry"
    #: The file went to ``manual/`` (``manual_path``); ``code`` is the final error.
    MANUAL = "manual"


@dataclass(frozen=True)
class CoreEvent:
    kind: EventKind
    rel: str = ""
    attempt: int = 0
    code: str | None = None
    seconds: float = 0.0
    manual_path: str | None = None


Observer = Callable[[CoreEvent], None]

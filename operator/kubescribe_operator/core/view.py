"""The controller's read model: a copy of what it knows, for whoever shows it.

:meth:`.controller.Controller.view` takes it under the lock its caller holds (the core
takes one caller at a time); the copy is then read anywhere, at leisure, while the core
goes on. The API (queue, metrics), the Transcription mirror and ``kubescribe run``'s
progress lines read the controller through it (and :meth:`~.controller.Controller.queue`,
the waiting files in start order) only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from kubescribe_protocol.models import FileStatus, InProgress, Priority

from .volume_faults import VolumeFault


@dataclass(frozen=True, slots=True)
class FileView:
    """One file the controller knows. ``status`` is the ``.in_progress`` it last read
    (None: there is none, or it did not read); readers must not change it."""

    rel: str
    completed: bool
    status: InProgress | None
    #: An ``.in_progress`` is there but did not read: it is left for a person.
    unreadable: bool
    #: The number of the attempt of this controller's that runs now, if one does.
    running_attempt: int | None

    @property
    def priority(self) -> Priority:
        return self.status.priority if self.status is not None else Priority.AUTO_SCAN

    @property
    def state(self) -> str:
        """``pending``, ``processing``, ``error`` or ``completed`` (as the metrics count)."""
        if self.completed:
            return "completed"
        status = self.status
        if self.running_attempt is not None:
            return "processing"
        if status is not None and status.status is FileStatus.ERROR:
            return "error"
        if status is not None and status.status is FileStatus.PROCESSING:
            return "processing"
        return "pending"


@dataclass(frozen=True, slots=True)
class ControllerView:
    """What the controller knows, by relative path."""

    files: Mapping[str, FileView]
    #: What the controller could not do on the volume, by file or folder (folders end
    #: in ``/``; ``./`` is the root): it tries each again after a backoff.
    volume_faults: Mapping[str, VolumeFault] = field(default_factory=dict)

    @property
    def running(self) -> dict[str, FileView]:
        """The files whose attempt runs now."""
        return {rel: view for rel, view in self.files.items() if view.running_attempt is not None}

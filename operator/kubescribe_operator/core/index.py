"""The controller's index: what it knows of each media file under the root.

A cache of the volume, rebuilt by a scan and by :meth:`.controller.Controller.recover`;
the status files stay the truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kubescribe_protocol.models import InProgress


@dataclass(slots=True)
class Entry:
    """What the controller knows of one media file under the root."""

    rel: str
    discovered: datetime
    has_result: bool = False
    size: int | None = None
    mtime_ns: int | None = None
    stable_since: datetime | None = None
    in_progress_mtime_ns: int | None = None
    status: InProgress | None = None

    @property
    def unreadable(self) -> bool:
        """An ``.in_progress`` is there but did not read: it is left for a person."""
        return self.status is None and self.in_progress_mtime_ns is not None

"""A cancel, as written on the volume: ``should_continue`` false in the file's
``.in_progress``. The one field anyone may write while a worker runs (the worker's
fence reads it); a controller then stops the attempt and moves the file to ``manual/``.

:meth:`.controller.Controller.cancel` and ``kubescribe cancel`` (no controller at hand)
both write it through :func:`write_cancel`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from kubescribe_protocol.atomic import read_model, write_model
from kubescribe_protocol.models import InProgress


def write_cancel(
    status_file: Path, new_status: Callable[[], InProgress], now: datetime
) -> InProgress:
    """Set ``should_continue`` to false in ``status_file`` (an ``.in_progress``; when there
    is none, one made by ``new_status``) and write it; returns what was written."""
    status = read_model(status_file, InProgress) or new_status()
    status.should_continue = False
    status.updated_at = now
    write_model(status_file, status)
    return status

"""Fields that kubescribe adds to an ``.in_progress``, beyond the seed's format.

They stay *extra* fields of :class:`~.models.InProgress` on disk and in memory (the
files keep their exact bytes, and a reader that does not know them keeps them on a
read-modify-write), but nobody reads them with ``getattr``: this module is their one
typed door, and the published schema lists them (:data:`~.models.ADDITIONS_SCHEMA`).

- ``manual_path``: where a move to ``manual/`` is taking (or took) the file; written
  first, so a crash mid-move is finished by whoever finds it.
- ``earlier_runs``: the attempts and final error of each run before a retry out of
  ``manual/`` (the new run starts with a fresh budget of attempts).
- ``callback_urls``: the callback URLs of API requests, kept across restarts.
- ``attempts_dropped``: how many attempts a writer left out of ``attempts`` to keep the
  file small (:func:`bound_attempts`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from .models import (
    ATTEMPTS_DROPPED,
    CALLBACK_URLS,
    EARLIER_RUNS,
    MANUAL_PATH,
    Attempt,
    InProgress,
    StatusError,
    format_time,
)

__all__ = ["ATTEMPTS_DROPPED", "CALLBACK_URLS", "EARLIER_RUNS", "MANUAL_PATH", "EarlierRun"]

#: A writer keeps the first attempt and the last KEEP_LAST_ATTEMPTS of a file's history:
#: a file that failed for ever must not grow its status file without bound (each read of
#: it costs every reader, the controller's tick first).
KEEP_LAST_ATTEMPTS = 50


class EarlierRun(BaseModel):
    """One run before a retry out of ``manual/``."""

    model_config = ConfigDict(extra="allow")

    #: When the retry happened (ISO 8601, ``...Z`` like every other time; older files
    #: wrote ``+00:00``, which reads the same).
    retried_at: datetime
    attempts: list[Attempt]
    error: StatusError | None = None


def _extra(status: InProgress) -> dict[str, Any]:
    extra = status.__pydantic_extra__
    if extra is None:  # never: extra="allow" gives every instance its dict
        raise TypeError("an InProgress without its extra fields")
    return extra


def manual_path(status: InProgress | None) -> str | None:
    """The ``manual/`` path a move is taking the file to, if one is under way or done."""
    if status is None:
        return None
    value = _extra(status).get(MANUAL_PATH)
    return value if isinstance(value, str) and value else None


def set_manual_path(status: InProgress, target: str | None) -> None:
    """Name the move's target (written before the move), or drop it (None)."""
    if target is None:
        _extra(status).pop(MANUAL_PATH, None)
    else:
        _extra(status)[MANUAL_PATH] = target


def earlier_runs(status: InProgress) -> list[EarlierRun]:
    """The runs before the last retries out of ``manual/``, oldest first (entries that do
    not read as a run are left out here and kept in the file)."""
    runs = []
    for item in _extra(status).get(EARLIER_RUNS) or []:
        try:
            runs.append(EarlierRun.model_validate(item))
        except ValueError:
            continue
    return runs


def add_earlier_run(status: InProgress, retried_at: datetime) -> None:
    """Keep the current run (its attempts and error) under ``earlier_runs``; the
    entries already there stay exactly as they are."""
    extra = _extra(status)
    runs = list(extra.get(EARLIER_RUNS) or [])
    runs.append(
        {
            "retried_at": format_time(retried_at),
            "attempts": [record.model_dump(mode="json") for record in status.attempts],
            "error": status.error.model_dump(mode="json") if status.error else None,
        }
    )
    extra[EARLIER_RUNS] = runs


def callback_urls(status: InProgress | None) -> list[str]:
    """The callback URLs API requests left on the file."""
    if status is None:
        return []
    urls = _extra(status).get(CALLBACK_URLS) or []
    return [url for url in urls if isinstance(url, str)] if isinstance(urls, list) else []


def add_callback_url(status: InProgress, url: str) -> None:
    extra = _extra(status)
    urls = list(extra.get(CALLBACK_URLS) or [])
    if url not in urls:
        urls.append(url)
    extra[CALLBACK_URLS] = urls


def attempts_dropped(status: InProgress) -> int:
    """How many attempts writers left out of ``status.attempts`` (0 when none)."""
    value = _extra(status).get(ATTEMPTS_DROPPED)
    return value if isinstance(value, int) and value > 0 else 0


def bound_attempts(status: InProgress, keep_last: int = KEEP_LAST_ATTEMPTS) -> None:
    """Keep the first attempt and the last ``keep_last``, counting the others under
    ``attempts_dropped`` (a writer calls this before each write)."""
    records = status.attempts
    if len(records) <= keep_last + 1:
        return
    dropped = len(records) - keep_last - 1
    status.attempts = [records[0], *records[-keep_last:]]
    _extra(status)[ATTEMPTS_DROPPED] = attempts_dropped(status) + dropped

"""The order in which waiting files start: API requests first, then files whose last
attempt kubescribe itself interrupted (a Ctrl-C, a restart: the README promises them "at
once"), then the longest waiting (then the older audio, then the path, so that the
order is total).

The controller sorts its queue by it, and ``kubescribe status`` (which reads the volume
alone) estimates positions with it.
"""

from __future__ import annotations

from datetime import datetime

QueueKey = tuple[int, datetime, int, str]


def queue_key(
    *,
    api_request: bool,
    queued_since: datetime,
    rel: str,
    mtime_ns: int = 0,
    interrupted: bool = False,
) -> QueueKey:
    """Sort key of a waiting file: ``queued_since`` is its ``.in_progress``'s
    ``start_time``, or when the file was first seen when it has none; ``interrupted``:
    its last attempt ended with error ``interrupted``."""
    tier = 0 if api_request else 1 if interrupted else 2
    return (tier, queued_since, mtime_ns, rel)

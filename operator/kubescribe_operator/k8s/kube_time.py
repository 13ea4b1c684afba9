"""Times in the two formats the Kubernetes API parses.

``MicroTime`` fields (a Lease's ``acquireTime`` and ``renewTime``, an Event's
``eventTime``) are parsed by kube-apiserver with exactly six fractional digits
(``2006-01-02T15:04:05.000000Z07:00``): a millisecond stamp such as ``.961Z`` is refused
with 422. ``Time`` fields (an Event's ``firstTimestamp``) are RFC 3339 to the second.
The status files keep their own millisecond format (``kubescribe_protocol.models``).
"""

from __future__ import annotations

from datetime import UTC, datetime


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def micro_time(value: datetime) -> str:
    """A ``MicroTime``: ``2026-12-01T20:44:33.961000Z``, always six fractional digits."""
    return _utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def kube_time(value: datetime) -> str:
    """A ``Time``: ``2026-12-01T20:44:33Z``, to the second."""
    return _utc(value).strftime("%Y-%m-%dT%H:%M:%SZ")

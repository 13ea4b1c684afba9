"""Times and durations as a person reads them in a log line: ``21:26:20 UTC``,
``in 4 min 20 s``, not ``2026-12-01 21:26:20.640000+00:00``."""

from __future__ import annotations

from datetime import UTC, datetime


def format_duration(seconds: float) -> str:
    """``45 s``, ``4 min 20 s``, ``2 h 05 min`` (rounded to the second)."""
    total = max(0, round(seconds))
    if total < 60:
        return f"{total} s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def format_clock(when: datetime, now: datetime) -> str:
    """``21:26:20 UTC (in 4 min 20 s)``; the date too when it is not today's."""
    utc, today = when.astimezone(UTC), now.astimezone(UTC)
    clock = utc.strftime("%H:%M:%S UTC" if utc.date() == today.date() else "%Y-%m-%d %H:%M:%S UTC")
    delta = (utc - today).total_seconds()
    if delta >= 1:
        return f"{clock} (in {format_duration(delta)})"
    if delta <= -1:
        return f"{clock} ({format_duration(-delta)} ago)"
    return f"{clock} (now)"

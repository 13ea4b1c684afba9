"""What ``kubescribe run`` knows, on top of the core's and the API's settings."""

from __future__ import annotations

from pydantic import Field

from ..api.settings import ApiSettings


class LocalSettings(ApiSettings):
    """The local runner's knobs: how often it looks at its workers, how long they get to stop."""

    tick_seconds: float = Field(
        0.1,
        gt=0,
        description="how often the local runner checks its workers; the longest wait "
        "between one attempt ending and the next starting",
    )
    stop_grace_seconds: float = Field(
        30.0,
        ge=0,
        description="on Ctrl-C/SIGTERM, how long running workers get to stop by themselves",
    )

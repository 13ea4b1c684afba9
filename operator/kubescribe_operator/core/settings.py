"""What the core knows: where the files are, how often to look, what an attempt may take.

Every layer's settings come from the environment (``KUBESCRIBE_*``) and build on these:
:class:`~..api.settings.ApiSettings` adds the HTTP API's, and the two modes add their own
(``local.settings``, ``k8s.settings``); ``kubescribe_operator.settings`` holds them all.
Nested values take JSON in the environment (``KUBESCRIBE_JOB_NODE_SELECTOR='{"gpu": "a100"}'``),
as pydantic-settings reads them.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from kubescribe_protocol.models import TranscriptionSettings

ENV_PREFIX = "KUBESCRIBE_"


class CoreSettings(BaseSettings):
    """The core's knobs and the default transcription settings."""

    # KUBESCRIBE_DEFAULTS__MODEL_SIZE=tiny.en sets one default transcription setting.
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, extra="ignore", env_nested_delimiter="__"
    )

    # --- where and how often ---------------------------------------------------------
    root: Path = Field(Path("/data"), description="the watched folder (the shared volume)")
    scan_interval_seconds: float = Field(5.0, gt=0, description="seconds between scans")
    stable_seconds: float = Field(
        90.0,
        ge=0,
        description="a file is taken once its size and mtime held still this long; "
        "network shares can lag attributes by up to a minute",
    )
    parallel: int = Field(1, ge=1, description="attempts (processes or Jobs) running at once")

    # --- attempts --------------------------------------------------------------------
    max_attempts: int = Field(3, ge=1, description="attempts per file before manual/")
    retry_backoff_seconds: float = Field(
        30.0, ge=0, description="first retry delay when the worker gave none; doubles each time"
    )
    attempt_deadline_seconds: float = Field(
        3600.0, gt=0, description="an attempt running longer is killed (error: timeout)"
    )
    deadline_per_audio_second: float = Field(
        0.0,
        ge=0,
        description="when > 0, the deadline is max(attempt_deadline_seconds, this x audio seconds)",
    )
    heartbeat_timeout_seconds: float = Field(
        180.0, gt=0, description="a running attempt with no heartbeat this long is lost"
    )
    start_timeout_seconds: float = Field(
        900.0,
        gt=0,
        description="an attempt whose worker wrote no heartbeat at all this long after its "
        "start is lost: room for a Job's scheduling and a first pull of the worker image",
    )
    stale_hours: float = Field(
        24.0, gt=0, description="an .in_progress this old with no live attempt goes to manual/"
    )

    # --- the worker ------------------------------------------------------------------
    model_dir: Path | None = Field(
        None, description="folder of CTranslate2 models by size (model_dir/base/model.bin)"
    )
    defaults: TranscriptionSettings = Field(
        default_factory=TranscriptionSettings,
        description="transcription settings of files the scan finds",
    )

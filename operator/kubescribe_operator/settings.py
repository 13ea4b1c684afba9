"""One settings object for the controller, from the environment (``KUBESCRIBE_*``) and flags.

Nested values take JSON in the environment (``KUBESCRIBE_JOB_NODE_SELECTOR='{"gpu": "a100"}'``),
as pydantic-settings reads them. The chart sets these variables; ``kubescribe run`` also
takes the common ones as flags.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from kubescribe_protocol.models import TranscriptionSettings

ENV_PREFIX = "KUBESCRIBE_"


class ControllerSettings(BaseSettings):
    """The controller's knobs and the default transcription settings."""

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

    # --- Kubernetes (the operator only) ------------------------------------------------
    namespace: str = Field("default", description="namespace of the Jobs")
    data_pvc: str = Field("kubescribe-data", description="the shared volume's claim")
    model_cache_pvc: str | None = Field(None, description="claim holding model_dir, if any")
    worker_image: str = Field("ghcr.io/kubescribe/worker:0.1.0")
    worker_image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    worker_service_account: str = "kubescribe-worker"
    gpu_resource_name: str = "nvidia.com/gpu"
    gpu_count: int = Field(1, ge=0)
    worker_resources: dict[str, Any] = Field(
        default_factory=lambda: {
            "requests": {"cpu": "1", "memory": "4Gi"},
            "limits": {"memory": "16Gi"},
        }
    )
    job_node_selector: dict[str, str] = Field(default_factory=dict)
    job_tolerations: list[dict[str, Any]] = Field(default_factory=list)
    job_affinity: dict[str, Any] = Field(default_factory=dict)
    job_runtime_class_name: str | None = None
    priority_class_api: str | None = Field(None, description="priorityClassName, API requests")
    priority_class_scan: str | None = Field(None, description="priorityClassName, scanned files")
    job_ttl_seconds: int = Field(
        7 * 24 * 3600, ge=0, description="ttlSecondsAfterFinished: outlives an operator outage"
    )
    run_as_user: int = 10001
    fs_group: int = 10001
    kueue_queue_name: str | None = Field(None, description="Kueue LocalQueue; Jobs start suspended")
    leader_lease_seconds: int = Field(
        15, ge=2, description="operator leader Lease: a successor waits this long after a crash"
    )
    transcription_completed_ttl_seconds: float = Field(
        86400.0,
        ge=0,
        description="a completed file's Transcription object is kept this long, then deleted",
    )

    # --- the HTTP API ------------------------------------------------------------------
    api_enabled: bool = Field(
        False, description="serve the HTTP API in the controller's process (--api turns it on)"
    )
    api_host: str = Field("0.0.0.0", description="address the HTTP API listens on")  # noqa: S104
    api_port: int = Field(
        8000, ge=0, le=65535, description="port of the HTTP API (0: any free one)"
    )
    api_tokens: list[str] = Field(
        default_factory=list,
        description="bearer tokens the API accepts (JSON list in KUBESCRIBE_API_TOKENS)",
    )
    api_tokens_file: Path | None = Field(
        None,
        description="file of bearer tokens, one a line (a mounted Secret); read at start "
        "and added to api_tokens",
    )
    upload_dir: str = Field(
        "uploads", description="folder under the root where API uploads are stored"
    )
    max_upload_mb: float = Field(512.0, gt=0, description="largest upload the API accepts, MiB")
    callback_secret: str | None = Field(
        None, description="HMAC-SHA256 key that signs callbacks (X-Kubescribe-Signature)"
    )
    callback_attempts: int = Field(5, ge=1, description="tries per callback before giving up")
    openai_wait_seconds: float = Field(
        3600.0, gt=0, description="how long POST /v1/audio/transcriptions waits for a result"
    )

"""What the HTTP API knows, on top of the core's settings."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from ..core.settings import CoreSettings


class ApiSettings(CoreSettings):
    """The HTTP API's knobs (``KUBESCRIBE_API_*``, uploads, callbacks)."""

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
    api_body_timeout_seconds: float = Field(
        30.0,
        gt=0,
        description="seconds a request body may take before it must keep up "
        "api_body_min_bytes_per_second (a stalled or trickling client gets 408)",
    )
    api_body_min_bytes_per_second: float = Field(
        16384.0,
        gt=0,
        description="slowest average rate a request body may arrive at after "
        "api_body_timeout_seconds (16 KiB/s: a 128 kbit/s link)",
    )
    api_max_connections: int = Field(
        256,
        ge=1,
        description="connections and requests the API serves at once; more get 503 "
        "(well under the usual 1024 open files, leaving room for the volume and workers)",
    )
    api_writes_per_minute: float = Field(
        120.0,
        ge=0,
        description="write requests (POST, DELETE) one client (token and address) may make "
        "a minute, after a burst of api_write_burst; more get 429 (0: no limit)",
    )
    api_write_burst: int = Field(
        30, ge=1, description="write requests one client may make at once before the rate applies"
    )
    callback_allowed_networks: list[str] = Field(
        default_factory=list,
        description="hosts or networks (CIDR) callbacks may go to although they are loopback, "
        'link-local, private or cluster-internal (JSON list), e.g. ["10.1.2.0/24"]',
    )

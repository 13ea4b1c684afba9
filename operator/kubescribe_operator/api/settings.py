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

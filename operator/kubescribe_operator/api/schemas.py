"""The API's request and response bodies (they make the OpenAPI document)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from kubescribe_protocol.models import Progress, StatusError

State = Literal["pending", "processing", "error", "completed", "manual"]


class Problem(BaseModel):
    """Every error answer: a stable code, a sentence for people."""

    code: str = Field(description="machine-readable, e.g. path_traversal, not_audio, too_large")
    message: str


class ErrorBody(BaseModel):
    error: Problem


class Links(BaseModel):
    status: str
    result: str
    events: str


class Accepted(BaseModel):
    """``202``: the request is recorded; follow ``links``."""

    id: str
    path: str
    client_id: str
    state: State
    links: Links


class TranscriptionView(BaseModel):
    id: str
    path: str
    state: State
    #: Where the audio is now: ``path``, or its place under ``manual/``.
    location: str
    priority: Literal["api_request", "auto_scan"] | None = None
    attempt: int = Field(0, description="the current (or last) attempt; 0 before the first")
    max_attempts: int
    progress: Progress | None = None
    queue_position: int | None = Field(
        None, description="1-based place among waiting files; null when not waiting"
    )
    eta_seconds: float | None = Field(
        None, description="seconds until the result is expected (measured start-up and rate)"
    )
    realtime_factor: float | None = Field(
        None, description="mean processing seconds per audio second of recent results"
    )
    startup_seconds: float | None = Field(
        None, description="what the ETA used: the fitted start-up of a file, in seconds"
    )
    seconds_per_audio_second: float | None = Field(
        None, description="what the ETA used: the fitted processing seconds per audio second"
    )
    holding_still_seconds: float | None = Field(
        None,
        description="the audio is still changing (being written): it starts once it held "
        "still this many more seconds; null: not waiting for that",
    )
    error: StatusError | None = None
    links: Links


class QueueItem(BaseModel):
    id: str
    path: str
    position: int = Field(description="0: running; 1..n: waiting, in start order")
    priority: Literal["api_request", "auto_scan"] | None = None


class QueueView(BaseModel):
    parallel: int
    running: list[QueueItem]
    waiting: list[QueueItem]


class OpenAITranscription(BaseModel):
    text: str


class OpenAISegment(BaseModel):
    id: int
    start: float
    end: float
    text: str
    confidence: float | None = None


class OpenAIWord(BaseModel):
    word: str
    start: float
    end: float


class OpenAIVerbose(BaseModel):
    task: Literal["transcribe"] = "transcribe"
    language: str | None
    duration: float | None
    text: str
    #: Absent when only ``timestamp_granularities[]=word`` was asked for.
    segments: list[OpenAISegment] | None = None
    #: Present when ``timestamp_granularities[]=word`` was asked for.
    words: list[OpenAIWord] | None = None


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIError(BaseModel):
    error: OpenAIErrorDetail

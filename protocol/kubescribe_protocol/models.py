"""pydantic models of the two status files.

Readers are tolerant: a file written by either version of the user's spec, or by an
older kubescribe, validates (missing fields take defaults, the two names of one field
fill each other, unknown fields are kept). Writers are strict: :func:`dump_status`
always writes every field, under both names where the spec's two versions differ.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    computed_field,
    field_validator,
    model_validator,
)

from .codes import ErrorCode


def utc_now() -> datetime:
    # Millisecond precision, as files store it, so a value survives a write and a read.
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def _as_utc(value: datetime) -> datetime:
    # The seed's own code writes naive local times (datetime.now().isoformat()); we read
    # those as UTC rather than reject them.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def format_time(value: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, to the millisecond, as the spec's examples write it."""
    text = _as_utc(value).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


Timestamp = Annotated[
    datetime,
    PlainSerializer(format_time, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class _Model(BaseModel):
    # Unknown fields survive a read-modify-write, so a newer writer's additions are kept.
    # Writers emit every field, so the published schema marks defaulted fields required too.
    model_config = ConfigDict(
        extra="allow", populate_by_name=True, json_schema_serialization_defaults_required=True
    )

    @field_validator("*", mode="after")
    @classmethod
    def _utc(cls, value: Any) -> Any:
        return _as_utc(value) if isinstance(value, datetime) else value


class FileStatus(StrEnum):
    """``.in_progress`` ``status``."""

    QUEUED = "queued"
    PROCESSING = "processing"
    ERROR = "error"
    #: Only the simplified seed version writes this; we read it, never write it.
    COMPLETED = "completed"


class Priority(StrEnum):
    API_REQUEST = "api_request"
    AUTO_SCAN = "auto_scan"


class Stage(StrEnum):
    LOADING_MODEL = "loading_model"
    PROCESSING_AUDIO = "processing_audio"
    GENERATING_TEXT = "generating_text"


class AttemptStatus(StrEnum):
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"


OutputFormat = Literal["txt", "srt", "vtt"]
ComputeType = Literal["auto", "int8", "int8_float16", "int8_float32", "float16", "float32"]
Device = Literal["auto", "cpu", "cuda"]
Alignment = Literal["whisper", "whisperx"]
LanguageSource = Literal["forced", "detected"]


class TranscriptionSettings(_Model):
    """How one file is transcribed. The controller fills it from its defaults; the API may
    override it per request; the worker reads it from ``.in_progress``."""

    model_size: str = Field("base", description="tiny/base/small/medium/large-v3, or a .en size")
    language: str | None = Field(None, description="ISO 639-1 code; null: detect it")
    temperature: float = Field(0.0, ge=0.0, le=1.0)
    compute_type: ComputeType = Field("auto", description="auto: float16 on CUDA, int8 on CPU")
    device: Device = Field("auto", description="auto: cuda when available, else cpu")
    debug: bool = Field(False, description="verbose worker logs for this file")
    output_formats: list[OutputFormat] = Field(
        default_factory=list, description="extra transcript files beside the audio"
    )
    word_timestamps: bool = Field(
        True, description="segments at sentences, each with its words' times; false: 30 s chunks"
    )
    alignment: Alignment = Field(
        "whisper",
        description="whisper: word times from the Whisper model itself; whisperx: a wav2vec2 "
        "alignment model for the language from the model directory (an error when absent)",
    )
    initial_prompt: str | None = Field(
        None, description="text the model continues from: names, spelling, style"
    )
    subtitle_line_width: int = Field(42, ge=10, le=200, description="srt/vtt: characters a line")
    subtitle_line_count: int = Field(2, ge=1, le=10, description="srt/vtt: lines a cue")


class Progress(_Model):
    stage: Stage = Stage.LOADING_MODEL
    percentage: int = Field(0, ge=0, le=100)


class StatusError(_Model):
    """``error``: what went wrong in the last attempt (or why the file went to ``manual/``)."""

    code: str = Field(description="an ErrorCode value; unknown codes from other writers read")
    message: str
    details: str | None = None
    timestamp: Timestamp = Field(default_factory=utc_now)
    #: Seconds after ``timestamp`` before the next attempt may start; null: no retry.
    retry_after: float | None = None

    def is_code(self, code: ErrorCode) -> bool:
        return self.code == code.value


class AudioFingerprint(_Model):
    """What the audio was when an attempt started (:mod:`.fingerprint`): cheap to take
    and to check, even on a network volume (a stat and at most 2 MiB read)."""

    size: int = Field(ge=0, description="bytes")
    mtime_ns: int = Field(description="modification time, ns since the epoch")
    sample_sha256: str = Field(description="sha256 of the size, the first and the last MiB")


class Attempt(_Model):
    attempt_number: int = Field(ge=1)
    start_time: Timestamp = Field(default_factory=utc_now)
    end_time: Timestamp | None = None
    status: AttemptStatus = AttemptStatus.PROCESSING
    continue_processing: bool = True
    error: StatusError | None = None
    progress_info: Progress = Field(default_factory=Progress)
    #: Where the attempt runs: ``local`` or ``kubernetes``; and its handle there
    #: (a process id, a Job name).
    executor: str | None = None
    runner: str | None = None
    #: Last sign of life from the worker; the controller declares it lost when stale.
    heartbeat: Timestamp | None = None
    #: The deadline this attempt was started with.
    deadline: Timestamp | None = None
    exit_code: int | None = None
    #: The audio this attempt transcribes (older files: absent, read as null).
    audio: AudioFingerprint | None = Field(None, description="the audio at the start")


#: Extra fields kubescribe adds to an ``.in_progress`` (read and written through
#: :mod:`.additions`): kept as extras so the files keep their bytes, listed in the schema.
MANUAL_PATH = "manual_path"
EARLIER_RUNS = "earlier_runs"
CALLBACK_URLS = "callback_urls"
ATTEMPTS_DROPPED = "attempts_dropped"
ADDITIONS_SCHEMA: dict[str, Any] = {
    MANUAL_PATH: {
        "type": "string",
        "description": "where a move to manual/ takes the file (written before the move)",
    },
    EARLIER_RUNS: {
        "type": "array",
        "description": "the runs before each retry out of manual/, or before the audio "
        "changed under an attempt, oldest first",
        "items": {
            "type": "object",
            "properties": {
                "retried_at": {"type": "string", "format": "date-time"},
                "attempts": {
                    "type": "array",
                    "description": "that run's attempts, as in attempts",
                    "items": {"type": "object"},
                },
                "error": {
                    "type": ["object", "null"],
                    "description": "that run's final error, as in error",
                },
            },
            "required": ["retried_at", "attempts", "error"],
        },
    },
    CALLBACK_URLS: {
        "type": "array",
        "description": "callback URLs of API requests, kept across restarts",
        "items": {"type": "string"},
    },
    ATTEMPTS_DROPPED: {
        "type": "integer",
        "minimum": 0,
        "description": (
            "attempts left out of attempts to bound the file's size: the first is kept, "
            "then the last ones; this many between them were dropped"
        ),
    },
}


def _list_additions(schema: dict[str, Any]) -> None:
    schema["properties"].update(ADDITIONS_SCHEMA)


class InProgress(_Model):
    """``talk.mp3.in_progress``: the state of a file that is queued, processing or failed."""

    model_config = ConfigDict(json_schema_extra=_list_additions)

    filename: str
    path: str | None = Field(None, description="relative to the watched root (an addition)")
    status: FileStatus = FileStatus.QUEUED
    start_time: Timestamp = Field(default_factory=utc_now)
    attempt: int = Field(0, ge=0, description="current attempt number; 0 before the first")
    should_continue: bool = True
    priority: Priority = Priority.AUTO_SCAN
    api_clients: list[str] = Field(default_factory=list)
    settings: TranscriptionSettings = Field(default_factory=TranscriptionSettings)
    progress: Progress | None = None
    attempts: list[Attempt] = Field(default_factory=list)
    error: StatusError | None = None
    #: When the file's status file was last written (any writer).
    updated_at: Timestamp = Field(default_factory=utc_now)

    @model_validator(mode="before")
    @classmethod
    def _merge_seed_names(cls, data: Any) -> Any:
        # The two seed versions name two fields differently; either name fills the other.
        if isinstance(data, dict):
            data = dict(data)
            if "start_time" not in data and "creation_time" in data:
                data["start_time"] = data["creation_time"]
            if "attempt" not in data and "current_attempt" in data:
                data["attempt"] = data["current_attempt"]
            data.pop("creation_time", None)
            data.pop("current_attempt", None)
        return data

    @computed_field(description="same value as start_time (the full seed version's name)")
    def creation_time(self) -> Timestamp:
        return self.start_time

    @computed_field(description="same value as attempt (the full seed version's name)")
    def current_attempt(self) -> int:
        return self.attempt

    def current(self) -> Attempt | None:
        """The record of the current attempt, if it has one."""
        for record in reversed(self.attempts):
            if record.attempt_number == self.attempt:
                return record
        return None


class Word(_Model):
    """One word of a segment with where it is spoken (seconds from the audio's start)."""

    word: str
    start: float
    end: float
    confidence: float | None = Field(None, ge=0.0, le=1.0)


class Segment(_Model):
    id: int = 0
    start: float
    end: float
    text: str
    confidence: float | None = Field(None, ge=0.0, le=1.0)
    #: Empty in results written before word times, or with ``word_timestamps`` off.
    words: list[Word] = Field(default_factory=list)


class Transcription(_Model):
    text: str
    segments: list[Segment] = Field(default_factory=list)


class ModelInfo(_Model):
    name: str
    size_mb: int = Field(ge=0)
    load_time_seconds: float = Field(ge=0.0)


class ResultMetadata(_Model):
    confidence: float | None = Field(None, ge=0.0, le=1.0)
    language_detected: str | None = None
    #: How ``language_detected`` came: told by ``settings.language`` ("forced") or found
    #: by the model ("detected"); null in older results, which did not say.
    language_source: LanguageSource | None = Field(
        None, description="forced: the language was given; detected: the model found it"
    )
    word_count: int = Field(0, ge=0)
    segment_count: int = Field(0, ge=0)
    whisperx_version: str | None = None
    model_info: ModelInfo | None = None
    #: The simplified seed version keeps the audio's duration here too.
    duration_seconds: float | None = Field(None, ge=0.0)


class ProcessingStats(_Model):
    total_attempts: int = Field(1, ge=1)
    memory_peak_mb: float = Field(0.0, ge=0.0)
    cpu_time_seconds: float = Field(0.0, ge=0.0)


class OutputFile(_Model):
    """An extra output (``settings.output_formats``) the worker wrote beside the audio."""

    format: OutputFormat
    name: str = Field(description="the file's name, in the audio's folder")
    sha256: str = Field(
        description="of the bytes written: a file that still has them is kubescribe's to replace"
    )


class Result(_Model):
    """``talk.mp3.result``: a finished transcription. Every number is measured."""

    filename: str
    path: str | None = None
    processing_start: Timestamp | None = None
    processing_end: Timestamp | None = None
    duration_seconds: float | None = Field(None, ge=0.0)
    processing_time_seconds: float | None = Field(None, ge=0.0)
    settings: TranscriptionSettings = Field(default_factory=TranscriptionSettings)
    transcription: Transcription
    metadata: ResultMetadata = Field(default_factory=ResultMetadata)
    processing_stats: ProcessingStats | None = None
    #: The audio this result was made from (older files: absent, read as null).
    audio: AudioFingerprint | None = Field(None, description="the audio it was made from")
    #: What it wrote beside the audio (older files: absent, read as none).
    outputs: list[OutputFile] = Field(
        default_factory=list, description="the extra outputs written beside the audio"
    )

    @model_validator(mode="after")
    def _fill_duration(self) -> Result:
        # Either seed version's place for the duration fills the other.
        if self.duration_seconds is None:
            self.duration_seconds = self.metadata.duration_seconds
        elif self.metadata.duration_seconds is None:
            self.metadata.duration_seconds = self.duration_seconds
        return self


def dump_status(model: BaseModel) -> str:
    """The JSON text a writer puts on disk: every field, UTF-8 kept readable, indented."""
    return model.model_dump_json(indent=2, exclude_none=False) + "\n"

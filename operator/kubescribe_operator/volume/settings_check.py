"""Whether a file's transcription settings can ever work, checked before it is queued.

The API (400) and ``kubescribe run`` (a usage error) both ask :func:`check_settings`, so
a model size the model directory does not hold, or a language the model does not speak,
is refused with the valid choices named, instead of failing attempt after attempt.
The worker refuses the same settings with the same codes, which no retry follows, for
files whose settings reached it anyway (a status file written by hand, a changed model
directory).
"""

from __future__ import annotations

from pathlib import Path

from kubescribe_protocol.codes import ErrorCode
from kubescribe_protocol.models import TranscriptionSettings
from kubescribe_protocol.whisper_choices import (
    WHISPER_SIZES,
    english_only,
    language_code,
    languages_of,
)

MODEL_FILE = "model.bin"


class SettingsRefusedError(ValueError):
    """Settings that can never work; ``code`` is an :class:`ErrorCode` value."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def model_sizes(model_dir: Path | None) -> tuple[str, ...] | None:
    """The sizes a worker can load; None: any (the folder is one model given directly).

    A model directory this process can read, holding models, answers with its
    ``<size>/model.bin`` folders. Without one (none configured, not mounted here, or not
    filled yet) the worker finds models by name, so the sizes Whisper knows.
    """
    if model_dir is None or not model_dir.is_dir():
        return WHISPER_SIZES
    if (model_dir / MODEL_FILE).is_file():
        return None
    try:
        held = sorted(child.name for child in model_dir.iterdir() if (child / MODEL_FILE).is_file())
    except OSError:
        return WHISPER_SIZES
    return tuple(held) or WHISPER_SIZES


def check_settings(
    settings: TranscriptionSettings, model_dir: Path | None
) -> TranscriptionSettings:
    """``settings`` with its language as a code (``english`` is ``en``), or
    :class:`SettingsRefusedError` naming the valid choices."""
    sizes = model_sizes(model_dir)
    if sizes is not None and settings.model_size not in sizes:
        where = f"the model directory {model_dir}" if sizes != WHISPER_SIZES else "Whisper"
        raise SettingsRefusedError(
            ErrorCode.UNKNOWN_MODEL_SIZE,
            f"unknown model size {settings.model_size!r}: {where} has " + ", ".join(sizes),
        )
    if settings.language is None:
        return settings
    code = language_code(settings.language)
    spoken = languages_of(settings.model_size)
    if code is None or code not in spoken:
        model = "an English-only model" if english_only(settings.model_size) else "Whisper"
        raise SettingsRefusedError(
            ErrorCode.UNSUPPORTED_LANGUAGE,
            f"model {settings.model_size} does not speak {settings.language!r}: {model} "
            f"speaks {', '.join(spoken)} (ISO 639-1 codes; English names such as "
            "'english' are taken too)",
        )
    return settings.model_copy(update={"language": code})

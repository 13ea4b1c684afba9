"""Let ``whisperx.asr`` import without pyannote.

``whisperx.asr`` does ``from whisperx.vads import Vad, Silero, Pyannote`` at import time,
and ``whisperx/vads/__init__.py`` imports pyannote.audio: about 10 s and 1 GB of memory
on our 2-core machines, spent even when the pipeline is given another VAD (we give it
faster-whisper's Silero ONNX VAD, see :mod:`.vad`). :func:`install` registers a light
``whisperx.vads`` package first. It has the same three names: ``Vad`` is WhisperX's own
base class (``whisperx/vads/vad.py``, which is light: pandas and pyannote.core), while
``Silero`` and ``Pyannote`` load WhisperX's real classes only when someone constructs or
uses them. The package keeps the real folder as its ``__path__``, so
``import whisperx.vads.pyannote`` still finds the real module.
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


def install() -> None:
    """Register the light ``whisperx.vads`` unless the real one is already imported."""
    if _PACKAGE in sys.modules:
        return
    import whisperx  # its __init__ is light: every submodule loads lazily

    package = types.ModuleType(_PACKAGE, "light whisperx.vads registered by kubescribe")
    package.__path__ = [str(Path(whisperx.__file__).parent / "vads")]
    package.__package__ = _PACKAGE
    sys.modules[_PACKAGE] = package
    try:
        vad_module = importlib.import_module(f"{_PACKAGE}.vad")
    except BaseException:
        del sys.modules[_PACKAGE]
        raise
    package.Vad = vad_module.Vad  # type: ignore[attr-defined]
    package.Silero = Silero  # type: ignore[attr-defined]
    package.Pyannote = Pyannote  # type: ignore[attr-defined]

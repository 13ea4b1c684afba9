"""Word times from a WhisperX wav2vec2 alignment model (``settings.alignment: whisperx``).

The model for a language is a Hugging Face wav2vec2 CTC folder (``config.json``,
``preprocessor_config.json``, ``vocab.json``, the weights) at
``<model dir>/alignment/<language>/``. Nothing is downloaded: asked for and absent is a
``model_missing`` error that names the folder it looked in.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from kubescribe_protocol.codes import ErrorCode
from kubescribe_protocol.models import TranscriptionSettings

from .errors import WorkerError, classify
from .sentences import segments_from_words
from .transcript import TimedWord, TranscribedSegment, Transcript

ALIGNMENT_FOLDER = "alignment"
#: What a Hugging Face wav2vec2 CTC folder has (the weights as .bin or .safetensors).
NEEDED_FILES = ("config.json", "preprocessor_config.json", "vocab.json")


def alignment_model_dir(model_dir: Path | None, language: str) -> Path:
    """The folder of ``language``'s alignment model; a ``model_missing`` error when none."""
    if model_dir is None:
        raise WorkerError(
            ErrorCode.MODEL_MISSING,
            f"alignment whisperx needs a model directory with {ALIGNMENT_FOLDER}/{language}/ "
            "(a wav2vec2 CTC model); the worker has no --model-dir",
        )
    folder = model_dir / ALIGNMENT_FOLDER / language
    missing = [name for name in NEEDED_FILES if not (folder / name).is_file()]
    has_weights = any(folder.glob("*.safetensors")) or any(folder.glob("*.bin"))
    if missing or not has_weights:
        absent = ", ".join(missing + ([] if has_weights else ["model weights"]))
        raise WorkerError(
            ErrorCode.MODEL_MISSING,
            f"no WhisperX alignment model for language {language!r}: looked in {folder} "
            f"(missing {absent})",
        )
    return folder


def align(transcript: Transcript, audio: np.ndarray, folder: Path, device: str) -> Transcript:
    """The transcript's chunks aligned by the wav2vec2 model in ``folder``, cut at
    sentences (and long ones at pauses) as the Whisper alignment's are."""
    import whisperx.alignment

    # WhisperX splits sentences with NLTK's punkt data, which it downloads when missing;
    # nothing downloads here, and the words are cut at sentences by :mod:`.sentences`.
    whisperx.alignment.nltk_load = lambda *_args, **_kwargs: _WholeText()
    model, metadata = whisperx.alignment.load_align_model(
        transcript.language, device, model_name=str(folder), model_cache_only=True
    )
    chunks = [{"start": s.start, "end": s.end, "text": s.text} for s in transcript.segments]
    if not chunks:
        return transcript
    aligned = whisperx.alignment.align(chunks, model, metadata, audio, device)
    segments: list[TranscribedSegment] = []
    for seg in aligned["segments"]:
        words = _timed(seg.get("words", []), float(seg["start"]), float(seg["end"]))
        if words:
            segments.extend(segments_from_words(words, 0.0))
        elif seg["text"].strip():
            segments.append(
                TranscribedSegment(float(seg["start"]), float(seg["end"]), seg["text"].strip(), 0.0)
            )
    return Transcript(segments, transcript.language)


class _WholeText:
    """A sentence splitter that leaves the text whole."""

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        return [(0, len(text))]


def _timed(words: list[dict[str, Any]], start: float, end: float) -> list[TimedWord]:
    """WhisperX leaves a word it cannot align (digits, symbols) without times: it gets the
    end of the word before it (or the segment's start)."""
    timed: list[TimedWord] = []
    at = start
    for word in words:
        text = str(word.get("word", "")).strip()
        if not text:
            continue
        begin = float(word.get("start", at))
        finish = max(begin, float(word.get("end", begin)))
        begin, finish = min(max(begin, at), end), min(max(finish, at), end)
        timed.append(TimedWord(f" {text}", begin, finish, float(word.get("score", 0.0))))
        at = begin
    return timed


def wanted(settings: TranscriptionSettings) -> bool:
    return settings.word_timestamps and settings.alignment == "whisperx"


def check_early(settings: TranscriptionSettings, model_dir: Path | None) -> None:
    """Fail before any model time is spent when the language is known and its alignment
    model is not there."""
    if wanted(settings) and settings.language:
        alignment_model_dir(model_dir, settings.language)


def align_if_wanted(
    settings: TranscriptionSettings,
    model_dir: Path | None,
    transcript: Transcript,
    audio: np.ndarray,
    device: str,
) -> Transcript:
    if not wanted(settings) or not transcript.segments:
        return transcript
    folder = alignment_model_dir(model_dir, transcript.language)
    try:
        return align(transcript, audio, folder, device)
    except Exception as exc:
        raise classify(exc, default=ErrorCode.MODEL_BROKEN) from exc

"""WhisperX's batched pipeline, with faster-whisper's Silero ONNX VAD and a known model.

Importing this module imports ``whisperx.asr`` (torch, transformers, CTranslate2) but not
pyannote: :mod:`.light_vads` is installed first. The model is always a local CTranslate2
folder (resolved by :mod:`.models`), so nothing here downloads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import light_vads

light_vads.install()

import whisperx.asr  # noqa: E402  # after light_vads.install(), on purpose

from .sentences import by_sentence  # noqa: E402
from .transcript import TranscribedSegment, Transcript  # noqa: E402
from .vad import SileroOnnxVad  # noqa: E402
from .word_times import WordTimer  # noqa: E402

#: Seconds of audio per chunk: Whisper's window.
CHUNK_SECONDS = 30


class _SamplingWhisper:
    """The CTranslate2 model, generating by sampling at a temperature.

    WhisperX's batched generation always decodes by beam search and ignores the
    temperature; with a temperature above zero we sample at it instead (beam size 1),
    which is what a temperature means to Whisper.
    """

    def __init__(self, model: Any, temperature: float) -> None:
        self._model = model
        self._temperature = temperature

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.update(beam_size=1, sampling_topk=0, sampling_temperature=self._temperature)
        return self._model.generate(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


class WhisperModel(whisperx.asr.WhisperModel):  # type: ignore[misc]
    temperature: float = 0.0
    model: Any  # the CTranslate2 Whisper model, set by faster-whisper
    word_timer: WordTimer | None = None

    def generate_segment_batched(self, features: Any, tokenizer: Any, *args: Any) -> Any:
        if self.temperature <= 0.0 and self.word_timer is None:
            return super().generate_segment_batched(features, tokenizer, *args)
        model = self.model
        if self.temperature > 0.0:
            self.model = _SamplingWhisper(model, self.temperature)
        recording = self.word_timer.recording(self.model) if self.word_timer else None
        self.model = recording or self.model
        try:
            output = super().generate_segment_batched(features, tokenizer, *args)
        finally:
            self.model = model
        if self.word_timer is not None and recording is not None:
            self.word_timer.align_batch(recording, model, tokenizer)
        return output


@dataclass
class Transcriber:
    pipeline: Any
    vad: SileroOnnxVad
    batch_size: int
    is_multilingual: bool
    word_timer: WordTimer | None = None

    def transcribe(self, audio: np.ndarray, on_chunk_done: Callable[[float], None]) -> Transcript:
        """Transcribe 16 kHz mono ``audio``; ``on_chunk_done(end_seconds)`` after each chunk."""

        def progress(percent: float) -> None:
            # WhisperX reports the share of chunks done; turn it back into which chunk
            # finished, and report where in the audio that chunk ends.
            chunks = self.vad.chunks
            if chunks:
                index = min(len(chunks), max(1, round(percent * len(chunks) / 100))) - 1
                on_chunk_done(float(chunks[index]["end"]))

        if audio.size == 0:
            return Transcript([], self.pipeline.preset_language or "")
        if self.word_timer is not None:
            self.word_timer.reset()
        result = self.pipeline.transcribe(
            audio,
            batch_size=self.batch_size,
            chunk_size=CHUNK_SECONDS,
            progress_callback=progress,
        )
        segments = [
            TranscribedSegment(
                start=float(seg["start"]),
                end=float(seg["end"]),
                text=seg["text"].strip(),
                avg_logprob=float(seg["avg_logprob"]),
            )
            for seg in result["segments"]
        ]
        if self.word_timer is not None:
            segments = by_sentence(segments, self.word_timer.chunk_words)
        return Transcript([seg for seg in segments if seg.text], result["language"])


def load_transcriber(
    model_path: Path,
    *,
    device: str,
    compute_type: str,
    language: str | None,
    temperature: float,
    batch_size: int,
    cpu_threads: int,
    word_timestamps: bool = False,
    initial_prompt: str | None = None,
) -> Transcriber:
    """Load the model at ``model_path`` into WhisperX's pipeline (raises what CTranslate2
    raises for a broken model)."""
    model = WhisperModel(
        str(model_path),
        device=device,
        compute_type=compute_type,
        cpu_threads=cpu_threads,
        local_files_only=True,
    )
    model.temperature = temperature
    # WhisperX computes log-mel features with torch. On a few cores torch's own thread
    # pool then competes with CTranslate2's: measured on 2 cores, the encoder ran about
    # 1.5x slower with torch at 2 threads than at 1. The features are a small share of
    # the work, so torch gets one thread.
    torch.set_num_threads(1)
    multilingual = bool(model.model.is_multilingual)
    if not multilingual:
        language = "en"  # an English-only model (tiny.en...) speaks nothing else
    vad = SileroOnnxVad(chunk_size=CHUNK_SECONDS)
    pipeline = whisperx.asr.load_model(
        str(model_path),
        device=device,
        compute_type=compute_type,
        model=model,
        language=language,
        vad_model=vad,
        vad_options={"chunk_size": CHUNK_SECONDS},
    )
    if temperature > 0.0:
        pipeline.options = replace(pipeline.options, temperatures=[temperature])
    if initial_prompt:
        pipeline.options = replace(pipeline.options, initial_prompt=initial_prompt)
    if word_timestamps:
        model.word_timer = WordTimer(lambda: vad.chunks)
    return Transcriber(pipeline, vad, batch_size, multilingual, model.word_timer)

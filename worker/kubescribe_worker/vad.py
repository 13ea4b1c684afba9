"""faster-whisper's Silero VAD (ONNX) in the shape of a WhisperX VAD.

WhisperX's default pyannote VAD took 15.5 s of a 33.7 s run on our 2-core machines
(468 s of speech); the Silero model that faster-whisper ships as ONNX does the same job
in a fraction of that and needs neither torch nor pyannote. WhisperX accepts any
:class:`whisperx.vads.Vad`; this one also remembers the chunks it merged, so progress
can follow the audio actually transcribed (each chunk's end time).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from faster_whisper.vad import VadOptions, get_speech_timestamps
from whisperx.vads import Vad

SAMPLE_RATE = 16000
#: faster-whisper's batched pipeline splits speech at silences this long; so do we.
MIN_SILENCE_MS = 160


@dataclass(frozen=True)
class SpeechRegion:
    """One region of speech, in seconds; ``speaker`` is what WhisperX's merge expects."""

    start: float
    end: float
    speaker: str | None = None


class SileroOnnxVad(Vad):  # type: ignore[misc]  # whisperx has no type hints
    def __init__(self, *, onset: float = 0.5, chunk_size: float = 30.0) -> None:
        super().__init__(onset)
        self.onset = onset
        self.chunk_size = chunk_size
        #: The chunks the last call of :meth:`merge_chunks` made, in order.
        self.chunks: list[dict[str, Any]] = []

    @staticmethod
    def preprocess_audio(audio: np.ndarray) -> np.ndarray:
        return audio

    def __call__(self, audio: dict[str, Any], **_: Any) -> list[SpeechRegion]:
        if audio["sample_rate"] != SAMPLE_RATE:
            raise ValueError(f"the VAD takes {SAMPLE_RATE} Hz audio")
        options = VadOptions(
            threshold=self.onset,
            max_speech_duration_s=self.chunk_size,
            min_silence_duration_ms=MIN_SILENCE_MS,
        )
        stamps = get_speech_timestamps(audio["waveform"], options, sampling_rate=SAMPLE_RATE)
        return [
            SpeechRegion(stamp["start"] / SAMPLE_RATE, stamp["end"] / SAMPLE_RATE)
            for stamp in stamps
        ]

    def merge_chunks(  # an instance method, so it can remember what it merged
        self,
        segments: list[SpeechRegion],
        chunk_size: float,
        onset: float = 0.5,
        offset: float | None = None,
    ) -> list[dict[str, Any]]:
        # WhisperX's merge (from its paper) packs regions into chunks of at most
        # chunk_size seconds; it fails on an empty list, which silence gives.
        self.chunks = Vad.merge_chunks(segments, chunk_size, onset, offset) if segments else []
        return self.chunks

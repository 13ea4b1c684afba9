"""What a transcription gives back, before it becomes ``.result`` (no heavy imports)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TimedWord:
    #: As the model wrote it, with its leading space and punctuation.
    word: str
    start: float
    end: float
    #: The model's mean probability of the word's tokens.
    probability: float


@dataclass(frozen=True)
class TranscribedSegment:
    start: float
    end: float
    text: str
    #: The model's average log-probability per token of ``text``.
    avg_logprob: float
    #: Empty when word times were not asked for (or the alignment found none).
    words: tuple[TimedWord, ...] = ()


@dataclass(frozen=True)
class Transcript:
    segments: list[TranscribedSegment]
    #: The language the model was told, or detected when it was told none.
    language: str

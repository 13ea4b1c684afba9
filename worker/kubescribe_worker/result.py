"""Build ``.result`` from a transcript and what was measured while making it."""

from __future__ import annotations

import math
import os
import resource
from dataclasses import dataclass
from datetime import datetime
from importlib import metadata

from kubescribe_protocol.models import (
    LanguageSource,
    ModelInfo,
    ProcessingStats,
    Result,
    ResultMetadata,
    Segment,
    Transcription,
    TranscriptionSettings,
    Word,
)

from .transcript import Transcript

#: Digits kept of a measured figure: a confidence to 1e-4, seconds to the millisecond,
#: megabytes to 0.1 MB. More is noise of the float sums (17.150000000000002).
CONFIDENCE_DIGITS = 4
SECONDS_DIGITS = 3
MEGABYTES_DIGITS = 1


def segment_confidence(avg_logprob: float) -> float:
    """The model's mean per-token probability of the segment's text: exp(avg log-prob)."""
    return round(min(1.0, max(0.0, math.exp(avg_logprob))), CONFIDENCE_DIGITS)


def overall_confidence(segments: list[Segment]) -> float | None:
    """Segment confidences weighted by segment duration, rounded like theirs (one
    segment's file then shows the same figure twice); None when nothing was said."""
    weighted = [(seg.end - seg.start, seg.confidence) for seg in segments]
    total = sum(duration for duration, _ in weighted)
    if not segments:
        return None
    if total <= 0:
        mean = sum(conf or 0.0 for _, conf in weighted) / len(weighted)
    else:
        mean = sum(duration * (conf or 0.0) for duration, conf in weighted) / total
    return round(mean, CONFIDENCE_DIGITS)


def language_source(
    settings: TranscriptionSettings, transcript: Transcript
) -> LanguageSource | None:
    """Whether the result's language was given to the model or found by it (None when
    there is no language to speak of)."""
    if not transcript.language:
        return None
    return "forced" if settings.language else "detected"


def whisperx_version() -> str:
    return metadata.version("whisperx")


def peak_memory_mb() -> float:
    """This process's peak resident memory (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    """CPU time of this process (and of any child it waited for; it starts none now)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


@dataclass(frozen=True)
class Measurements:
    processing_start: datetime
    processing_end: datetime
    duration_seconds: float
    model_name: str
    model_size_mb: int
    model_load_seconds: float
    attempt: int
    memory_peak_mb: float
    cpu_time_seconds: float


def build_result(
    *,
    filename: str,
    rel: str,
    settings: TranscriptionSettings,
    transcript: Transcript,
    measured: Measurements,
) -> Result:
    segments = [
        Segment(
            id=index,
            start=seg.start,
            end=seg.end,
            text=seg.text,
            confidence=segment_confidence(seg.avg_logprob),
            words=[
                Word(word=w.word.strip(), start=w.start, end=w.end, confidence=w.probability)
                for w in seg.words
            ],
        )
        for index, seg in enumerate(transcript.segments)
    ]
    text = " ".join(seg.text for seg in segments)
    elapsed = (measured.processing_end - measured.processing_start).total_seconds()
    audio_seconds = round(measured.duration_seconds, SECONDS_DIGITS)
    return Result(
        filename=filename,
        path=rel,
        processing_start=measured.processing_start,
        processing_end=measured.processing_end,
        duration_seconds=audio_seconds,
        processing_time_seconds=round(max(0.0, elapsed), SECONDS_DIGITS),
        settings=settings,
        transcription=Transcription(text=text, segments=segments),
        metadata=ResultMetadata(
            confidence=overall_confidence(segments),
            language_detected=transcript.language or None,
            language_source=language_source(settings, transcript),
            word_count=len(text.split()),
            segment_count=len(segments),
            whisperx_version=whisperx_version(),
            model_info=ModelInfo(
                name=measured.model_name,
                size_mb=measured.model_size_mb,
                load_time_seconds=round(measured.model_load_seconds, SECONDS_DIGITS),
            ),
            duration_seconds=audio_seconds,
        ),
        processing_stats=ProcessingStats(
            total_attempts=measured.attempt,
            memory_peak_mb=round(measured.memory_peak_mb, MEGABYTES_DIGITS),
            cpu_time_seconds=round(measured.cpu_time_seconds, SECONDS_DIGITS),
        ),
    )

"""Subtitle cues in the common layout: at most 42 characters a line, 2 lines a cue and
7 seconds a cue (the widths can be set, as WhisperX's ``--max_line_width`` and
``--max_line_count``), cut at word boundaries and timed by the words' times.

A cue never spans two segments. A segment without word times (a result written before
them) is cut at its words too, its time shared out by their characters.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .models import Segment, TranscriptionSettings, Word


@dataclass(frozen=True)
class SubtitleLayout:
    line_width: int = 42
    line_count: int = 2
    cue_seconds: float = 7.0

    @classmethod
    def of(cls, settings: TranscriptionSettings) -> SubtitleLayout:
        return cls(line_width=settings.subtitle_line_width, line_count=settings.subtitle_line_count)


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    lines: tuple[str, ...]


def wrap(words: Iterable[str], width: int) -> list[str]:
    """Words into lines of at most ``width`` characters (a longer word is a line of its own)."""
    lines: list[str] = []
    for word in words:
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def _timed_words(segment: Segment) -> list[Word]:
    words = [w for w in segment.words if w.word.strip()]
    if words:
        return [w.model_copy(update={"word": w.word.strip()}) for w in words]
    texts = segment.text.split()
    total = sum(len(t) for t in texts) or 1
    span = max(0.0, segment.end - segment.start)
    timed, at = [], segment.start
    for text in texts:
        length = span * len(text) / total
        timed.append(Word(word=text, start=at, end=at + length))
        at += length
    return timed


def cues(segments: Iterable[Segment], layout: SubtitleLayout | None = None) -> list[Cue]:
    layout = layout or SubtitleLayout()
    result: list[Cue] = []
    for segment in segments:
        current: list[Word] = []
        for word in _timed_words(segment):
            trial = [*current, word]
            fits = (
                len(wrap((w.word for w in trial), layout.line_width)) <= layout.line_count
                and word.end - trial[0].start <= layout.cue_seconds
            )
            if current and not fits:
                result.append(_cue(current, layout))
                current = [word]
            else:
                current = trial
        if current:
            result.append(_cue(current, layout))
    return result


def _cue(words: list[Word], layout: SubtitleLayout) -> Cue:
    start = words[0].start
    end = min(max(words[-1].end, start), start + layout.cue_seconds)
    return Cue(start, end, tuple(wrap((w.word for w in words), layout.line_width)))

"""A transcript as plain text, SubRip or WebVTT: one implementation for the worker's
extra files beside the audio, the API's ``/result`` and ``kubescribe result``."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .models import Segment
from .subtitles import SubtitleLayout, cues


def _clock(seconds: float, separator: str) -> str:
    millis = round(max(0.0, seconds) * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def _text(lines: Iterable[str]) -> str:
    return "".join(f"{line}\n" for line in lines)


def render_txt(segments: Iterable[Segment], layout: SubtitleLayout | None = None) -> str:
    """Plain text, a segment a line (``layout`` is for subtitles only)."""
    return "".join(f"{segment.text}\n" for segment in segments)


def render_srt(segments: Iterable[Segment], layout: SubtitleLayout | None = None) -> str:
    blocks = [
        f"{number}\n{_clock(cue.start, ',')} --> {_clock(cue.end, ',')}\n{_text(cue.lines)}"
        for number, cue in enumerate(cues(segments, layout), start=1)
    ]
    return "\n".join(blocks)


def render_vtt(segments: Iterable[Segment], layout: SubtitleLayout | None = None) -> str:
    blocks = [
        f"{_clock(cue.start, '.')} --> {_clock(cue.end, '.')}\n{_text(cue.lines)}"
        for cue in cues(segments, layout)
    ]
    return "\n".join(["WEBVTT\n", *blocks])


RENDERERS: dict[str, Callable[[Iterable[Segment], SubtitleLayout | None], str]] = {
    "txt": render_txt,
    "srt": render_srt,
    "vtt": render_vtt,
}

#: Media types of the text formats, as HTTP answers them.
MEDIA_TYPES = {
    "txt": "text/plain; charset=utf-8",
    "srt": "application/x-subrip; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
}

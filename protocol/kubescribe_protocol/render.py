"""A transcript as plain text, SubRip or WebVTT: one implementation for the worker's
extra files beside the audio, the API's ``/result`` and ``kubescribe result``."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .models import Segment


def _clock(seconds: float, separator: str) -> str:
    millis = round(max(0.0, seconds) * 1000)
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"


def render_txt(segments: Iterable[Segment]) -> str:
    return "".join(f"{segment.text}\n" for segment in segments)


def render_srt(segments: Iterable[Segment]) -> str:
    blocks = [
        f"{number}\n{_clock(seg.start, ',')} --> {_clock(seg.end, ',')}\n{seg.text}\n"
        for number, seg in enumerate(segments, start=1)
    ]
    return "\n".join(blocks)


def render_vtt(segments: Iterable[Segment]) -> str:
    blocks = [
        f"{_clock(seg.start, '.')} --> {_clock(seg.end, '.')}\n{seg.text}\n" for seg in segments
    ]
    return "\n".join(["WEBVTT\n", *blocks])


RENDERERS: dict[str, Callable[[Iterable[Segment]], str]] = {
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

"""Extra transcript files beside the audio: ``talk.mp3`` -> ``talk.txt``, ``talk.srt``,
``talk.vtt``, the names media players look for subtitles under."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from kubescribe_protocol.atomic import write_text_atomic
from kubescribe_protocol.models import Segment
from kubescribe_protocol.names import output_path


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


def write_outputs(audio: Path, segments: list[Segment], formats: Iterable[str]) -> list[Path]:
    """Write each requested format beside ``audio`` (atomically); returns the paths."""
    written = []
    for fmt in dict.fromkeys(formats):  # each once, in the order asked
        target = output_path(audio, fmt)
        write_text_atomic(target, RENDERERS[fmt](segments))
        written.append(target)
    return written

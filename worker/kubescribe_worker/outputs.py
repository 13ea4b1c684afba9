"""Extra transcript files beside the audio: ``talk.mp3`` -> ``talk.txt``, ``talk.srt``,
``talk.vtt``, the names media players look for subtitles under."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from kubescribe_protocol.atomic import write_text_atomic
from kubescribe_protocol.models import Segment
from kubescribe_protocol.names import output_path
from kubescribe_protocol.render import RENDERERS


def write_outputs(audio: Path, segments: list[Segment], formats: Iterable[str]) -> list[Path]:
    """Write each requested format beside ``audio`` (atomically); returns the paths."""
    written = []
    for fmt in dict.fromkeys(formats):  # each once, in the order asked
        target = output_path(audio, fmt)
        write_text_atomic(target, RENDERERS[fmt](segments))
        written.append(target)
    return written

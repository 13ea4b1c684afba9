"""Extra transcript files beside the audio (``settings.output_formats``), never written
over a file kubescribe did not write.

Names, first free one wins (``talk.mp3``, ``srt``):

1. ``talk.srt``, the name media players look for, unless another media file in the
   folder has the stem ``talk`` (``talk.wav``): then neither takes it;
2. ``talk.mp3.srt``, the audio's full name: two audio files can never share it;
3. ``talk.mp3 (2).srt``, ``talk.mp3 (3).srt``, ... when a person's file has that name.

A name is free when no file has it, or when the file there is kubescribe's: a ``.result``
of this audio (``talk.mp3.result`` or one kept as history, ``talk.mp3.result.replaced-*``)
lists it under ``outputs`` with the sha256 it still has. A file a person wrote, or one of
ours a person edited since, is never replaced. New files are created with ``link()``,
which fails rather than replace a file that appeared meanwhile.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path

from kubescribe_protocol.atomic import (
    TEMP_PREFIX,
    StatusFileError,
    fsync_dir,
    read_model,
    write_text_atomic,
)
from kubescribe_protocol.models import OutputFile, Result, Segment
from kubescribe_protocol.names import (
    RESULT_HISTORY_INFIX,
    RESULT_SUFFIX,
    is_media_name,
    output_path,
)
from kubescribe_protocol.render import RENDERERS
from kubescribe_protocol.subtitles import SubtitleLayout

#: Numbered names tried after the audio's full name before giving up on a format.
MAX_NUMBERED = 20


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _stem_shared(audio: Path) -> bool:
    stem = audio.stem.lower()
    with contextlib.suppress(OSError):
        for path in audio.parent.iterdir():
            name = path.name
            if name != audio.name and is_media_name(name) and path.stem.lower() == stem:
                return True
    return False


def _candidates(audio: Path, fmt: str, stem_shared: bool) -> Iterator[Path]:
    if not stem_shared:
        yield output_path(audio, fmt)
    yield audio.with_name(f"{audio.name}.{fmt}")
    for number in range(2, MAX_NUMBERED + 2):
        yield audio.with_name(f"{audio.name} ({number}).{fmt}")


def ours(audio: Path) -> dict[str, set[str]]:
    """The outputs this audio's results (current and kept as history) say kubescribe
    wrote: sha256 values by file name."""
    recorded: dict[str, set[str]] = {}
    prefix = f"{audio.name}{RESULT_SUFFIX}"
    with contextlib.suppress(OSError):
        for path in audio.parent.iterdir():
            if path.name != prefix and not path.name.startswith(f"{prefix}{RESULT_HISTORY_INFIX}"):
                continue
            try:
                result = read_model(path, Result)
            except StatusFileError:
                continue
            for output in result.outputs if result is not None else []:
                recorded.setdefault(output.name, set()).add(output.sha256)
    return recorded


def _is_ours(target: Path, recorded: dict[str, set[str]]) -> bool:
    hashes = recorded.get(target.name)
    if not hashes:
        return False
    try:
        return target.is_file() and _sha256(target.read_bytes()) in hashes
    except OSError:
        return False


def _create(target: Path, data: bytes) -> bool:
    """Write a new file at ``target``; False (nothing written) when the name is taken."""
    tmp = target.with_name(f"{TEMP_PREFIX}{target.name}.{secrets.token_hex(4)}")
    try:
        with tmp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.link(tmp, target)  # never replaces an existing file
    except FileExistsError:
        return False
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    fsync_dir(target.parent)
    return True


def write_outputs(
    audio: Path,
    segments: list[Segment],
    formats: Iterable[str],
    layout: SubtitleLayout | None = None,
) -> list[OutputFile]:
    """Write each requested format beside ``audio``; what was written (for ``.result``).
    A format with no free name is left out (the transcript is in ``.result`` anyway)."""
    recorded = ours(audio)
    shared = _stem_shared(audio)
    written = []
    for fmt in dict.fromkeys(formats):  # each once, in the order asked
        text = RENDERERS[fmt](segments, layout)
        data = text.encode("utf-8")
        for target in _candidates(audio, fmt, shared):
            if target.exists() or target.is_symlink():
                if not _is_ours(target, recorded):
                    continue
                write_text_atomic(target, text)
            elif not _create(target, data):
                continue
            written.append(OutputFile(format=fmt, name=target.name, sha256=_sha256(data)))
            break
    return written

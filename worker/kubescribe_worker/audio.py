"""Classify and decode the input with ffprobe and ffmpeg, before any model loads.

An input that can never work fails fast with its own code, so the controller sends it
to ``manual/`` at once and no model time is spent on it:

- ``file_missing``: the audio is not there;
- ``empty_file``: zero bytes, or an audio stream that holds no samples;
- ``not_audio``: ffprobe cannot read it and it does not start like any audio or video
  container (a text file named ``.mp3``);
- ``undecodable``: it starts like a media file but ffprobe cannot read it, or ffmpeg
  decodes not one sample of it;
- ``no_audio_stream``: a media file without audio (a silent video).

A file that decodes in part (a truncated mp3) is transcribed as far as it decodes: that
is what a person would want from a cut-off recording. ffmpeg's complaint is logged.
"""

from __future__ import annotations

import json
import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kubescribe_protocol.codes import ErrorCode

from .errors import WorkerError

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000

#: How media files begin (offset, bytes): a failed probe of such a file is a broken
#: media file (undecodable), of anything else a file that is not media (not_audio).
_MEDIA_SIGNATURES: tuple[tuple[int, bytes], ...] = (
    (0, b"ID3"),  # mp3 with an ID3v2 tag
    (0, b"RIFF"),  # wav, avi
    (0, b"OggS"),  # ogg, opus
    (0, b"fLaC"),
    (0, b"FORM"),  # aiff
    (0, b"#!AMR"),
    (0, b"MAC "),  # ape
    (0, b".snd"),  # au
    (0, b"wvpk"),
    (0, b"\x1a\x45\xdf\xa3"),  # Matroska, WebM
    (0, b"\x30\x26\xb2\x75"),  # ASF: wma, wmv
    (0, b"FLV"),
    (4, b"ftyp"),  # mp4, m4a, mov, 3gp
    (0, b"\x00\x00\x01\xba"),  # MPEG program stream
)


def _looks_like_media(head: bytes) -> bool:
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return True  # an MPEG audio frame sync (mp3 without tags) or ADTS aac
    return any(head[offset : offset + len(magic)] == magic for offset, magic in _MEDIA_SIGNATURES)


@dataclass(frozen=True)
class DecodedAudio:
    samples: np.ndarray  # float32, mono, 16 kHz
    #: ffmpeg's complaints, when it decoded the file only in part.
    warnings: str = ""

    @property
    def duration(self) -> float:
        return float(self.samples.shape[0]) / SAMPLE_RATE


def _tail(text: str, lines: int = 5) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def probe(path: Path) -> None:
    """Raise :class:`WorkerError` for an input that can never work."""
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise WorkerError(ErrorCode.FILE_MISSING, f"{path.name} does not exist") from exc
    if size == 0:
        raise WorkerError(ErrorCode.EMPTY_FILE, f"{path.name} is empty (0 bytes)")
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_type", "-of", "json",
         "--", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    if done.returncode != 0:
        with path.open("rb") as handle:
            head = handle.read(16)
        if _looks_like_media(head):
            raise WorkerError(
                ErrorCode.UNDECODABLE,
                f"{path.name} looks like a media file but cannot be read",
                _tail(done.stderr),
            )
        raise WorkerError(
            ErrorCode.NOT_AUDIO, f"{path.name} is not an audio or video file", _tail(done.stderr)
        )
    streams = json.loads(done.stdout or "{}").get("streams", [])
    kinds = [stream.get("codec_type") for stream in streams]
    if "audio" not in kinds:
        raise WorkerError(
            ErrorCode.NO_AUDIO_STREAM,
            f"{path.name} has no audio stream",
            f"streams found: {', '.join(str(kind) for kind in kinds) or 'none'}",
        )


def decode(path: Path) -> DecodedAudio:
    """The first audio stream of ``path`` as 16 kHz mono float32 (as WhisperX decodes)."""
    done = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-threads", "0", "-i", str(path),
         "-map", "0:a:0", "-f", "s16le", "-ac", "1", "-acodec", "pcm_s16le",
         "-ar", str(SAMPLE_RATE), "-"],
        capture_output=True,
        check=False,
    )  # fmt: skip
    complaints = done.stderr.decode("utf-8", "replace")
    samples = np.frombuffer(done.stdout, np.int16).astype(np.float32) / 32768.0
    if samples.size == 0:
        if done.returncode != 0 or complaints.strip():
            raise WorkerError(
                ErrorCode.UNDECODABLE,
                f"no audio of {path.name} could be decoded",
                _tail(complaints),
            )
        raise WorkerError(ErrorCode.EMPTY_FILE, f"{path.name} holds no audio samples")
    if done.returncode != 0 or complaints.strip():
        log.warning("%s decoded only in part (%.1f s): %s", path.name, samples.size / SAMPLE_RATE,
                    _tail(complaints))  # fmt: skip
    return DecodedAudio(samples, _tail(complaints))


def load(path: Path) -> DecodedAudio:
    probe(path)
    return decode(path)

"""Classify and decode the input in-process with PyAV (FFmpeg's libraries), before any
model loads.

An input that can never work fails fast with its own code, so the controller sends it
to ``manual/`` at once and no model time is spent on it:

- ``file_missing``: the audio is not there;
- ``empty_file``: zero bytes, or an audio stream that holds no samples;
- ``not_audio``: FFmpeg cannot open it and it does not start like any audio or video
  container (a text file named ``.mp3``);
- ``undecodable``: it starts like a media file but FFmpeg cannot open it, or not one
  sample of it decodes;
- ``no_audio_stream``: a media file without audio (a silent video).

A file that decodes in part (a truncated mp3) is transcribed as far as it decodes: that
is what a person would want from a cut-off recording. The errors are logged.

Decoding in-process rather than with the ``ffmpeg`` command: a worker that forks shows
its own command line in the child until the child execs, which under load took long
enough for the local executor's process listing to see two workers of one file.
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import av
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
    #: The decoder's complaints, when it decoded the file only in part.
    warnings: str = ""

    @property
    def duration(self) -> float:
        return float(self.samples.shape[0]) / SAMPLE_RATE


def check_readable(path: Path, mode: int) -> None:
    """Refuse audio that is not a regular file (opening a FIFO would block) and audio whose
    permissions keep kubescribe from reading it, each with its own code."""
    if not stat.S_ISREG(mode):
        raise WorkerError(
            ErrorCode.NOT_REGULAR_FILE,
            f"{path.name} is not a regular file (a FIFO, a device, a socket or a folder)",
            f"mode {stat.filemode(mode)}",
        )
    try:
        os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
    except PermissionError as exc:
        raise WorkerError(
            ErrorCode.AUDIO_UNREADABLE,
            f"{path.name} cannot be read (permission denied): give the user kubescribe "
            f"runs as (uid {os.geteuid()}, gid {os.getegid()}) read access to it and "
            "search access to its folders, e.g. chmod a+r; it is retried with a backoff",
            f"{type(exc).__name__}: {exc}; mode {stat.filemode(mode)}",
        ) from exc


def probe(path: Path) -> None:
    """Raise :class:`WorkerError` for an input that can never work."""
    try:
        info = path.stat()
    except FileNotFoundError as exc:
        raise WorkerError(ErrorCode.FILE_MISSING, f"{path.name} does not exist") from exc
    check_readable(path, info.st_mode)
    size = info.st_size
    if size == 0:
        raise WorkerError(ErrorCode.EMPTY_FILE, f"{path.name} is empty (0 bytes)")
    try:
        with av.open(str(path), metadata_errors="ignore") as container:
            kinds = [stream.type for stream in container.streams]
    except av.error.FFmpegError as exc:
        with path.open("rb") as handle:
            head = handle.read(16)
        if _looks_like_media(head):
            raise WorkerError(
                ErrorCode.UNDECODABLE,
                f"{path.name} looks like a media file but cannot be read",
                str(exc),
            ) from exc
        raise WorkerError(
            ErrorCode.NOT_AUDIO, f"{path.name} is not an audio or video file", str(exc)
        ) from exc
    if "audio" not in kinds:
        raise WorkerError(
            ErrorCode.NO_AUDIO_STREAM,
            f"{path.name} has no audio stream",
            f"streams found: {', '.join(kinds) or 'none'}",
        )


def decode(path: Path) -> DecodedAudio:
    """The first audio stream of ``path`` as 16 kHz mono float32 (as WhisperX decodes),
    skipping what does not decode."""
    resampler = av.audio.resampler.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
    pieces: list[np.ndarray] = []
    errors: list[str] = []

    def keep(frames: list[av.AudioFrame]) -> None:
        pieces.extend(frame.to_ndarray().reshape(-1) for frame in frames)

    with av.open(str(path), metadata_errors="ignore") as container:
        stream = container.streams.audio[0]
        try:
            for packet in container.demux(stream):
                try:
                    for frame in packet.decode():
                        keep(resampler.resample(frame))
                except av.error.FFmpegError as exc:  # a bad frame: skip it, go on
                    errors.append(str(exc))
        except av.error.FFmpegError as exc:  # the container itself breaks off
            errors.append(str(exc))
        keep(resampler.resample(None))
    samples = (
        np.concatenate(pieces).astype(np.float32) / 32768.0 if pieces else np.zeros(0, np.float32)
    )
    complaints = "\n".join(errors[-5:])
    if samples.size == 0:
        if errors:
            raise WorkerError(
                ErrorCode.UNDECODABLE, f"no audio of {path.name} could be decoded", complaints
            )
        raise WorkerError(ErrorCode.EMPTY_FILE, f"{path.name} holds no audio samples")
    if errors:
        log.warning("%s decoded only in part (%.1f s; %d errors): %s", path.name,
                    samples.size / SAMPLE_RATE, len(errors), complaints)  # fmt: skip
    return DecodedAudio(samples, complaints)


def load(path: Path) -> DecodedAudio:
    probe(path)
    return decode(path)

"""Storing an uploaded file on the volume, safely.

- the client's file name is checked, not trusted: no folders, no ``..``, no hidden or
  temporary names, a media extension;
- the body is streamed to a hidden temporary file (scans skip hidden names) and cut off
  past ``max_upload_mb``;
- its first bytes must look like media (a known container signature) and, where ffprobe
  is installed, ffprobe must find an audio stream;
- it is published with ``link()``, which never replaces a file: a name already taken
  gets `` (2)``, `` (3)`` ... as in ``manual/``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Protocol

from kubescribe_protocol.names import (
    MEDIA_EXTENSIONS,
    in_progress_path,
    is_hidden_or_temporary,
    result_path,
)

from ..volume.file_actions import ActionError, check_rel
from ..volume.paths import MAX_NAME_BYTES

CHUNK = 1 << 20
#: Longest file name kept from a client.
MAX_NAME_CHARS = 200
_UNSAFE = re.compile(r"[^\w .()+,=@-]", re.UNICODE)


class Readable(Protocol):
    async def read(self, size: int = -1) -> bytes: ...


def safe_upload_name(name: str | None) -> str:
    """The client's file name if it is a plain, visible media file name; else 400."""
    if not name:
        raise ActionError(400, "invalid_filename", "the upload has no file name")
    if "/" in name or "\\" in name or "\0" in name or ".." in name:
        raise ActionError(400, "path_traversal", "a file name, not a path, please")
    if is_hidden_or_temporary(name):
        raise ActionError(400, "hidden_name", "hidden and temporary names are not taken")
    if len(name) > MAX_NAME_CHARS:
        raise ActionError(400, "invalid_filename", f"names up to {MAX_NAME_CHARS} characters")
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise ActionError(400, "name_too_long", f"names up to {MAX_NAME_BYTES} bytes in UTF-8")
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in MEDIA_EXTENSIONS:
        raise ActionError(415, "unsupported_extension", f"not a media extension: {suffix!r}")
    cleaned = _UNSAFE.sub("_", name).strip()
    if not cleaned or cleaned.startswith((".", "~")):
        raise ActionError(400, "invalid_filename", "the file name has nothing usable")
    return cleaned


def looks_like_media(head: bytes) -> bool:
    """Whether the first bytes carry a signature of a container ffmpeg reads."""
    signatures = (
        b"RIFF", b"ID3", b"fLaC", b"OggS", b"FORM", b"#!AMR", b".snd", b"MAC ", b"wvpk",
        b"\x1a\x45\xdf\xa3",  # Matroska / WebM
        b"\x30\x26\xb2\x75\x8e\x66\xcf\x11",  # ASF (wma, wmv)
        b"FLV", b"caff",
    )  # fmt: skip
    if head.startswith(signatures):
        return True
    if len(head) >= 12 and head[4:8] in (b"ftyp", b"moov", b"mdat", b"wide", b"free"):
        return True  # MP4, M4A, MOV, 3GP
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return True  # an MPEG audio or ADTS frame
    # MPEG program or transport streams.
    return head.startswith(b"\x00\x00\x01\xba") or (len(head) > 188 and head[0] == 0x47)


def has_audio_stream(path: Path) -> bool | None:
    """ffprobe's answer, or None when ffprobe is not installed (the operator image)."""
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        return None
    try:
        done = subprocess.run(
            [ffprobe, "-v", "error", "-show_entries", "stream=codec_type", "-of", "json",
             str(path)],
            capture_output=True, timeout=30, check=False,
        )  # fmt: skip
        streams = json.loads(done.stdout or b"{}").get("streams") or []
    except (subprocess.TimeoutExpired, ValueError):
        return False
    return any(stream.get("codec_type") == "audio" for stream in streams)


def upload_folder(root: Path, upload_dir: str) -> tuple[Path, str]:
    """Today's folder under the upload folder (created), and its path relative to root."""
    base = check_folder(upload_dir)
    rel_folder = f"{base}/{datetime.now(UTC):%Y-%m-%d}"
    folder = root / rel_folder
    folder.mkdir(parents=True, exist_ok=True)
    real_root = os.path.realpath(root)
    if not os.path.realpath(folder).startswith(real_root + os.sep):
        raise ActionError(500, "upload_dir_outside_root", "the upload folder leaves the root")
    return folder, rel_folder


def check_folder(upload_dir: str) -> str:
    probe = check_rel(f"{upload_dir.strip('/')}/x.wav")
    return probe.rsplit("/", 1)[0]


async def store_upload(
    source: Readable, name: str | None, *, root: Path, upload_dir: str, max_bytes: int
) -> str:
    """Save the upload under ``root/upload_dir/DATE/``; returns its relative path."""
    clean = safe_upload_name(name)
    folder, rel_folder = upload_folder(root, upload_dir)
    temp = folder / f".kubescribe-upload-{secrets.token_hex(8)}"
    try:
        size = 0
        head = b""
        with temp.open("xb") as handle:
            while chunk := await source.read(CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise ActionError(413, "too_large", f"uploads are limited to {max_bytes} bytes")
                if len(head) < 512:
                    head += chunk[: 512 - len(head)]
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        if size == 0:
            raise ActionError(400, "empty_file", "the upload is empty")
        if not looks_like_media(head) or has_audio_stream(temp) is False:
            raise ActionError(415, "not_audio", "the upload is not audio or video with audio")
        return _publish(temp, folder, rel_folder, clean)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


def _publish(temp: Path, folder: Path, rel_folder: str, name: str) -> str:
    pure = PurePosixPath(name)
    candidate, number = name, 2
    while True:
        target = folder / candidate
        try:
            # Status files left by an earlier file of this name would be taken for its.
            if in_progress_path(target).exists() or result_path(target).exists():
                raise FileExistsError(target)
            os.link(temp, target)  # never replaces an existing file
        except FileExistsError:
            candidate = f"{pure.stem} ({number}){pure.suffix}"
            number += 1
            continue
        return f"{rel_folder}/{candidate}"

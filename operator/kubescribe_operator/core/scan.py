"""One fast pass over the watched root: which media files exist and which status files sit
beside them.

Speed matters (a share may hold 100,000 files and is scanned every few seconds), so the
scan classifies by names within one directory listing: an audio file and its
``.in_progress`` / ``.result`` are siblings. It stats only what the controller needs:
the ``.in_progress`` (its mtime says whether to re-read it) and audio that has neither
status file (its size and mtime say whether it is still being written). Completed files
cost one name lookup and nothing else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kubescribe_protocol.atomic import TEMP_PREFIX
from kubescribe_protocol.names import (
    IN_PROGRESS_SUFFIX,
    MANUAL_DIR,
    MEDIA_EXTENSIONS,
    RESULT_SUFFIX,
)


@dataclass(slots=True)
class Seen:
    """One media file found by a scan."""

    rel: str
    has_result: bool
    #: mtime (ns) of the ``.in_progress`` beside it, None when there is none.
    in_progress_mtime_ns: int | None
    #: Size and mtime of the audio; only for files with no status file, and completed
    #: ones when asked (else None).
    size: int | None = None
    mtime_ns: int | None = None


@dataclass(slots=True)
class ScanResult:
    files: list[Seen]
    #: ``.in_progress`` files whose audio is not beside them (a half-done manual move,
    #: or audio someone deleted), by the audio's relative path.
    orphan_in_progress: list[str]
    #: Temporary files of atomic writes (absolute paths): a writer killed mid-write
    #: leaves one behind.
    temporary: list[str]
    #: Folders that could not be listed (relative, ending in ``/``; the root is ``""``),
    #: with why: what is under them is unknown this time, not gone.
    unlisted: dict[str, OSError]


def _is_media(name: str) -> bool:
    # names.is_media_name, without a PurePosixPath per file: half the scan's time.
    stem, dot, extension = name.rpartition(".")
    return bool(dot and stem) and f".{extension.lower()}" in MEDIA_EXTENSIONS


def _inside(real_root: str, target: str) -> bool:
    return target == real_root or target.startswith(real_root + os.sep)


def scan(
    root: Path, *, skip_manual: bool = True, prefix: str = "", stat_completed: bool = False
) -> ScanResult:
    """Every media file under ``root`` (relative paths with ``/``), skipping ``manual/``
    (unless ``skip_manual`` is False), hidden and temporary names, symlinked folders, and
    symlinked files that lead out of the root. ``stat_completed``: the size and mtime of
    completed files' audio too (a stat each: the controller asks once a minute)."""
    real_root = os.path.realpath(root)
    files: list[Seen] = []
    orphans: list[str] = []
    temporary: list[str] = []
    unlisted: dict[str, OSError] = {}
    stack: list[tuple[str, str]] = [(str(root), prefix)]
    while stack:
        folder, rel_folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as exc:  # no permission, out of file descriptors, an I/O error
            unlisted[rel_folder] = exc
            continue
        names = {entry.name for entry in entries}
        for entry in entries:
            name = entry.name
            if name.startswith(".") or name.startswith("~"):
                if name.startswith(TEMP_PREFIX):
                    temporary.append(entry.path)
                continue
            rel = f"{rel_folder}{name}"
            if entry.is_dir(follow_symlinks=False):
                if skip_manual and not rel_folder and name == MANUAL_DIR:
                    continue
                stack.append((entry.path, f"{rel}/"))
                continue
            if name.endswith(IN_PROGRESS_SUFFIX):
                audio_name = name[: -len(IN_PROGRESS_SUFFIX)]
                if audio_name not in names and _is_media(audio_name):
                    orphans.append(f"{rel_folder}{audio_name}")
                continue
            # Temporary names (names.is_hidden_or_temporary: "x.part", "x~", ".x") never
            # end in a media extension or were skipped above as hidden.
            if name.endswith(RESULT_SUFFIX) or not _is_media(name):
                continue
            if entry.is_symlink():
                # A folder symlink could loop or show a file twice; a file symlink is
                # taken only when it stays inside the root.
                target = os.path.realpath(entry.path)
                if not _inside(real_root, target) or not os.path.isfile(target):  # noqa: PTH113
                    continue
            elif not entry.is_file(follow_symlinks=False):
                continue
            has_result = f"{name}{RESULT_SUFFIX}" in names
            ip_name = f"{name}{IN_PROGRESS_SUFFIX}"
            ip_mtime: int | None = None
            if ip_name in names:
                try:
                    # os.stat on a joined str: a Path per file costs time over 100k files
                    ip_mtime = os.stat(f"{folder}/{ip_name}").st_mtime_ns  # noqa: PTH116
                except FileNotFoundError:
                    ip_mtime = None
                except OSError as exc:  # the file is there but cannot be looked at now
                    unlisted[rel] = exc
                    continue
            seen = Seen(rel=rel, has_result=has_result, in_progress_mtime_ns=ip_mtime)
            if (not has_result and ip_mtime is None) or (has_result and stat_completed):
                try:
                    stat = entry.stat()
                except FileNotFoundError:
                    continue
                except OSError as exc:
                    unlisted[rel] = exc
                    continue
                seen.size, seen.mtime_ns = stat.st_size, stat.st_mtime_ns
            files.append(seen)
    return ScanResult(
        files=files, orphan_in_progress=orphans, temporary=temporary, unlisted=unlisted
    )

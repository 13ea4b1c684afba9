"""Names on the shared volume: which files are audio, and what their status files are called.

A status file is the audio file's full name plus a suffix (``talk.mp3.in_progress``),
as the user's spec does it, so ``talk.mp3`` and ``talk.wav`` never share status files.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

IN_PROGRESS_SUFFIX = ".in_progress"
RESULT_SUFFIX = ".result"
#: A ``.result`` kept as history when its audio changed: ``talk.mp3.result.replaced-<UTC>``.
RESULT_HISTORY_INFIX = ".replaced-"
STATUS_SUFFIXES = (IN_PROGRESS_SUFFIX, RESULT_SUFFIX)

#: Folder under the root where files go that need a person. Never scanned.
MANUAL_DIR = "manual"

#: Extensions we take. ffmpeg decodes all of them; video files are taken for their audio track.
AUDIO_EXTENSIONS = frozenset(
    {
        ".aac", ".aif", ".aiff", ".amr", ".ape", ".au", ".flac", ".m4a", ".m4b", ".mka",
        ".mp2", ".mp3", ".mpga", ".oga", ".ogg", ".opus", ".spx", ".wav", ".weba", ".wma",
    }
)  # fmt: skip
VIDEO_EXTENSIONS = frozenset(
    {".3gp", ".avi", ".flv", ".m4v", ".mkv", ".mov", ".mp4", ".mpeg", ".mpg", ".ts", ".webm",
     ".wmv"}
)  # fmt: skip
MEDIA_EXTENSIONS = AUDIO_EXTENSIONS | VIDEO_EXTENSIONS

#: Extra transcript outputs, named the way media players look for subtitles: ``talk.srt``
#: beside ``talk.mp3``.
OUTPUT_FORMATS = ("txt", "srt", "vtt")


def in_progress_path(audio: Path) -> Path:
    return audio.with_name(audio.name + IN_PROGRESS_SUFFIX)


def result_path(audio: Path) -> Path:
    return audio.with_name(audio.name + RESULT_SUFFIX)


def output_path(audio: Path, fmt: str) -> Path:
    """Where an extra transcript output of ``audio`` goes (``talk.mp3`` -> ``talk.srt``)."""
    return audio.with_name(f"{audio.stem}.{fmt}")


def is_media_name(name: str) -> bool:
    """Whether a file name has one of the extensions we take (case-insensitive)."""
    return PurePosixPath(name).suffix.lower() in MEDIA_EXTENSIONS


def is_hidden_or_temporary(name: str) -> bool:
    """Names that belong to someone's write in progress: dotfiles, editor and download temps."""
    lowered = name.lower()
    return (
        name.startswith((".", "~"))
        or name.endswith("~")
        or lowered.endswith((".part", ".partial", ".tmp", ".crdownload", ".download", ".swp"))
    )


def relative_key(root: Path, audio: Path) -> str:
    """The file's path relative to the root, with forward slashes: its identity everywhere."""
    return audio.relative_to(root).as_posix()

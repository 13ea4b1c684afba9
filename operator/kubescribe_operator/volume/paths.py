"""What makes a path that a client names acceptable: one set of rules for the HTTP API,
the ``kubescribe result|retry|cancel`` commands and a Transcription's ``spec.path``.

:func:`path_problems` finds every rule a path breaks; each caller says so in its own
words (an HTTP error code, a Transcription's status message), in its own order.
"""

from __future__ import annotations

from enum import StrEnum

from kubescribe_protocol.names import MANUAL_DIR, is_hidden_or_temporary, is_media_name

#: Longest relative path a client may name.
MAX_PATH_CHARS = 1024
#: Longest name of one part of a path, in UTF-8 bytes: file systems allow 255, and the
#: status files and their temporary files add up to 37 (``.kubescribe-tmp-``, ``.in_progress``,
#: ``.XXXXXXXX``) and a ``(N)`` that keeps an upload from replacing a file.
MAX_NAME_BYTES = 200


class PathProblem(StrEnum):
    #: Empty, too long, or holding a NUL or a backslash.
    MALFORMED = "malformed"
    #: Absolute, where a path relative to the root is wanted.
    ABSOLUTE = "absolute"
    #: An empty, ``.`` or ``..`` part (``//``, ``./``, ``../``).
    TRAVERSAL = "traversal"
    #: A dotfile or a temporary name in any part: someone's write in progress.
    HIDDEN = "hidden"
    #: Under ``manual/``: waiting for a person.
    MANUAL = "manual"
    #: Not an audio or video extension.
    EXTENSION = "extension"
    #: A part longer than :data:`MAX_NAME_BYTES`.
    NAME_TOO_LONG = "name_too_long"


def path_problems(rel: str) -> set[PathProblem]:
    """Every rule ``rel`` (relative, POSIX) breaks; empty when it names a file a client
    may ask for (whether it exists is not looked at)."""
    problems: set[PathProblem] = set()
    if not rel or len(rel) > MAX_PATH_CHARS or "\0" in rel or "\\" in rel:
        problems.add(PathProblem.MALFORMED)
    if rel.startswith("/"):
        problems.add(PathProblem.ABSOLUTE)
    parts = rel.split("/")
    if any(part in ("", ".", "..") for part in parts):
        problems.add(PathProblem.TRAVERSAL)
    if any(is_hidden_or_temporary(part) for part in parts):
        problems.add(PathProblem.HIDDEN)
    if parts[0] == MANUAL_DIR:
        problems.add(PathProblem.MANUAL)
    if any(len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES for part in parts):
        problems.add(PathProblem.NAME_TOO_LONG)
    if not is_media_name(parts[-1]):
        problems.add(PathProblem.EXTENSION)
    return problems

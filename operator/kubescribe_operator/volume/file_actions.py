"""What a client may do to one file, straight on the volume: find it, read its result,
cancel it, take it back out of ``manual/``.

The HTTP API and the ``kubescribe result|retry|cancel`` commands share these; they import
nothing heavy and need no running controller. A running controller picks up what they
write on its next tick (the API calls them under the controller's lock).
"""

from __future__ import annotations

import base64
import binascii
import errno
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from kubescribe_protocol.additions import add_earlier_run, set_manual_path
from kubescribe_protocol.atomic import StatusFileError, read_model, write_model
from kubescribe_protocol.manual import _move_no_overwrite, read_manual_status
from kubescribe_protocol.models import FileStatus, InProgress, Priority, Result, utc_now
from kubescribe_protocol.names import MANUAL_DIR, in_progress_path, result_path
from kubescribe_protocol.render import RENDERERS
from kubescribe_protocol.state import FileState, file_state
from kubescribe_protocol.subtitles import SubtitleLayout

from ..core.cancel import write_cancel
from .paths import MAX_NAME_BYTES, MAX_PATH_CHARS, PathProblem, path_problems

log = logging.getLogger("kubescribe.volume")


class ActionError(Exception):
    """A request about a file that cannot be done; ``code`` is a stable machine name and
    ``status`` the HTTP status the API answers with (the CLI exits non-zero)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


# ------------------------------------------------------------------------ identities


def transcription_id(rel: str) -> str:
    """A stable id of the file at ``rel``: URL-safe base64 of the path, no padding. It
    needs no lookup table, so it works after a restart and for files in ``manual/``."""
    return base64.urlsafe_b64encode(rel.encode("utf-8")).rstrip(b"=").decode("ascii")


def rel_from_id(file_id: str) -> str:
    """The relative path an id names (a checked, safe path) or :class:`ActionError` 404."""
    padded = file_id + "=" * (-len(file_id) % 4)
    try:
        if not file_id or len(file_id) > 2 * MAX_PATH_CHARS:
            raise ValueError(file_id)
        rel = base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
        return check_rel(rel, allow_manual=True)
    except (ValueError, UnicodeError, binascii.Error) as exc:
        raise ActionError(404, "unknown_id", "no transcription has this id") from exc
    except ActionError as exc:
        raise ActionError(404, "unknown_id", "no transcription has this id") from exc


def check_rel(rel: str, *, allow_manual: bool = False) -> str:
    """``rel`` as a clean relative POSIX path under the root, or :class:`ActionError` 400:
    no absolute paths, no ``..``, no hidden or temporary names, a media extension
    (the rules of :mod:`.paths`)."""
    problems = path_problems(rel)
    if PathProblem.MALFORMED in problems:
        raise ActionError(400, "invalid_path", "a relative path of 1 to 1024 characters")
    if PathProblem.ABSOLUTE in problems:
        raise ActionError(400, "invalid_path", "the path must be relative to the root")
    if PathProblem.TRAVERSAL in problems:
        raise ActionError(400, "path_traversal", "the path must not contain '.', '..' or '//'")
    if PathProblem.NAME_TOO_LONG in problems:
        raise ActionError(400, "name_too_long", f"each part of the path: at most "
                          f"{MAX_NAME_BYTES} bytes in UTF-8")  # fmt: skip
    if PathProblem.HIDDEN in problems:
        raise ActionError(400, "hidden_name", "hidden and temporary names are not taken")
    if PathProblem.MANUAL in problems and not allow_manual:
        raise ActionError(400, "manual_path", "files in manual/ are taken back with retry")
    if PathProblem.EXTENSION in problems:
        suffix = PurePosixPath(rel).suffix
        raise ActionError(400, "unsupported_extension", f"not a media extension: {suffix!r}")
    return PurePosixPath(rel).as_posix()


def check_no_symlink(root: Path, rel: str) -> None:
    """:class:`ActionError` 400 when any part of ``rel`` under ``root`` is a symlink: a
    client must not reach, through a link, a file it could not name."""
    current = root
    for part in rel.split("/"):
        current = current / part
        try:
            mode = os.lstat(current).st_mode
        except (FileNotFoundError, NotADirectoryError):
            return
        except OSError as exc:
            if exc.errno == errno.ENAMETOOLONG:
                raise ActionError(400, "name_too_long", "the path is too long for the "
                                  "volume") from exc  # fmt: skip
            raise
        if stat.S_ISLNK(mode):
            raise ActionError(400, "symlink", "symbolic links are not followed")


def check_status_files(root: Path, rel: str) -> None:
    """:class:`ActionError` 409 when a status file of ``rel`` (beside it or in
    ``manual/``) is a symbolic link or not a regular file: what it points at may be
    outside the root, and is never read for a client."""
    for audio in (root / rel, root / MANUAL_DIR / rel):
        for status in (result_path(audio), in_progress_path(audio)):
            try:
                mode = os.lstat(status).st_mode
            except (FileNotFoundError, NotADirectoryError):
                continue
            if not stat.S_ISREG(mode):
                log.warning("%s is a symbolic link or not a regular file: not read", status)
                raise ActionError(409, "unsafe_status_file", f"a status file of {rel} is a "
                                  "symbolic link or not a regular file; see the log")  # fmt: skip


# --------------------------------------------------------------------------- lookups


@dataclass
class Located:
    """Where a file is and what its status files say."""

    rel: str
    state: FileState
    #: The audio's relative path now: ``rel``, or its place under ``manual/``.
    where: str
    status: InProgress | None = None
    result: Result | None = None


def locate(root: Path, rel: str) -> Located:
    """The file's state and status files (its ``manual/`` copy when it went there)."""
    check_no_symlink(root, rel)
    check_status_files(root, rel)
    try:
        state = file_state(root, rel)
    except StatusFileError as exc:
        raise _unreadable(rel, exc) from exc
    if state is FileState.NOT_FOUND:
        raise ActionError(404, "not_found", f"no file {rel} under the root or in manual/")
    where = f"{MANUAL_DIR}/{rel}" if state is FileState.MANUAL else rel
    found = Located(rel, state, where)
    try:
        if state is FileState.COMPLETED:
            found.result = read_model(result_path(root / rel), Result)
        elif state is FileState.MANUAL:
            found.status = read_manual_status(root, rel)
        else:
            found.status = read_model(in_progress_path(root / where), InProgress)
    except StatusFileError as exc:
        raise _unreadable(rel, exc) from exc
    return found


def _unreadable(rel: str, exc: StatusFileError) -> ActionError:
    """The 409 of a status file that does not read: the details (its absolute path,
    parts of its content) go to the log, not to the client."""
    log.warning("a status file of %s cannot be read: %s", rel, exc)
    return ActionError(409, exc.code, f"a status file of {rel} cannot be read; "
                       "see the controller's log")  # fmt: skip


def render_result(result: Result, fmt: str) -> str:
    """The result as ``json`` (the ``.result`` file itself) or ``txt``/``srt``/``vtt``."""
    if fmt == "json":
        return result.model_dump_json(indent=2) + "\n"
    renderer = RENDERERS.get(fmt)
    if renderer is None:
        raise ActionError(400, "unsupported_format", f"format must be json, {', '.join(RENDERERS)}")
    return renderer(result.transcription.segments, SubtitleLayout.of(result.settings))


# --------------------------------------------------------------------------- actions


def cancel_on_volume(root: Path, rel: str) -> InProgress:
    """Set ``should_continue`` to false in the file's ``.in_progress`` (creating a queued
    one if it has none). A controller then stops a running attempt and moves the file to
    ``manual/`` (error ``cancelled``). Used without a controller at hand (the CLI); the
    API calls :meth:`Controller.cancel`, which also stops the runner at once."""
    found = locate(root, rel)
    if found.state in (FileState.COMPLETED, FileState.MANUAL):
        raise ActionError(409, "not_cancellable", f"{rel} is {found.state.value}")
    now = utc_now()
    return write_cancel(
        in_progress_path(root / rel),
        lambda: InProgress(
            filename=PurePosixPath(rel).name, path=rel, status=FileStatus.QUEUED, start_time=now
        ),
        now,
    )


def retry_from_manual(root: Path, rel: str, client_id: str | None = None) -> InProgress:
    """Take the file back out of ``manual/`` to its place under the root, queued with a
    fresh budget of attempts; the earlier attempts are kept under ``earlier_runs``.

    Order: the ``.in_progress`` is rewritten in ``manual/`` first, then the audio moves,
    then the ``.in_progress``; a crash in between leaves the audio pending under the root
    (found by the next scan) or still in ``manual/``, never lost, never overwriting.
    """
    manual_rel = f"{MANUAL_DIR}/{rel}"
    check_no_symlink(root, manual_rel)
    source = root / manual_rel
    if not source.is_file():
        raise ActionError(409, "not_in_manual", f"{rel} is not in {MANUAL_DIR}/")
    target = root / rel
    if target.exists() or target.is_symlink() or in_progress_path(target).exists():
        raise ActionError(409, "occupied", f"a file {rel} is already under the root")
    try:
        status = read_model(in_progress_path(source), InProgress)
    except StatusFileError as exc:
        raise ActionError(409, exc.code, str(exc)) from exc
    now = utc_now()
    if status is None:
        status = InProgress(filename=target.name, path=rel, start_time=now)
    set_manual_path(status, None)
    add_earlier_run(status, now)
    status.attempts = []
    status.attempt = 0  # a fresh run: its first attempt is 1 again, as attempts is empty
    status.error = None
    status.progress = None
    status.status = FileStatus.QUEUED
    status.should_continue = True
    status.path = rel
    status.start_time = now
    status.updated_at = now
    if client_id is not None:
        status.priority = Priority.API_REQUEST
        if client_id not in status.api_clients:
            status.api_clients.append(client_id)
    write_model(in_progress_path(source), status)
    _move_no_overwrite(source, target)
    _move_no_overwrite(in_progress_path(source), in_progress_path(target))
    return status

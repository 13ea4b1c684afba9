"""Moving a file to ``manual/``: crash-safe, keeping the relative path, never overwriting.

The move is a small journal: the ``.in_progress`` first records where the audio goes
(``manual_path``), then the audio moves, then the ``.in_progress`` follows it. A crash at
any point leaves an ``.in_progress`` that says how to finish, and
:func:`finish_manual_move` finishes it. The audio moves first so that a crash never
leaves the audio alone under the root, where it would look pending again.
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path, PurePosixPath

from .additions import manual_path, set_manual_path
from .atomic import StatusFileError, fsync_dir, read_model, write_model
from .models import InProgress
from .names import MANUAL_DIR, in_progress_path

_NO_HARD_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK}
#: The names choose_manual_target gives when the plain name is taken: "talk (2).mp3".
_NUMBERED = re.compile(r"^(?P<stem>.*) \((?P<number>[2-9]|[1-9][0-9]+)\)$")


class ManualPathError(ValueError):
    """A ``manual_path`` read from the volume that is not the file's own place under
    ``manual/``: anyone who can write the volume could otherwise send the audio anywhere
    the controller can write."""

    code = "invalid_manual_path"


def check_manual_target(rel: str, target: str) -> str:
    """``target`` (a ``manual_path`` read from the volume) when it is one that
    :func:`choose_manual_target` could have given ``rel``: ``manual/<rel>`` or its
    numbered form ``manual/<folder>/<stem> (N)<ext>``; else ManualPathError."""
    own = PurePosixPath(MANUAL_DIR) / rel
    given = PurePosixPath(target)
    expected = f"{own.as_posix()} or {own.parent / f'{own.stem} (N){own.suffix}'}"
    if given.is_absolute() or ".." in given.parts or "\\" in target or "\0" in target:
        raise ManualPathError(
            f"manual_path {target!r} of {rel} is absolute or has '..': it must be {expected}"
        )
    if given.as_posix() == own.as_posix():
        return own.as_posix()
    numbered = _NUMBERED.match(given.stem)
    if (
        numbered is not None
        and given.parent == own.parent
        and given.suffix == own.suffix
        and numbered["stem"] == own.stem
    ):
        return given.as_posix()
    raise ManualPathError(
        f"manual_path {target!r} of {rel} is not its place: it must be {expected}"
    )


def choose_manual_target(root: Path, rel: str) -> str:
    """A path under ``manual/`` for ``rel`` that holds nothing yet: the same relative path,
    or, when a file of that name already waits there, ``name (2).ext`` and so on."""
    pure = PurePosixPath(rel)
    candidate = PurePosixPath(MANUAL_DIR) / pure
    number = 2
    while (root / candidate).exists() or in_progress_path(root / candidate).exists():
        candidate = PurePosixPath(MANUAL_DIR) / pure.with_name(
            f"{pure.stem} ({number}){pure.suffix}"
        )
        number += 1
    return candidate.as_posix()


def _move_no_overwrite(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        # link() refuses to replace an existing file, which rename() would do silently.
        os.link(src, dst)
    except FileExistsError:
        if not src.samefile(dst):
            raise
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        if dst.exists():
            raise FileExistsError(errno.EEXIST, "target exists", str(dst)) from exc
        src.rename(dst)
        fsync_dir(dst.parent)
        fsync_dir(src.parent)
        return
    fsync_dir(dst.parent)
    src.unlink()
    fsync_dir(src.parent)


def move_to_manual(root: Path, rel: str, status: InProgress) -> str:
    """Send the file at ``rel`` and its ``.in_progress`` (``status``, written with its error
    and full history) to ``manual/``. Returns the new relative path of the audio."""
    target = manual_path(status)
    if target is not None:
        try:
            target = check_manual_target(rel, target)
        except ManualPathError:
            target = None  # not ours to follow: the move goes where we choose
    target = target or choose_manual_target(root, rel)
    set_manual_path(status, target)
    write_model(in_progress_path(root / rel), status)
    finish_manual_move(root, rel, target)
    return target


def read_manual_status(root: Path, rel: str) -> InProgress | None:
    """The ``.in_progress`` of the file that went from ``rel`` to ``manual/rel``.

    While a move is under way the audio is in ``manual/`` already (so the file's state is
    manual) but its ``.in_progress`` may not have followed yet: it is then still at the
    original place, naming this target in ``manual_path``.
    """
    target = f"{MANUAL_DIR}/{rel}"
    moved = read_model(in_progress_path(root / target), InProgress)
    if moved is not None:
        return moved
    behind = read_model(in_progress_path(root / rel), InProgress)
    if behind is not None and manual_path(behind) == target:
        return behind
    return None


def finish_manual_move(root: Path, rel: str, target: str) -> None:
    """Finish (or redo) a move to ``manual/``; safe to call any number of times. Refuses
    (ManualPathError) a ``target`` that is not ``rel``'s own place under ``manual/``."""
    target = check_manual_target(rel, target)
    audio, moved = root / rel, root / target
    if audio.exists() or audio.is_symlink():
        _move_no_overwrite(audio, moved)
    status_file = in_progress_path(audio)
    if status_file.exists():
        _move_no_overwrite(status_file, in_progress_path(moved))
    _drop_journal(in_progress_path(moved))


def _drop_journal(status_file: Path) -> None:
    # The move is over: manual_path says only that a move is under way (a crash before
    # this write leaves it, which is harmless: the move is finished either way).
    try:
        status = read_model(status_file, InProgress)
    except StatusFileError:
        return  # not ours to rewrite; the audio and this file are in manual/ all the same
    if status is not None and manual_path(status) is not None:
        set_manual_path(status, None)
        write_model(status_file, status)

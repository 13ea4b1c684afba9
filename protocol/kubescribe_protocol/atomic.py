"""Atomic writes and tolerant reads of status files.

A reader never sees half a file and a crash leaves the old file or the new one: write a
hidden temporary file in the same folder, fsync it, ``os.replace`` it over the target,
then fsync the folder so the rename itself survives a power cut.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import stat
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .additions import bound_attempts
from .models import InProgress, dump_status

M = TypeVar("M", bound=BaseModel)

#: Prefix of our temporary files; scanners skip hidden names, so they are never taken.
TEMP_PREFIX = ".kubescribe-tmp-"


#: The most bytes a status file may hold. Ours stay far below it (a writer keeps a bounded
#: attempt history, ``additions.KEEP_LAST_ATTEMPTS``); a bigger one came from someone else,
#: and reading and parsing it would stall whoever reads it (the controller's tick).
MAX_STATUS_BYTES = 4 * 1024 * 1024


class StatusFileError(Exception):
    """A status file exists but cannot be read as JSON of the expected shape."""

    #: The error code a reader reports for it (the API's 409 body, ``kubescribe status``).
    code = "unreadable_status"


class NotRegularStatusFileError(StatusFileError):
    """The status file's name holds a FIFO, a device, a socket or a folder: opening it
    could block for ever, so it is refused without being opened."""

    code = "status_not_regular_file"


class StatusFileTooLargeError(StatusFileError):
    """The status file is over :data:`MAX_STATUS_BYTES`."""

    code = "status_too_large"


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text_atomic(target: Path, text: str) -> None:
    tmp = target.with_name(f"{TEMP_PREFIX}{target.name}.{secrets.token_hex(4)}")
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(target)  # os.replace: atomic on POSIX
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    fsync_dir(target.parent)


def write_model(target: Path, model: BaseModel) -> None:
    if isinstance(model, InProgress):
        bound_attempts(model)
    write_text_atomic(target, dump_status(model))


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def read_status_bytes(path: Path, limit: int = MAX_STATUS_BYTES) -> bytes | None:
    """The bytes of the status file ``path``, or None when it does not exist; refuses
    (StatusFileError) what is not a regular file, without blocking on it, and what is
    over ``limit`` bytes, without reading it."""
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        return None
    except IsADirectoryError as exc:
        raise NotRegularStatusFileError(f"{path}: is a folder, not a regular file") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularStatusFileError(
                f"{path}: is {_kind(info.st_mode)}, not a regular file; remove it"
            )
        if info.st_size > limit:
            raise StatusFileTooLargeError(
                f"{path}: is {info.st_size} bytes, over the limit of {limit} bytes for a "
                "status file; it was not read (move it away to start the file afresh)"
            )
        chunks: list[bytes] = []
        size = 0
        while chunk := os.read(fd, 1 << 20):
            size += len(chunk)
            if size > limit:  # it grew after the fstat
                raise StatusFileTooLargeError(
                    f"{path}: grew over the limit of {limit} bytes for a status file"
                )
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_json(path: Path) -> Any | None:
    """The parsed JSON of ``path``, or None when it does not exist."""
    data = read_status_bytes(path)
    if data is None:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StatusFileError(f"{path}: not valid UTF-8: {exc}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise StatusFileError(f"{path}: not valid JSON: {exc}") from exc


def read_model(path: Path, model: type[M]) -> M | None:
    """``path`` read as ``model``, or None when it does not exist."""
    data = read_json(path)
    if data is None:
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise StatusFileError(f"{path}: not a valid {model.__name__}: {exc}") from exc


def remove_durably(path: Path) -> None:
    """Remove ``path`` (if there) and make the removal survive a crash."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    fsync_dir(path.parent)

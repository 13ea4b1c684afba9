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
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .models import dump_status

M = TypeVar("M", bound=BaseModel)

#: Prefix of our temporary files; scanners skip hidden names, so they are never taken.
TEMP_PREFIX = ".kubescribe-tmp-"


class StatusFileError(Exception):
    """A status file exists but cannot be read as JSON of the expected shape."""


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
    write_text_atomic(target, dump_status(model))


def read_json(path: Path) -> Any | None:
    """The parsed JSON of ``path``, or None when it does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
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

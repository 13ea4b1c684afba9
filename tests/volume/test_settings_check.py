"""The one check of transcription settings that the API and ``kubescribe run`` share."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubescribe_operator.volume.settings_check import (
    SettingsRefusedError,
    check_settings,
    model_sizes,
)
from kubescribe_protocol.codes import ErrorCode
from kubescribe_protocol.models import TranscriptionSettings
from kubescribe_protocol.whisper_choices import WHISPER_SIZES


def _models(folder: Path, *sizes: str) -> Path:
    for size in sizes:
        (folder / size).mkdir(parents=True)
        (folder / size / "model.bin").write_bytes(b"x")
    (folder / "notes").mkdir(parents=True, exist_ok=True)  # a folder without a model is no size
    return folder


def test_sizes_are_what_the_model_directory_holds(tmp_path: Path) -> None:
    assert model_sizes(_models(tmp_path / "m", "tiny.en", "my-finetune")) == (
        "my-finetune",
        "tiny.en",
    )
    # None, missing or not filled yet: the worker finds models by name.
    assert model_sizes(None) == WHISPER_SIZES
    assert model_sizes(tmp_path / "absent") == WHISPER_SIZES
    assert model_sizes(_models(tmp_path / "empty")) == WHISPER_SIZES
    # One model given directly: any size names it.
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "model.bin").write_bytes(b"x")
    assert model_sizes(tmp_path / "one") is None


@pytest.mark.parametrize(
    ("size", "language", "code"),
    [
        ("huge", None, ErrorCode.UNKNOWN_MODEL_SIZE),
        ("small", None, ErrorCode.UNKNOWN_MODEL_SIZE),
        ("tiny.en", "fr", ErrorCode.UNSUPPORTED_LANGUAGE),
        ("tiny.en", "french", ErrorCode.UNSUPPORTED_LANGUAGE),
        ("my-finetune", "xx", ErrorCode.UNSUPPORTED_LANGUAGE),
    ],
)
def test_refusals_name_the_choices(
    tmp_path: Path, size: str, language: str | None, code: ErrorCode
) -> None:
    models = _models(tmp_path / "m", "tiny.en", "my-finetune")
    with pytest.raises(SettingsRefusedError) as refused:
        check_settings(TranscriptionSettings(model_size=size, language=language), models)
    assert refused.value.code is code
    choices = "my-finetune, tiny.en" if code is ErrorCode.UNKNOWN_MODEL_SIZE else "en"
    assert choices in refused.value.message


@pytest.mark.parametrize(("given", "code"), [("en", "en"), ("English", "en"),
                                             ("haitian creole", "ht"), ("yue", "yue")])  # fmt: skip
def test_a_language_is_taken_by_code_or_by_english_name(given: str, code: str) -> None:
    size = "tiny.en" if code == "en" else "base"
    checked = check_settings(TranscriptionSettings(model_size=size, language=given), None)
    assert checked.language == code

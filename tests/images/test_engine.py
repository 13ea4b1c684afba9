"""scripts/images picks docker or podman, and says what to install where neither is;
the image tests then skip, or fail where ``KUBESCRIBE_REQUIRE_IMAGES=1`` asks for them."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from images import imagekit


@pytest.fixture
def no_engine_path(tmp_path: Path) -> str:
    """A PATH with what the scripts need and no docker or podman."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in ("bash", "dirname", "python3"):
        found = shutil.which(tool)
        assert found, tool
        (folder / tool).symlink_to(found)
    return str(folder)


def test_no_engine_is_said_in_words(no_engine_path: str) -> None:
    result = subprocess.run(
        [str(imagekit.SCRIPTS / "engine"), "--name"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PATH": no_engine_path},
    )
    assert result.returncode == 1
    assert "no container engine: neither docker nor podman is installed" in result.stderr
    assert "scripts/images/install" in result.stderr


def test_a_missing_engine_skips_the_image_tests(
    no_engine_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", no_engine_path)
    monkeypatch.delenv(imagekit.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match="neither docker nor podman"):
        imagekit.engine_name()


def test_a_missing_engine_fails_the_image_tests_where_they_are_required(
    no_engine_path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", no_engine_path)
    monkeypatch.setenv(imagekit.REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match=r"neither docker nor podman.*must run here"):
        imagekit.engine_name()


def test_an_engine_that_is_not_known_is_refused() -> None:
    result = subprocess.run(
        [str(imagekit.SCRIPTS / "engine"), "--name"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "KUBESCRIBE_ENGINE": "bash"},
    )
    assert result.returncode == 1
    assert "KUBESCRIBE_ENGINE=bash: only docker and podman are known" in result.stderr

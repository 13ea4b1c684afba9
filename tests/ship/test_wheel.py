"""The built wheel, installed into clean virtualenvs, runs: what users install is tested.

Everything here runs from the installed wheel in a folder outside the checkout, with no
PYTHONPATH: a package missing from the wheel fails here even though every other test,
which imports the checkout, passes.
"""

from __future__ import annotations

import json
import re
import subprocess
import zipfile
from pathlib import Path

import jiwer
import pytest
import speechkit
from shipkit import REPO, SOURCE_FOLDERS, clean_env, installed_from

from kubescribe_operator.k8s.kopf_run import HANDLERS_MODULE
from kubescribe_protocol.models import Result
from kubescribe_protocol.names import result_path

pytestmark = pytest.mark.skipif(not speechkit.have_speech_tools(), reason="needs espeak-ng, ffmpeg")

MAX_WER = 0.25
RUN_TIMEOUT = 600


def source_packages() -> set[str]:
    """Every package of the source tree: a folder with an ``__init__.py``, dotted."""
    packages = set()
    for folder in SOURCE_FOLDERS:
        base = REPO / folder
        for init in base.rglob("__init__.py"):
            if "__pycache__" in init.parts or any(p.endswith(".egg-info") for p in init.parts):
                continue
            packages.add(".".join(init.parent.relative_to(base).parts))
    return packages


def wheel_packages(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    return {".".join(Path(n).parent.parts) for n in names if Path(n).name == "__init__.py"}


def normalize(text: str) -> str:
    words = re.sub(r"[^\w\s']", " ", text.lower()).split()
    return " ".join(words)


def run(
    venv: Path, *args: str, cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / "kubescribe"), *args],
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_the_wheel_holds_every_package_of_the_source_tree(built_wheel: Path) -> None:
    expected = source_packages()
    assert {"kubescribe_operator.core", "kubescribe_operator.api"} <= expected
    shipped = wheel_packages(built_wheel)
    missing = sorted(expected - shipped)
    assert not missing, (
        f"the wheel {built_wheel.name} lacks these packages of the source tree: {missing}; "
        "pyproject.toml's [tool.setuptools.packages.find] must find every package folder"
    )
    assert not sorted(shipped - expected), "the wheel holds packages the source tree lacks"


def test_every_package_imports_from_the_virtualenv(wheel_venv: Path) -> None:
    """Each package of the source tree imports from the installed wheel, not the checkout."""
    packages = sorted(source_packages())
    script = (
        "import importlib, sys\n"
        "for name in sys.argv[1:]:\n"
        "    print(name, importlib.import_module(name).__file__)\n"
    )
    done = subprocess.run(
        [str(wheel_venv / "bin" / "python"), "-c", script, *packages],
        cwd=wheel_venv,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, f"a package does not import from the wheel:\n{done.stderr[-3000:]}"
    for line in done.stdout.splitlines():
        name, where = line.split(" ", 1)
        assert Path(where).is_relative_to(wheel_venv), (name, where)


def test_run_once_from_the_wheel_transcribes_and_status_reports_it(
    wheel_venv: Path, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    sentence = speechkit.ENGLISH_SENTENCES[1]
    speechkit.speak(root / "talks" / "report.mp3", sentence)
    models = root / ".models"
    done = run(wheel_venv, "models", str(models), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]

    done = run(
        wheel_venv, "run", str(root), "--once", "--stable-seconds", "0",
        "--model-dir", str(models), "--model-size", "tiny.en", "--language", "en",
        "--device", "cpu", "--compute-type", "int8",
        cwd=tmp_path, timeout=RUN_TIMEOUT,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    result = Result.model_validate_json(
        result_path(root / "talks" / "report.mp3").read_text(encoding="utf-8")
    )
    error = jiwer.wer(normalize(sentence), normalize(result.transcription.text))
    assert error < MAX_WER, (error, result.transcription.text)

    done = run(wheel_venv, "status", str(root), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    status = json.loads(done.stdout)
    assert status["counts"]["completed"] == 1, status


def test_the_operator_starts_from_an_operator_only_install(
    operator_venv: Path, tmp_path: Path
) -> None:
    """The operator image's install: the operator stops at once with a sentence when it
    has no credentials (its run against a real API server is in tests/e2e), and the
    handlers that kopf loads by name import with only the operator extra."""
    env_home = tmp_path / "home"
    env_home.mkdir()
    done = subprocess.run(
        [str(operator_venv / "bin" / "kubescribe"), "operator"],
        cwd=tmp_path,
        env={**clean_env(), "HOME": str(env_home)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, (done.returncode, done.stderr[-3000:])
    assert "no Kubernetes credentials" in done.stderr, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    # The handlers module imports with only the operator extra (kopf loads it by name).
    where = installed_from(operator_venv, HANDLERS_MODULE)
    assert where.is_relative_to(operator_venv), where

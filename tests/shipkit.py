"""What ships, for tests: the built wheel, installed into clean virtualenvs.

The rest of the suite imports kubescribe from the checkout (an editable install). That
cannot see a wheel that lacks a package, a dependency that only the dev extra brings, or
a file that only exists in the source tree. These fixtures build the wheel from a copy of
the sources that a wheel is built from, and install it the way users do.

- ``wheel_venv``: the wheel with ``[worker,operator,models]``, what ``kubescribe run``
  needs on one machine (and what the end-to-end tests run as pods and as the operator).
- ``operator_venv``: the wheel with ``[operator]`` only, what the operator image holds.

Packages come from the wheelhouse that ``scripts/bootstrap`` fills
(``KUBESCRIBE_WHEELHOUSE``, by default ``~/.cache/kubescribe/wheelhouse``), so no network is
needed; without one, pip asks the index. ``KUBESCRIBE_TEST_VENV=DIR`` keeps the full
virtualenv between local runs: later runs reinstall only the wheel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
#: The folders and files a wheel is built from (pyproject's packages.find and readme).
SOURCE_FOLDERS = ("protocol", "worker", "operator", "cli")
SOURCE_FILES = ("pyproject.toml", "README.md")
INSTALL_TIMEOUT = 1800


def wheelhouse() -> Path:
    configured = os.environ.get("KUBESCRIBE_WHEELHOUSE")
    if configured:
        return Path(configured)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "kubescribe" / "wheelhouse"


def clean_env() -> dict[str, str]:
    """The environment of a user's shell: nothing that points Python at the checkout."""
    drop = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("KUBESCRIBE_")}
    # The virtualenv's bin first, as `source .venv/bin/activate` would put it.
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if not p.startswith(sys.prefix)
    )
    return env


def _run(command: list[str], *, what: str, cwd: Path | None = None) -> str:
    done = subprocess.run(
        command,
        cwd=cwd,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        output = f"{done.stdout[-3000:]}{done.stderr[-3000:]}"
        pytest.fail(f"{what} failed ({' '.join(command)}):\n{output}")
    return done.stdout


def source_copy(dest: Path) -> Path:
    """The sources a wheel is built from, without caches or build leftovers."""
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "*.pyc")
    for folder in SOURCE_FOLDERS:
        shutil.copytree(REPO / folder, dest / folder, ignore=ignore)
    for name in SOURCE_FILES:
        shutil.copy2(REPO / name, dest / name)
    return dest


def build_wheel(workdir: Path) -> Path:
    """``pip wheel`` of a copy of the sources, as a release would build it."""
    sources = source_copy(workdir / "src")
    dist = workdir / "dist"
    house = wheelhouse()
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist)]
    if house.is_dir():
        # setuptools from the wheelhouse: building needs no network.
        command += ["--no-index", "--find-links", str(house)]
    _run([*command, str(sources)], what="building the wheel")
    (wheel,) = dist.glob("kubescribe-*.whl")
    return wheel


def make_venv(venv: Path, wheel: Path, extras: str, *, reuse: bool = False) -> Path:
    """A virtualenv with ``wheel[extras]`` installed; with ``reuse``, only the wheel is
    reinstalled into one that already holds the dependencies."""
    python = venv / "bin" / "python"
    if reuse and python.exists():
        _run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--force-reinstall",
              str(wheel)], what="reinstalling the wheel")  # fmt: skip
        return venv
    if venv.exists():
        shutil.rmtree(venv)
    _run([sys.executable, "-m", "venv", str(venv)], what="making a virtualenv")
    command = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    house = wheelhouse()
    if house.is_dir():
        command += ["--no-index", "--find-links", str(house)]
    _run([*command, f"{wheel}[{extras}]"], what=f"installing the wheel with [{extras}]")
    return venv


def installed_from(venv: Path, module: str) -> Path:
    """Where ``module`` is imported from in ``venv``, run from a folder outside the checkout."""
    out = _run(
        [str(venv / "bin" / "python"), "-c", f"import {module}; print({module}.__file__)"],
        what=f"importing {module} from the installed wheel",
        cwd=venv,
    )
    return Path(out.strip())


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="session")
def wheel_venv(built_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean virtualenv with the built wheel and ``[worker,operator,models]``."""
    kept = os.environ.get("KUBESCRIBE_TEST_VENV")
    if kept:
        return make_venv(Path(kept), built_wheel, "worker,operator,models", reuse=True)
    return make_venv(tmp_path_factory.mktemp("wheel-venv"), built_wheel, "worker,operator,models")


@pytest.fixture(scope="session")
def operator_venv(built_wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean virtualenv with the built wheel and ``[operator]`` only: the operator image."""
    return make_venv(tmp_path_factory.mktemp("operator-venv"), built_wheel, "operator")

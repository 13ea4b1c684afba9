"""One runner per tree of folders: a root inside, or above, a root that has a live
``kubescribe run`` is refused like a second runner on the same root."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kubescribe_operator.local.runner import AlreadyRunningError, root_lock


def run_refused(root: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kubescribe_cli", "run", str(root), "--once",
         "--model-dir", str(tmp_path / "no-models")],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_a_root_inside_a_running_root_is_refused(tmp_path: Path) -> None:
    (tmp_path / "R" / "sub").mkdir(parents=True)
    with root_lock(tmp_path / "R"):
        done = run_refused(tmp_path / "R" / "sub", tmp_path)
    assert done.returncode == 3, done.stderr
    assert f"another kubescribe run is using {tmp_path / 'R'}, which holds" in done.stderr


def test_a_root_above_a_running_root_is_refused(tmp_path: Path) -> None:
    (tmp_path / "R" / "a" / "b").mkdir(parents=True)
    with root_lock(tmp_path / "R" / "a" / "b"):
        done = run_refused(tmp_path / "R", tmp_path)
    assert done.returncode == 3, done.stderr
    assert f"another kubescribe run is using {tmp_path / 'R' / 'a' / 'b'}, inside" in done.stderr


def test_a_runner_that_ended_leaves_no_lock_on_the_others(tmp_path: Path) -> None:
    (tmp_path / "R" / "sub").mkdir(parents=True)
    with root_lock(tmp_path / "R"):
        pass  # its run.lock stays on disk, unlocked
    with (
        root_lock(tmp_path / "R" / "sub"),
        pytest.raises(AlreadyRunningError),
        root_lock(tmp_path / "R"),
    ):
        pass
    with root_lock(tmp_path / "R"):
        pass


def test_side_by_side_roots_both_run(tmp_path: Path) -> None:
    (tmp_path / "R" / "a").mkdir(parents=True)
    (tmp_path / "R" / "b").mkdir()
    with root_lock(tmp_path / "R" / "a"), root_lock(tmp_path / "R" / "b"):
        pass

"""Running the real ``kubescribe run`` / ``kubescribe status`` in tests, and checking the
volume afterwards."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kubescribe_operator.local.executor import STATE_DIR, worker_pids
from kubescribe_protocol.atomic import TEMP_PREFIX, read_model
from kubescribe_protocol.models import InProgress
from kubescribe_protocol.names import IN_PROGRESS_SUFFIX, RESULT_SUFFIX, in_progress_path

FAST = ("--stable-seconds", "0", "--scan-interval", "0.5", "--model-size", "tiny.en",
        "--device", "cpu", "--compute-type", "int8", "--language", "en")  # fmt: skip


def run_command(root: Path, model_dir: Path, *flags: str) -> list[str]:
    return [sys.executable, "-m", "kubescribe_cli", "run", str(root), "--model-dir",
            str(model_dir), *FAST, *flags]  # fmt: skip


def env_with(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBESCRIBE_")}
    return {**env, **extra}


def run_once(root: Path, model_dir: Path, *flags: str, timeout: float = 240,
             **env: str) -> subprocess.CompletedProcess[str]:  # fmt: skip
    done = subprocess.run(
        run_command(root, model_dir, "--once", *flags),
        env=env_with(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return done


def status_json(root: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "kubescribe_cli", "status", str(root), "--json"],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    document: dict[str, Any] = json.loads(done.stdout)
    return document


def status_files(root: Path) -> Iterator[Path]:
    for path in root.rglob("*"):
        if path.name.endswith((IN_PROGRESS_SUFFIX, RESULT_SUFFIX)):
            yield path


def assert_all_json_valid(root: Path) -> None:
    for path in status_files(root):
        json.loads(path.read_text(encoding="utf-8"))  # raises on a torn file


def manual_status(root: Path, rel: str) -> InProgress:
    status = read_model(in_progress_path(root / "manual" / rel), InProgress)
    assert status is not None, f"no manual/{rel}.in_progress"
    return status


def temp_files(root: Path) -> list[Path]:
    return [path for path in root.rglob(f"{TEMP_PREFIX}*")]


def workers_of(root: Path) -> dict[int, Any]:
    return dict(worker_pids(root))


def worker_stalls(root: Path) -> bool:
    """A worker of ``root`` logged its test stall (KUBESCRIBE_TEST_STALL_SECONDS): it is past
    its fence check and its signal handler, inside its attempt."""
    logs = root / STATE_DIR / "logs"
    return any("stalling" in log.read_text(errors="replace") for log in logs.glob("*.log"))

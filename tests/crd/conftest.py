"""Fixtures of the Transcription tests: the emulated API with the CRD, an API client, and
(for the end-to-end tests) a kubelet and operator processes, as in tests/operator."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubelet import Kubelet  # type: ignore[import-not-found]
from operator_harness import OperatorProcess  # type: ignore[import-not-found]

from crd.crdkit import CrdEmulatorServer
from kubescribe_operator.kube_api import KubeApi, load_api_client

#: Transcription defaults of every test: the small English model on the CPU.
TEST_DEFAULTS = {"model_size": "tiny.en", "device": "cpu", "compute_type": "int8", "language": "en"}


@pytest.fixture
def emulator() -> Iterator[CrdEmulatorServer]:
    with CrdEmulatorServer() as server:
        yield server


@pytest.fixture
def kubeconfig(emulator: CrdEmulatorServer, tmp_path: Path) -> Path:
    path: Path = emulator.write_kubeconfig(tmp_path / "kubeconfig")
    return path


@pytest.fixture
def api_client(kubeconfig: Path) -> Any:
    return load_api_client(str(kubeconfig))


@pytest.fixture
def kube_api(api_client: Any) -> KubeApi:
    return KubeApi(api_client, "default")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


@pytest.fixture
def kubelet(api_client: Any, tmp_path: Path) -> Iterator[Kubelet]:
    logs = tmp_path / "pods"
    logs.mkdir()
    with Kubelet(api_client, logs) as fake:
        yield fake
    assert fake.errors == []


@pytest.fixture
def operator(
    kubeconfig: Path, root: Path, model_dir: Path, tmp_path: Path
) -> Iterator[Callable[..., OperatorProcess]]:
    """Makes operator processes (not started) with settings for a quick test."""
    made: list[OperatorProcess] = []

    def make(**settings: Any) -> OperatorProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBESCRIBE_")}
        values: dict[str, Any] = {
            "root": str(root),
            "model_dir": str(model_dir),
            "stable_seconds": 0,
            "scan_interval_seconds": 0.3,
            "retry_backoff_seconds": 0,
            "parallel": 1,
            "max_attempts": 2,
            "worker_image": "kubescribe-worker:test",
            "defaults": TEST_DEFAULTS,
            **settings,
        }
        for name, value in values.items():
            text = json.dumps(value) if isinstance(value, dict | list) else str(value)
            env[f"KUBESCRIBE_{name.upper()}"] = text
        env["KUBECONFIG"] = str(kubeconfig)
        process = OperatorProcess(env, tmp_path / f"operator-{len(made)}.log")
        made.append(process)
        return process

    yield make
    for process in made:
        process.stop()

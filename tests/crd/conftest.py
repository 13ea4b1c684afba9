"""Fixtures of the Transcription tests: the emulated API with the CRD, an API client, and
(for the end-to-end tests) a kubelet and operator processes, as in tests/operator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubelet import Kubelet  # type: ignore[import-not-found]
from operator_harness import OperatorFactory, operator_factory  # type: ignore[import-not-found]

from crd.crdkit import CrdEmulatorServer
from kubescribe_operator.k8s.kube_api import KubeApi, load_api_client


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
) -> Iterator[OperatorFactory]:
    """Makes operator processes (not started) with settings for a quick test."""
    with operator_factory(
        kubeconfig, root, model_dir, tmp_path, parallel=1, max_attempts=2
    ) as make:
        yield make

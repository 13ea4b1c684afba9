"""Fixtures of the operator tests: the emulated API server, a kubelet, the operator process.

The operator runs as its own process (``kubescribe operator``, kopf with ``-m``), as in
a cluster, pointed at the emulator by a kubeconfig, so killing and restarting it is
real. Its root is the test's temporary folder, which the Jobs mount at the same path.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kube_emulator import EmulatorServer  # type: ignore[import-not-found]
from kubelet import Kubelet  # type: ignore[import-not-found]
from operator_harness import OperatorFactory, operator_factory  # type: ignore[import-not-found]

from kubescribe_operator.k8s.kube_api import load_api_client


@pytest.fixture
def emulator() -> Iterator[EmulatorServer]:
    with EmulatorServer() as server:
        yield server


@pytest.fixture
def kubeconfig(emulator: EmulatorServer, tmp_path: Path) -> Path:
    path: Path = emulator.write_kubeconfig(tmp_path / "kubeconfig")
    return path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    return folder


@pytest.fixture
def api_client(kubeconfig: Path) -> Any:
    return load_api_client(str(kubeconfig))


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
        kubeconfig, root, model_dir, tmp_path, parallel=2, max_attempts=3
    ) as make:
        yield make

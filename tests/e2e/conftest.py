"""The e2e session: one real control plane for every test, and a namespace per test.

The control plane starts once per session (``control_plane``) and is stopped at its end;
its guard process stops it too if this process dies first, so nothing is left running.
Without binaries (``KUBESCRIBE_KUBE_BINARIES`` unset and none built) every e2e test fails
and says how to get them: a skipped e2e test would pass CI without testing anything.
"""

from __future__ import annotations

import atexit
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from e2e.kubekit import Cluster, ControlPlane, MissingBinariesError, binaries
from e2e.standin_kubelet import StandinKubelet


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """etcd, kube-apiserver, kube-controller-manager and kube-scheduler, up and healthy."""
    try:
        bin_dir = binaries()
    except MissingBinariesError as error:
        missing = str(error)
    else:
        missing = ""
    if missing:
        pytest.fail(missing, pytrace=False)
    plane = ControlPlane.start(tmp_path_factory.mktemp("kube"), bin_dir)
    atexit.register(plane.stop)
    try:
        yield plane
    finally:
        plane.stop()
        atexit.unregister(plane.stop)


@pytest.fixture(scope="session")
def cluster(control_plane: ControlPlane) -> Iterator[Cluster]:
    """The control plane with an admin client, kubectl, helm and the tests' helpers."""
    handle = Cluster(control_plane)
    yield handle
    handle.api.close()


@pytest.fixture(scope="session")
def admin_kubeconfig(cluster: Cluster) -> Path:
    """A kubeconfig of a ``system:masters`` user of the session's control plane."""
    return cluster.kubeconfig


@pytest.fixture
def namespace(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace for this test, deleted (with its hostPath PVs) after it."""
    name = cluster.create_namespace(_prefix(request))
    yield name
    cluster.delete_namespace(name)
    cluster.delete_volumes_of(name)


@pytest.fixture
def restricted_namespace(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace that enforces Pod Security ``restricted``."""
    name = cluster.create_namespace(_prefix(request), restricted=True)
    yield name
    cluster.delete_namespace(name)
    cluster.delete_volumes_of(name)


def _prefix(request: pytest.FixtureRequest) -> str:
    test = request.node.name.removeprefix("test_").lower()
    cleaned = "".join(c if c.isalnum() else "-" for c in test).strip("-")
    return cleaned[:30].strip("-") or "e2e"


@pytest.fixture(scope="session")
def standin_kubelet(
    cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StandinKubelet]:
    """Two GPU nodes (``gpu-node-1``, ``gpu-node-2``, one ``nvidia.com/gpu`` each) whose
    pods run as local processes; a bare command (``kubescribe``) is found first in the
    bin folder of the Python that runs the tests (``.bin_dirs``, which a test may change)."""
    pki = cluster.plane.pki
    kubelet = StandinKubelet(
        cluster.server,
        cluster.ca_file,
        (pki / "admin.crt", pki / "admin.key"),
        tmp_path_factory.mktemp("kubelet"),
        bin_dirs=[Path(sys.executable).parent],
        session_marker=cluster.plane.session_marker,
    )
    kubelet.start()
    try:
        yield kubelet
    finally:
        kubelet.stop()


@pytest.fixture
def kubelet(standin_kubelet: StandinKubelet) -> Iterator[StandinKubelet]:
    """The session's stand-in kubelet, with no faults before and after the test; the
    test fails if the kubelet met an error of its own meanwhile."""
    standin_kubelet.clear_faults()
    errors = len(standin_kubelet.errors)
    yield standin_kubelet
    standin_kubelet.clear_faults()
    for node in standin_kubelet.node_specs:
        standin_kubelet.set_node_ready(node, True)
    assert standin_kubelet.errors[errors:] == []

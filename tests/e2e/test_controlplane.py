"""The control plane itself: what the other e2e tests rely on."""

from __future__ import annotations

from pathlib import Path

import pytest

from e2e.kubekit import RESTRICTED, ApiError, Cluster

pytestmark = pytest.mark.e2e


def test_server_reports_its_version(cluster: Cluster) -> None:
    version = cluster.api.get("/version")
    assert version["gitVersion"] == "v1.35.4"
    assert "Server Version: v1.35.4" in cluster.kubectl("version").stdout


def test_pod_security_restricted_is_enforced(cluster: Cluster, restricted_namespace: str) -> None:
    labels = cluster.api.get(f"/api/v1/namespaces/{restricted_namespace}")["metadata"]["labels"]
    assert RESTRICTED.items() <= labels.items()
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "privileged"},
        "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["true"]}]},
    }
    with pytest.raises(ApiError) as refused:
        cluster.api.create(f"/api/v1/namespaces/{restricted_namespace}/pods", pod)
    assert refused.value.status == 403
    assert "restricted" in str(refused.value)


def test_service_account_token_has_only_its_rights(cluster: Cluster, namespace: str) -> None:
    token = cluster.service_account_token(namespace, "default")
    as_default = cluster.api_as(token)
    try:
        with pytest.raises(ApiError) as refused:
            as_default.get(f"/api/v1/namespaces/{namespace}/pods")
        assert refused.value.status == 403
        review = as_default.create(
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
        )
        assert review["status"]["userInfo"]["username"] == (
            f"system:serviceaccount:{namespace}:default"
        )
    finally:
        as_default.close()


def test_claim_binds_to_hostpath_volume(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    cluster.create_claim(namespace, "data")
    pv = cluster.hostpath_volume(tmp_path / "data", namespace=namespace, claim="data")
    bound = cluster.wait_bound(namespace, "data")
    assert bound["spec"]["volumeName"] == pv

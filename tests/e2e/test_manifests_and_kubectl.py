"""manifests/ against the real API server, and kubectl's view of Transcriptions.

``kubectl apply --dry-run=server`` runs every admission step (schema, defaulting, Pod
Security on the workloads' templates, RBAC) without keeping anything. The Transcription
columns come from the server's Table output of the CRD's additionalPrinterColumns, as a
user's kubectl shows them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from e2e.kubekit import REPO, Cluster, wait_until

pytestmark = pytest.mark.e2e

MANIFESTS = REPO / "manifests"
CRD = REPO / "charts" / "kubescribe" / "crds" / "transcriptions.yaml"
#: What README.md and docs/operator.md say `kubectl get transcriptions` shows.
COLUMNS = ["NAME", "PATH", "PHASE", "ATTEMPT", "PROGRESS", "PRIORITY", "AGE"]
WIDE_COLUMNS = ["NAME", "PATH", "PHASE", "ATTEMPT", "PROGRESS", "PRIORITY", "ERROR", "AGE"]
#: Notices that say nothing about the manifests: kubectl's client/server skew (kubectl
#: 1.33 on 1.35), and that the CRD, applied by an earlier test (or helm), lacks
#: client-side apply's annotation.
_NOT_ABOUT_US = re.compile(
    r"^(WARNING: version difference between client .*"
    r"|Warning: resource customresourcedefinitions/\S+ is missing the "
    r"kubectl.kubernetes.io/last-applied-configuration annotation .*)$",
    re.MULTILINE,
)


def _warnings(stderr: str) -> str:
    """kubectl's stderr less the notices that say nothing about what it applied."""
    return _NOT_ABOUT_US.sub("", stderr).strip()


@pytest.fixture(scope="module")
def manifests_namespace(cluster: Cluster) -> Iterator[str]:
    """The namespace manifests/00-namespace.yaml makes, for real: a dry-run of objects in
    a namespace that does not exist fails with NotFound."""
    done = cluster.kubectl("apply", "-f", str(MANIFESTS / "00-namespace.yaml"))
    assert _warnings(done.stderr) == ""
    yield "kubescribe"
    cluster.delete_namespace("kubescribe")


def test_manifests_pass_a_server_side_dry_run(cluster: Cluster, manifests_namespace: str) -> None:
    labels = cluster.api.get(f"/api/v1/namespaces/{manifests_namespace}")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    done = cluster.kubectl("apply", "--dry-run=server", "-f", str(MANIFESTS), check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _warnings(done.stderr) == "", done.stderr
    applied = [line for line in done.stdout.splitlines() if line.strip()]
    assert all(line.endswith("(server dry run)") for line in applied), done.stdout
    assert any(line.startswith("deployment.apps/kubescribe-operator") for line in applied)
    assert any(line.startswith("job.batch/kubescribe-model-fill-1") for line in applied)
    # A dry run keeps nothing.
    assert not cluster.api.exists(
        f"/apis/apps/v1/namespaces/{manifests_namespace}/deployments/kubescribe-operator"
    )


@pytest.fixture(scope="module")
def transcription_crd(cluster: Cluster) -> str:
    """The chart's CRD, installed (or already there from a helm install) and Established."""
    done = cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(CRD))
    assert _warnings(done.stderr) == ""
    name = "transcriptions.kubescribe.io"

    def established() -> bool:
        crd = cluster.api.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
        conditions = (crd.get("status") or {}).get("conditions") or []
        return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)

    wait_until(established, what=f"CRD {name} Established")
    return name


def _transcription(name: str, path: str) -> dict[str, Any]:
    return {
        "apiVersion": "kubescribe.io/v1alpha1",
        "kind": "Transcription",
        "metadata": {"name": name},
        "spec": {"path": path},
    }


def _table(text: str) -> list[list[str]]:
    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines() if line.strip()]


def test_get_transcriptions_prints_the_documented_columns(
    cluster: Cluster, transcription_crd: str, namespace: str
) -> None:
    base = f"/apis/kubescribe.io/v1alpha1/namespaces/{namespace}/transcriptions"
    cluster.api.create(base, _transcription("talk", "meetings/talk.mp3"))
    cluster.api.create(base, _transcription("queued", "queued.wav"))
    status = {
        "phase": "Failed",
        "attempt": 2,
        "priority": "api_request",
        "progress": {"stage": "processing_audio", "percentage": 50},
        "error": {"code": "timeout", "message": "the attempt ran past its deadline"},
    }
    cluster.api.patch(f"{base}/talk/status", {"status": status})

    plain = _table(cluster.kubectl("get", "transcriptions", "-n", namespace).stdout)
    assert plain[0] == COLUMNS
    rows = {row[0]: row for row in plain[1:]}
    assert rows["talk"][:6] == ["talk", "meetings/talk.mp3", "Failed", "2", "50", "api_request"]
    assert rows["queued"][:2] == ["queued", "queued.wav"]

    wide = _table(cluster.kubectl("get", "trs", "-n", namespace, "-o", "wide").stdout)
    assert wide[0] == WIDE_COLUMNS
    talk = next(row for row in wide[1:] if row[0] == "talk")
    assert talk[:7] == ["talk", "meetings/talk.mp3", "Failed", "2", "50", "api_request", "timeout"]

    # The server's own Table: what every kubectl version prints from.
    table = cluster.api.request(
        "GET", base, headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
    )
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name",
        "Path",
        "Phase",
        "Attempt",
        "Progress",
        "Priority",
        "Error",
        "Age",
    ]
    assert [c["priority"] for c in table["columnDefinitions"]] == [0, 0, 0, 0, 0, 0, 1, 0]


def test_dry_run_reports_what_pod_security_would_refuse(
    cluster: Cluster, manifests_namespace: str
) -> None:
    """The check above is worth something: a template that breaks "restricted" (no
    securityContext at all) is reported."""
    deployment = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: privileged, namespace: kubescribe}
spec:
  selector: {matchLabels: {app: privileged}}
  template:
    metadata: {labels: {app: privileged}}
    spec:
      containers: [{name: c, image: busybox}]
"""
    done = cluster.kubectl("apply", "--dry-run=server", "-f", "-", stdin=deployment)
    assert "would violate PodSecurity" in done.stderr

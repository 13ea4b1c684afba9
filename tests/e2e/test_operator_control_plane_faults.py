"""Faults of the control plane while the operator works: the API server restarted (etcd
kept, and compacted first, so that watches resume from a resourceVersion etcd no longer
has and get 410 Gone).

What users get is decided here: a real cluster's API server restarts (upgrades, a
control-plane node replaced), and nothing waits for its ``/readyz`` on the operator's
behalf. While it is away the Lease cannot be renewed; right after it is back, its RBAC
authorizer may refuse (403) for a few seconds. So the operator must live through that by
itself: its watches restart (kopf retries), and when the Lease ran out while it could
not renew, it stops and its Deployment starts it again (restartPolicy Always), which
takes the Lease back and recovers from the volume and the Jobs. The test runs it so
(``start(restart=True)``) and asks only for what a user sees: every file completes, no
(file, attempt) has two Jobs, no attempt is counted twice.
"""

from __future__ import annotations

import base64
import json
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from e2e.kubekit import ControlPlane, wait_until
from e2e.operatorkit import (  # noqa: F401
    Deploy,
    Deployed,
    deploy_fixture,
    refusals_outside,
    terminal,
    wait_for,
)

pytestmark = pytest.mark.e2e

#: Every wait: minutes, for a loaded 2-core CI machine.
BUDGET = 300
#: After /readyz, how long a refusal is excused: the RBAC authorizer's informers may
#: still be syncing (a 403 for a few seconds), a generous bound on a loaded machine.
SETTLING = timedelta(seconds=90)


def etcd(plane: ControlPlane, call: str, body: dict[str, Any]) -> dict[str, Any]:
    """One call of etcd's JSON gateway (``/v3/kv/range``, ``/v3/kv/compaction``)."""
    request = urllib.request.Request(
        f"{plane.etcd_url}/v3/kv/{call}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        found: dict[str, Any] = json.loads(answer.read())
        return found


def compact(plane: ControlPlane) -> int:
    """Compacts etcd at its current revision; that revision."""
    key = base64.b64encode(b"/registry/").decode()
    revision = int(etcd(plane, "range", {"key": key, "limit": 1})["header"]["revision"])
    etcd(plane, "compaction", {"revision": revision, "physical": True})
    return revision


def running_jobs(deployed: Deployed) -> set[str]:
    return {
        p["metadata"]["labels"]["batch.kubernetes.io/job-name"]
        for p in deployed.release.worker_pods()
        if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
    }


@pytest.mark.parametrize(
    "lease_seconds",
    [
        # The default: the restart outlasts the Lease; the operator steps down, exits,
        # and its Deployment starts it again, which recovers from a fresh list.
        15,
        # A Lease longer than the restart: the same process keeps leading, so its
        # watches resume from their old resourceVersions and meet 410 Gone.
        180,
    ],
    ids=["lease-runs-out", "lease-outlasts-the-restart"],
)
def test_api_server_restarted_after_a_compaction_mid_batch_loses_no_file(
    deploy: Deploy, control_plane: ControlPlane, lease_seconds: int
) -> None:
    deployed = deploy(controller={"parallel": 2}, operator={"leaderLeaseSeconds": lease_seconds})
    release, root = deployed.release, deployed.root
    # The first two Jobs' pods run until the gate opens, which is while the API server
    # is down: they end unseen, and their ends reach the API once it is back.
    gate = root / ".standin-gate"
    deployed.kubelet.env["STANDIN_GATE"] = str(gate)
    files = [f"batch/{name}.wav" for name in ("a", "b", "c", "d")]
    for rel in files:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"RIFF-not-really-audio")
    pod = deployed.pod().start(restart=True)
    wait_for(lambda: release.lease_holder() == pod.identity, BUDGET, "the Lease", log=pod.output)
    wait_for(lambda: len(running_jobs(deployed)) == 2, BUDGET, "two Jobs running", log=pod.output)

    # Writes the operator does not watch, then a compaction past them: every watch's
    # resourceVersion is older than what etcd keeps.
    for number in range(5):
        release.cluster.api.create(
            release.path("configmaps"),
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"churn-{number}"}},
        )
    compact(control_plane)
    down = datetime.now(UTC)
    control_plane.stop_component("kube-apiserver")
    gate.touch()
    control_plane.start_component("kube-apiserver")  # returns once /readyz answers 200
    ready = datetime.now(UTC)

    wait_for(
        lambda: all(terminal(root, rel) == "completed" for rel in files),
        BUDGET,
        "every file completed",
        log=pod.output,
    )
    assert deployed.jobs.doubled() == {}
    assert sorted((r.path, r.attempt) for r in deployed.jobs.jobs()) == [(rel, 1) for rel in files]
    # Still (or again) the leader, and working: one more file after the restart.
    (root / "after.wav").write_bytes(b"RIFF-not-really-audio")
    wait_until(lambda: terminal(root, "after.wav") == "completed", timeout=BUDGET, what="after.wav")
    assert pod.alive()
    if lease_seconds > 60:
        assert pod.restarts == 0, pod.output()[-5000:]
    assert release.lease_holder() == pod.identity
    assert refusals_outside(pod.output(), [(down, ready + SETTLING)]) == []

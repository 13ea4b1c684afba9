"""Leadership on the real API server: one operator acts at a time, through the Lease."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import pytest

from e2e.operatorkit import (  # noqa: F401
    Deploy,
    Deployed,
    Release,
    deploy_fixture,
    refusals,
    terminal,
    wait_for,
)
from kubescribe_operator.k8s.leader import LEASE_NAME

pytestmark = pytest.mark.e2e

#: Every wait: minutes, for a loaded 2-core CI machine.
BUDGET = 300


def test_two_operators_started_together_exactly_one_leads(deploy: Deploy) -> None:
    deployed = deploy(operator={"leaderLeaseSeconds": 6})
    release = deployed.release
    first, second = deployed.pod(), deployed.pod()
    first.start()
    second.start()
    pods = {first.identity: first, second.identity: second}

    def logs() -> str:
        return "\n".join(f"--- {name}\n{pod.output()}" for name, pod in pods.items())

    wait_for(lambda: release.lease_holder() in pods, 300, "a leader", log=logs)
    leader = pods[str(release.lease_holder())]
    standby = second if leader is first else first
    wait_for(lambda: "waiting as a standby" in standby.output(), 120, "the standby", log=logs)
    # Several renewal periods (a third of the Lease each): the leader keeps it, the
    # standby never acts.
    time.sleep(15)
    assert release.lease_holder() == leader.identity
    assert "leads" not in standby.output()
    assert "kubescribe.core" not in standby.output()
    assert standby.healthy(), "a standby answers its liveness probe"
    # A standby stops at once on SIGTERM; the leader too, and gives the Lease back.
    assert standby.terminate(60) == 0, standby.output()[-3000:]
    assert leader.terminate(60) == 0, leader.output()[-3000:]
    assert release.lease_holder() is None
    assert refusals(logs()) == []


def running_jobs(deployed: Deployed) -> set[str]:
    """The Jobs whose pod the kubelet runs now."""
    return {
        p["metadata"]["labels"]["batch.kubernetes.io/job-name"]
        for p in deployed.release.worker_pods()
        if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
    }


def lease_times(release: Release) -> tuple[datetime, datetime]:
    """The Lease's renewTime and acquireTime."""
    spec = release.get("leases", LEASE_NAME)["spec"]
    return (
        datetime.fromisoformat(spec["renewTime"].replace("Z", "+00:00")),
        datetime.fromisoformat(spec["acquireTime"].replace("Z", "+00:00")),
    )


def test_kill_9_of_the_leader_mid_batch_the_standby_takes_over_and_adopts_the_jobs(
    deploy: Deploy,
) -> None:
    lease_seconds = 6
    deployed = deploy(operator={"leaderLeaseSeconds": lease_seconds}, controller={"parallel": 2})
    release, root = deployed.release, deployed.root
    # Pods stay Running until the gate opens: the kill and the takeover happen while
    # they run, however slow the machine. The gate is on the data volume (a Job mounts
    # an emptyDir at /tmp, so a path under /tmp would be rewritten into it), hidden so
    # that no scan takes it for audio.
    gate = root / ".standin-gate"
    deployed.kubelet.env["STANDIN_GATE"] = str(gate)
    files = ["batch/a.wav", "batch/b.wav", "batch/c.wav"]
    for rel in files:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"RIFF-not-really-audio")
    first = deployed.pod().start()
    pods = {first.identity: first}

    def logs() -> str:
        return "\n".join(f"--- {name}\n{pod.output()}" for name, pod in pods.items())

    wait_for(lambda: release.lease_holder() == first.identity, BUDGET, "a leader", log=logs)
    second = deployed.pod().start()
    pods[second.identity] = second
    wait_for(lambda: "waiting as a standby" in second.output(), BUDGET, "the standby", log=logs)
    wait_for(lambda: len(running_jobs(deployed)) == 2, BUDGET, "two Jobs running", log=logs)
    before = {record.uid: record for record in deployed.jobs.jobs()}
    running = running_jobs(deployed)
    assert {record.name for record in before.values()} == running

    assert "kubescribe.core" not in second.output()  # the standby's core did nothing
    first.kill()
    # The Lease is the dead leader's, unrenewed, until it expires; then the standby's.
    last_renewal, _ = lease_times(release)
    wait_for(lambda: release.lease_holder() == second.identity, BUDGET, "the takeover", log=logs)
    wait_for(lambda: "recovering from the volume" in second.output(), BUDGET, "recovery", log=logs)
    _, acquired = lease_times(release)
    assert acquired >= last_renewal + timedelta(seconds=lease_seconds), (last_renewal, acquired)
    # The new leader's recovery adopts both running Jobs, and makes no second Job.
    adopted = [f"adopted live attempt {record.path} #1" for record in before.values()]
    wait_for(
        lambda: all(line in second.output() for line in adopted),
        BUDGET,
        f"{adopted} in the new leader's log",
        log=logs,
    )
    assert deployed.jobs.doubled() == {}
    assert running_jobs(deployed) == running

    gate.touch()
    wait_for(
        lambda: all(terminal(root, rel) == "completed" for rel in files),
        BUDGET,
        "the batch completed",
        log=logs,
    )
    # The file no Job had yet was the new leader's to start.
    assert "starting batch/c.wav (attempt 1)" in second.output()
    records = deployed.jobs.jobs()
    assert deployed.jobs.doubled() == {}
    assert sorted((r.path, r.attempt) for r in records) == [(rel, 1) for rel in files]
    # The two Jobs that ran through the kill are the ones that finished their files.
    for uid, record in before.items():
        job = release.cluster.wait_job_condition(
            release.namespace, record.name, "Complete", timeout=BUDGET
        )
        assert job["metadata"]["uid"] == uid
    assert refusals(logs()) == []

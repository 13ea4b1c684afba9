"""Leadership on the real API server: one operator acts at a time, through the Lease."""

from __future__ import annotations

import time

import pytest

from e2e.operatorkit import Deploy, deploy_fixture, refusals, wait_for  # noqa: F401

pytestmark = pytest.mark.e2e


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

"""The operator as the chart deploys it: the wheel's ``kubescribe operator``, the
Deployment's environment, a pod's ServiceAccount token and the chart's Role."""

from __future__ import annotations

import pytest

from e2e.operatorkit import Deploy, deploy_fixture, refusals, wait_for  # noqa: F401

pytestmark = pytest.mark.e2e


def test_operator_leads_with_the_charts_account_and_stops_on_sigterm(deploy: Deploy) -> None:
    deployed = deploy()
    pod = deployed.pod().start()
    release = deployed.release
    wait_for(lambda: release.lease_holder() == pod.identity, 300, "the Lease", log=pod.output)
    wait_for(pod.healthy, 120, "the liveness probe", log=pod.output)
    log = pod.output()
    # The in-cluster path: no kubeconfig anywhere in its environment.
    assert "KUBECONFIG" not in pod.env
    assert pod.env["KUBERNETES_SERVICE_HOST"] == "127.0.0.1"
    assert "leads; recovering" in log
    assert pod.terminate() == 0, pod.output()[-4000:]
    # A clean stop gives the Lease back: a successor need not wait for it to expire.
    assert release.lease_holder() is None
    assert refusals(pod.output()) == []

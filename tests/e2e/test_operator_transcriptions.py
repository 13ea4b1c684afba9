"""Transcriptions made with kubectl, against the real API server and the chart's CRD."""

from __future__ import annotations

import json
from typing import Any

import pytest

from e2e.operatorkit import Deploy, Release, deploy_fixture, refusals, wait_for  # noqa: F401

pytestmark = pytest.mark.e2e


def kubectl_create(release: Release, name: str, path: str) -> None:
    manifest = {
        "apiVersion": "kubescribe.io/v1alpha1",
        "kind": "Transcription",
        "metadata": {"name": name, "namespace": release.namespace},
        "spec": {"path": path},
    }
    release.cluster.kubectl("create", "-f", "-", stdin=json.dumps(manifest))


def status_of(release: Release, name: str) -> dict[str, Any]:
    status: dict[str, Any] = release.get("transcriptions", name).get("status") or {}
    return status


def test_a_transcription_with_dot_dot_is_rejected(deploy: Deploy) -> None:
    deployed = deploy()
    release = deployed.release
    (deployed.root / "fine.wav").write_bytes(b"RIFF")  # there, but not what is asked for
    pod = deployed.pod().start()
    wait_for(lambda: release.lease_holder() == pod.identity, 300, "the Lease", log=pod.output)
    kubectl_create(release, "escape", "../fine.wav")
    wait_for(
        lambda: status_of(release, "escape").get("phase") == "Rejected",
        120,
        "the request Rejected",
        log=pod.output,
    )
    assert "'..'" in status_of(release, "escape")["message"]
    assert deployed.jobs.jobs() == []
    assert refusals(pod.output()) == []

"""Transcriptions made with kubectl, against the real API server and the chart's CRD."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from speechkit import ENGLISH_SENTENCES, have_speech_tools, speak

from e2e.operatorkit import Deploy, Release, deploy_fixture, refusals, wait_for  # noqa: F401
from kubescribe_protocol.names import result_path

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


def words(text: str) -> set[str]:
    return {word.strip(".,!?'").lower() for word in text.split()}


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


#: What a user writes, in a file, to ask for one file of the volume.
USER_MANIFEST = """\
apiVersion: kubescribe.io/v1alpha1
kind: Transcription
metadata:
  name: standup
spec:
  path: meetings/standup.wav
"""


@pytest.mark.skipif(not have_speech_tools(), reason="needs espeak-ng and ffmpeg")
@pytest.mark.skip(
    reason="never run yet, like test_operator_outcomes' speech batch: real transcription in "
    "the pods needs the wheel with [worker,operator,models]; unskip once it has run green "
    "three times"
)
def test_a_transcription_applied_with_kubectl_is_transcribed_and_its_status_shows_it(
    deploy: Deploy, tmp_path: Path
) -> None:
    # The real worker (the wheel with every extra) transcribes in the kubelet's pod.
    deployed = deploy(pods_run="wheel")
    release, root = deployed.release, deployed.release.root
    sentence = ENGLISH_SENTENCES[0]
    speak(root / "meetings" / "standup.wav", sentence)
    pod = deployed.pod().start()
    wait_for(lambda: release.lease_holder() == pod.identity, 300, "the Lease", log=pod.output)
    manifest = tmp_path / "standup.yaml"
    manifest.write_text(USER_MANIFEST)
    release.cluster.kubectl("apply", "-n", release.namespace, "-f", str(manifest))
    wait_for(
        lambda: status_of(release, "standup").get("phase") in ("Completed", "Manual", "Rejected"),
        600,
        "the Transcription ended",
        log=pod.output,
    )
    status = status_of(release, "standup")
    assert status["phase"] == "Completed", status
    heard = words(status["result"]["text"])
    assert len(heard & words(sentence)) >= 0.6 * len(words(sentence)), status
    assert status["result"]["wordCount"] >= 5, status
    result = json.loads(result_path(root / "meetings" / "standup.wav").read_text())
    assert words(result["transcription"]["text"]) == heard
    (record,) = deployed.jobs.jobs()
    assert (record.path, record.attempt) == ("meetings/standup.wav", 1)
    assert refusals(pod.output()) == []

"""The Transcription mirror end to end: the operator as its own process against the
emulated API (with the chart's CRD), a kubelet running the real worker (WhisperX,
tiny.en on the CPU) for each Job, real speech. kubectl's view is what the emulator
holds; ``kubectl create`` is a create through the API client."""

from __future__ import annotations

import itertools
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from kubelet import Kubelet  # type: ignore[import-not-found]
from operator_harness import OperatorFactory, terminal, wait_until  # type: ignore[import-not-found]
from speechkit import ENGLISH_SENTENCES, have_speech_tools, speak

from crd.crdkit import TRANSCRIPTIONS, CrdEmulatorServer
from kubescribe_operator.k8s.kube_api import KubeApi
from kubescribe_operator.k8s.transcription_objects import PROGRESS_STEP, transcription_name
from kubescribe_protocol.codes import PERMANENT_ERRORS

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not have_speech_tools(), reason="needs espeak-ng and ffmpeg"),
]


def words(text: str) -> set[str]:
    return {word.strip(".,!?'").lower() for word in text.split()}


def shown(emulator: CrdEmulatorServer) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in emulator.objects(TRANSCRIPTIONS)}


def phase(emulator: CrdEmulatorServer, name: str) -> str | None:
    obj = shown(emulator).get(name)
    return ((obj or {}).get("status") or {}).get("phase")


def writes_by_name(emulator: CrdEmulatorServer) -> Counter[str]:
    """Creates, patches and deletes of Transcriptions, by object name."""
    counts: Counter[str] = Counter()
    for method, path in emulator.requests_to("transcriptions"):
        if method in ("POST", "PATCH", "DELETE"):
            parts = path.rstrip("/").split("/")
            name = parts[-2] if parts[-1] == "status" else parts[-1]
            counts[name if name != "transcriptions" else "<create>"] += 1
    return counts


def test_files_are_mirrored_until_completed_or_manual_then_expire(
    root: Path, kubelet: Kubelet, operator: OperatorFactory, emulator: CrdEmulatorServer
) -> None:
    spoken = ENGLISH_SENTENCES[0]
    speak(root / "team" / "talk one.wav", spoken)
    (root / "notes.mp3").write_text("a text file with an audio file's name\n")
    ttl = 8
    proc = operator(transcription_completed_ttl_seconds=ttl).start()
    talk, notes = transcription_name("team/talk one.wav"), transcription_name("notes.mp3")

    wait_until(
        lambda: phase(emulator, talk) == "Completed", 180, "talk completed", logs=proc.output
    )
    obj = shown(emulator)[talk]
    assert obj["spec"] == {"path": "team/talk one.wav"}
    status = obj["status"]
    assert status["attempt"] == 1 and status["progress"]["percentage"] == 100
    summary = status["result"]
    assert len(words(summary["text"]) & words(spoken)) >= len(words(spoken)) * 0.6, summary
    assert summary["wordCount"] >= 6 and summary["language"] == "en"
    assert 1 < summary["durationSeconds"] < 10
    assert summary["model"] == "tiny.en"

    wait_until(lambda: phase(emulator, notes) == "Manual", 120, "notes in manual", logs=proc.output)
    bad = shown(emulator)[notes]["status"]
    assert bad["manualPath"] == "manual/notes.mp3"
    assert bad["error"]["code"] in PERMANENT_ERRORS
    assert terminal(root, "notes.mp3") == "manual"

    # What kubectl saw of the good file over time: the phases in order, progress that
    # only grows in steps, and no patch that changed nothing.
    versions = [v for v in emulator.history(TRANSCRIPTIONS, talk) if v is not None]
    statuses = [v.get("status") or {} for v in versions]
    phases = [s.get("phase") for s in statuses if s]
    assert phases[-1] == "Completed" and "Processing" in phases
    assert phases.index("Processing") < phases.index("Completed")
    assert set(phases) <= {"Queued", "Processing", "Completed"}, phases
    percentages = [s["progress"]["percentage"] for s in statuses if s]
    assert percentages == sorted(percentages) and all(p % PROGRESS_STEP == 0 for p in percentages)
    assert all(a != b for a, b in itertools.pairwise(statuses[1:])), statuses

    # Past the TTL the completed file's object goes; the one in manual/ stays.
    wait_until(lambda: talk not in shown(emulator), ttl + 30, "talk expired", logs=proc.output)
    assert phase(emulator, notes) == "Manual"
    # API calls per file: one create, one status patch per change shown, one delete.
    calls = writes_by_name(emulator)
    assert calls[talk] == len(statuses) - 1 + 1, calls  # patches + the delete
    assert calls[talk] <= 10, calls  # the most a file can cost: 9 status patches + delete
    assert "Traceback" not in proc.output()


def _request(api: KubeApi, name: str, path: str) -> None:
    """What ``kubectl create`` of a Transcription sends."""
    api.create_transcription(
        {
            "apiVersion": "kubescribe.io/v1alpha1",
            "kind": "Transcription",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"path": path},
        }
    )


def test_a_transcription_created_with_kubectl_is_an_api_request(
    root: Path,
    kubelet: Kubelet,
    operator: OperatorFactory,
    emulator: CrdEmulatorServer,
    kube_api: KubeApi,
) -> None:
    texts = {"a.wav": ENGLISH_SENTENCES[0], "b.wav": ENGLISH_SENTENCES[1]}
    texts["c.wav"] = ENGLISH_SENTENCES[2]
    for index, (rel, text) in enumerate(texts.items()):
        speak(root / rel, text)
        stamp = time.time() - 100 + index  # c.wav is the newest: the scan takes it last
        os.utime(root / rel, (stamp, stamp))
    (root / "manual").mkdir()
    speak(root / "manual" / "old.wav", ENGLISH_SENTENCES[0])
    _request(kube_api, "urgent", "c.wav")
    _request(kube_api, "escape", "../outside.wav")
    _request(kube_api, "missing", "nope.wav")
    _request(kube_api, "from-manual", "manual/old.wav")
    proc = operator(parallel=1).start()

    wait_until(
        lambda: all(terminal(root, rel) == "completed" for rel in texts),
        240,
        "every file completed",
        logs=proc.output,
    )
    # The requested file went before the older ones the scan found (the first Job may
    # start before the operator saw the request).
    order = [j["metadata"]["annotations"]["kubescribe.io/path"] for j in kubelet.jobs]
    assert order.index("c.wav") <= 1, order
    (job,) = [
        j for j in kubelet.jobs if j["metadata"]["annotations"]["kubescribe.io/path"] == "c.wav"
    ]
    assert job["metadata"]["labels"]["kubescribe.io/priority"] == "api_request"

    # The person's object is the file's object now: labelled, and followed to the end.
    wait_until(
        lambda: phase(emulator, "urgent") == "Completed", 30, "urgent completed", logs=proc.output
    )
    urgent = shown(emulator)["urgent"]
    # One object per file: the person's; a mirrored one made before the request was
    # seen is gone.
    wait_until(
        lambda: transcription_name("c.wav") not in shown(emulator),
        10,
        "one object",
        logs=proc.output,
    )
    assert proc.output().count("transcription urgent asks for c.wav") == 1
    # kopf stored nothing on the objects: no finalizer, no state annotation.
    for obj in shown(emulator).values():
        assert not obj["metadata"].get("finalizers"), obj["metadata"]
        assert not any("kopf" in key for key in obj["metadata"].get("annotations") or {})
    assert urgent["metadata"]["labels"]["kubescribe.io/origin"] == "request"
    assert urgent["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "kubescribe-operator"
    text = urgent["status"]["result"]["text"]
    assert len(words(text) & words(texts["c.wav"])) >= len(words(texts["c.wav"])) * 0.6, text

    # Requests that cannot be served say why, and nothing runs for them.
    for name, says in {
        "escape": "'..'",
        "missing": "no such file",
        "from-manual": "manual/",
    }.items():
        status = shown(emulator)[name]["status"]
        assert status["phase"] == "Rejected" and says in status["message"], (name, status)
        assert "kubescribe.io/origin" not in (shown(emulator)[name]["metadata"].get("labels") or {})
    assert len(kubelet.jobs) == 3
    assert "Traceback" not in proc.output()

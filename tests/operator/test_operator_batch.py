"""The operator end to end: emulated API, a kubelet running the real worker (WhisperX,
tiny.en on the CPU) for each Job, and the operator as its own process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kube_emulator import EmulatorServer  # type: ignore[import-not-found]
from kubelet import Fault, Kubelet  # type: ignore[import-not-found]
from operator_harness import (  # type: ignore[import-not-found]
    OperatorFactory,
    manual_status,
    terminal,
    wait_until,
)
from speechkit import ENGLISH_SENTENCES, have_speech_tools, speak
from test_operator_jobs import validate  # type: ignore[import-not-found]

from kubescribe_protocol.atomic import read_model
from kubescribe_protocol.codes import PERMANENT_ERRORS
from kubescribe_protocol.models import Result
from kubescribe_protocol.names import in_progress_path, result_path

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not have_speech_tools(), reason="needs espeak-ng and ffmpeg"),
]


def words(text: str) -> set[str]:
    return {word.strip(".,!?'").lower() for word in text.split()}


def assert_heard(root: Path, rel: str, spoken: str) -> Result:
    result = read_model(result_path(root / rel), Result)
    assert result is not None, rel
    heard, said = words(result.transcription.text), words(spoken)
    assert len(heard & said) >= len(said) * 0.6, (rel, result.transcription.text)
    assert not in_progress_path(root / rel).exists()
    return result


def jobs_of(kubelet: Kubelet, rel: str) -> list[dict[str, Any]]:
    return [j for j in kubelet.jobs if j["metadata"]["annotations"]["kubescribe.io/path"] == rel]


def events_by_job(emulator: EmulatorServer) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for event in emulator.objects("/v1/events"):
        found.setdefault(event["involvedObject"]["name"], []).append(event["reason"])
    return found


def test_a_batch_ends_in_results_retries_and_manual(
    root: Path, kubelet: Kubelet, operator: OperatorFactory, emulator: EmulatorServer
) -> None:
    good = {
        "talk one.wav": ENGLISH_SENTENCES[0],
        "team/Запись.mp3": ENGLISH_SENTENCES[1],
        "retry.wav": ENGLISH_SENTENCES[2],
    }
    for rel, text in good.items():
        speak(root / rel, text)
    (root / "notes.mp3").write_text("a text file with an audio file's name\n")
    kubelet.faults = {
        # OOMKilled first; the second attempt runs the worker and succeeds.
        ("retry.wav", 1): Fault("oom"),
        # Preempted: the Job's podFailurePolicy ignores it and a new pod runs the worker;
        # the operator sees one attempt that succeeded.
        ("talk one.wav", 1): Fault("preempt"),
    }
    proc = operator(parallel=2).start()
    files = [*good, "notes.mp3"]
    wait_until(
        lambda: all(terminal(root, rel) is not None for rel in files),
        240,
        "every file completed or in manual/",
        logs=proc.output,
    )
    for rel, text in good.items():
        assert terminal(root, rel) == "completed", proc.output()[-4000:]
        assert_heard(root, rel, text)
    retried = read_model(result_path(root / "retry.wav"), Result)
    assert retried is not None and retried.processing_stats is not None
    assert retried.processing_stats.total_attempts == 2
    assert [
        j["metadata"]["labels"]["kubescribe.io/attempt"] for j in jobs_of(kubelet, "retry.wav")
    ] == ["1", "2"]
    assert len(jobs_of(kubelet, "talk one.wav")) == 1

    # The bad file: the worker's own error, one attempt, straight to manual/.
    assert terminal(root, "notes.mp3") == "manual"
    bad = manual_status(root, "notes.mp3")
    assert bad["error"]["code"] in PERMANENT_ERRORS
    assert len(bad["attempts"]) == 1 and bad["attempts"][0]["exit_code"] == 10
    (bad_job,) = jobs_of(kubelet, "notes.mp3")

    wait_until(
        lambda: bad_job["metadata"]["name"] in events_by_job(emulator),
        30,
        "the Event on the bad file's Job",
        logs=proc.output,
    )
    events = events_by_job(emulator)
    assert events.get(jobs_of(kubelet, "retry.wav")[0]["metadata"]["name"]) == ["Retrying"]
    assert events.get(bad_job["metadata"]["name"]) == ["MovedToManual"]
    assert events.get(jobs_of(kubelet, "retry.wav")[1]["metadata"]["name"]) is None

    # Every Job as the operator sent it validates against the current Kubernetes schema.
    assert len(kubelet.jobs) == 5
    for job in kubelet.jobs:
        validate(job)
        assert "nvidia.com/gpu" not in json.dumps(job)  # device: cpu
    assert kubelet.peak_running <= 2
    assert "Traceback" not in proc.output()


def test_operator_killed_and_restarted_mid_batch(
    root: Path, kubelet: Kubelet, operator: OperatorFactory
) -> None:
    texts = {
        "a.wav": ENGLISH_SENTENCES[0],
        "b.wav": ENGLISH_SENTENCES[1],
        "c.wav": ENGLISH_SENTENCES[2],
        "d.wav": ENGLISH_SENTENCES[0],
    }
    for rel, text in texts.items():
        speak(root / rel, text)
    # b.wav's worker sits 30 s before it starts, so it still runs when the operator
    # comes back (it must be adopted, not run twice).
    kubelet.env_rule = lambda path, attempt: (
        {"KUBESCRIBE_TEST_STALL_SECONDS": "30"} if path == "b.wav" else {}
    )
    first = operator(parallel=3).start()
    wait_until(lambda: kubelet.running == 3, 60, "three pods running", logs=first.output)
    first.kill()
    started = {j["metadata"]["annotations"]["kubescribe.io/path"] for j in kubelet.jobs}
    assert len(started) == 3 and "b.wav" in started
    # While no operator runs: someone deletes one Job (its pod is stopped), and another
    # Job finishes.
    vanished = sorted(started - {"b.wav"})[0]
    (vanishing,) = jobs_of(kubelet, vanished)
    kubelet.delete_job(vanishing["metadata"]["name"])
    wait_until(lambda: len(kubelet.finished) >= 1, 120, "a Job to finish", logs=first.output)
    assert kubelet.running == 1  # only b.wav's pod still runs

    second = operator(parallel=3).start()
    wait_until(
        lambda: all(terminal(root, rel) == "completed" for rel in texts),
        240,
        "every file completed after the restart",
        logs=second.output,
    )
    for rel, text in texts.items():
        assert_heard(root, rel, text)
    attempts = [
        (
            j["metadata"]["annotations"]["kubescribe.io/path"],
            j["metadata"]["labels"]["kubescribe.io/attempt"],
        )
        for j in kubelet.jobs
    ]
    assert len(attempts) == len(set(attempts)), attempts  # no Job created twice
    # The adopted Job ran once; the file whose Job vanished got a new attempt; the
    # others ran once each.
    assert len(jobs_of(kubelet, "b.wav")) == 1
    assert len(jobs_of(kubelet, vanished)) == 2
    assert sorted(len(jobs_of(kubelet, rel)) for rel in texts) == [1, 1, 1, 2]
    assert "adopted live attempt b.wav" in second.output()
    assert "Traceback" not in first.output() + second.output()

"""The operator against the emulator, with pods that fail the ways pods fail.

No worker runs here (the kubelet makes each pod fail instead), so these are quick; the
scenarios with real transcription are in test_operator_batch.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from kube_emulator import EmulatorServer  # type: ignore[import-not-found]
from kubelet import Fault, Kubelet  # type: ignore[import-not-found]
from operator_harness import (  # type: ignore[import-not-found]
    OperatorFactory,
    manual_status,
    terminal,
    wait_until,
)
from test_operator_jobs import validate  # type: ignore[import-not-found]

from kubescribe_protocol.models import FileStatus, InProgress, Priority
from kubescribe_protocol.names import in_progress_path


def drop(root: Path, rel: str, mtime: float) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"RIFF" + os.urandom(64))
    os.utime(path, (mtime, mtime))
    return path


def events_by_job(emulator: EmulatorServer) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for event in emulator.objects("/v1/events"):
        found.setdefault(event["involvedObject"]["name"], []).append(event["reason"])
    return found


def test_priority_order_with_a_concurrency_limit_of_one(
    root: Path, kubelet: Kubelet, operator: OperatorFactory, emulator: EmulatorServer
) -> None:
    for number, rel in enumerate(["a.wav", "b/b.wav", "c.wav", "z.wav"]):
        drop(root, rel, 1_700_000_000 + number * 60)
    # z.wav is the newest, but an API client asked for it: a queued .in_progress.
    in_progress_path(root / "z.wav").write_text(
        InProgress(
            filename="z.wav", path="z.wav", status=FileStatus.QUEUED, priority=Priority.API_REQUEST
        ).model_dump_json()
    )
    kubelet.fault_rule = lambda path, attempt: Fault("oom")
    proc = operator(parallel=1, max_attempts=1).start()
    files = ["a.wav", "b/b.wav", "c.wav", "z.wav"]
    wait_until(
        lambda: all(terminal(root, rel) == "manual" for rel in files),
        60,
        "every file in manual/",
        logs=proc.output,
    )
    order = [job["metadata"]["annotations"]["kubescribe.io/path"] for job in kubelet.jobs]
    assert order == ["z.wav", "a.wav", "b/b.wav", "c.wav"]
    assert kubelet.peak_running == 1
    priorities = [job["metadata"]["labels"]["kubescribe.io/priority"] for job in kubelet.jobs]
    assert priorities == ["api_request", "auto_scan", "auto_scan", "auto_scan"]
    for job in kubelet.jobs:
        validate(job)
    jobs_by_path = {
        (job["metadata"]["annotations"]["kubescribe.io/path"], job["metadata"]["name"])
        for job in kubelet.jobs
    }
    for rel in files:
        status = manual_status(root, rel)
        assert status["error"]["code"] == "max_attempts_exceeded"
        assert status["attempts"][0]["error"]["code"] == "out_of_memory"
        assert status["attempts"][0]["executor"] == "kubernetes"
        # The Job's name is in the attempt's record, written before the Job existed.
        assert (rel, status["attempts"][0]["runner"]) in jobs_by_path
    assert proc.healthy()


def test_every_way_a_pod_fails_then_manual_after_max_attempts(
    root: Path, kubelet: Kubelet, operator: OperatorFactory, emulator: EmulatorServer
) -> None:
    drop(root, "one.wav", 1_700_000_000)
    drop(root, "two.wav", 1_700_000_060)
    drop(root, "three.wav", 1_700_000_120)
    kubelet.faults = {
        # A Job that succeeds but leaves no .result is a failed attempt.
        **{("three.wav", attempt): Fault("exit", 0) for attempt in (1, 2, 3)},
        ("one.wav", 1): Fault("delete"),
        ("one.wav", 2): Fault("deadline"),
        ("one.wav", 3): Fault("oom"),
        ("two.wav", 1): Fault("evict"),
        ("two.wav", 2): Fault("exit", 3),
        ("two.wav", 3): Fault("exit", 137),
    }
    proc = operator(parallel=2, max_attempts=3).start()
    wait_until(
        lambda: all(terminal(root, f"{n}.wav") == "manual" for n in ("one", "two", "three")),
        60,
        "every file in manual/",
        logs=proc.output,
    )
    one = manual_status(root, "one.wav")
    assert [a["error"]["code"] for a in one["attempts"]] == [
        "job_vanished",
        "timeout",
        "out_of_memory",
    ]
    assert one["error"]["code"] == "max_attempts_exceeded"
    two = manual_status(root, "two.wav")
    assert [a["error"]["code"] for a in two["attempts"]] == [
        "evicted",
        "worker_died",
        "worker_died",
    ]
    assert [a["exit_code"] for a in two["attempts"]] == [None, 3, 137]
    three = manual_status(root, "three.wav")
    assert [a["error"]["code"] for a in three["attempts"]] == ["no_result"] * 3
    # An Event on each Job: two retries, then the move to manual/ (posted right after
    # the core moved the file).
    wait_until(
        lambda: sum(map(len, events_by_job(emulator).values())) >= 9,
        30,
        "nine Events",
        logs=proc.output,
    )
    events = events_by_job(emulator)
    for rel in ("one.wav", "two.wav", "three.wav"):
        names = [
            job["metadata"]["name"]
            for job in kubelet.jobs
            if job["metadata"]["annotations"]["kubescribe.io/path"] == rel
        ]
        assert [events.get(name) for name in names] == [
            ["Retrying"],
            ["Retrying"],
            ["MovedToManual"],
        ], json.dumps(events, indent=1)
    assert len(kubelet.jobs) == 9

"""The Kubernetes executor against the emulator over HTTP, with Job events fed by hand.

What a watch would deliver is read back from the API (``read_job``) and given to
:meth:`KubernetesExecutor.observe`, so each step is deterministic.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kube_emulator import EmulatorServer  # type: ignore[import-not-found]

from kubescribe_operator.core.executor import AttemptKey, AttemptSpec, EndReason
from kubescribe_operator.k8s.executor import KubernetesExecutor
from kubescribe_operator.k8s.jobs import job_name
from kubescribe_operator.k8s.kube_api import KubeApi
from kubescribe_operator.k8s.kube_time import kube_time, micro_time
from kubescribe_operator.k8s.leader import LeaderElection
from kubescribe_operator.k8s.names import ANNOTATION_ANNOUNCED
from kubescribe_operator.settings import ControllerSettings
from kubescribe_protocol.models import Priority, utc_now


@pytest.fixture
def api(emulator: EmulatorServer, api_client: Any) -> KubeApi:
    return KubeApi(api_client, "default")


@pytest.fixture
def executor(api: KubeApi, root: Path) -> KubernetesExecutor:
    return KubernetesExecutor(api, ControllerSettings(root=root), sleep=lambda _: None)


def spec(root: Path, path: str = "talk.wav", attempt: int = 1, minutes: int = 30) -> AttemptSpec:
    return AttemptSpec(
        key=AttemptKey(path, attempt),
        root=root,
        priority=Priority.AUTO_SCAN,
        deadline=utc_now() + timedelta(minutes=minutes),
        wants_gpu=False,
    )


def finish(api: KubeApi, name: str, condition: str, reason: str = "") -> dict[str, Any]:
    """Mark a Job finished, as the Job controller would, and return its new body."""
    api._batch.patch_namespaced_job_status(
        name,
        "default",
        {"status": {"conditions": [{"type": condition, "status": "True", "reason": reason}]}},
        _content_type="application/merge-patch+json",
        _preload_content=False,
    )
    job = api.read_job(name)
    assert job is not None
    return job


def test_start_is_idempotent_and_a_success_costs_one_request(
    api: KubeApi, executor: KubernetesExecutor, root: Path
) -> None:
    first = spec(root)
    name = executor.start(first)
    assert name == job_name(first.key)
    assert executor.start(first) == name  # 409: the Job exists, it is adopted
    assert len(api.list_jobs({})) == 1
    assert executor.live() == {first.key}
    running, done = api.read_job(name) or {}, finish(api, name, "Complete")
    api.calls.clear()
    assert not executor.observe(running, "MODIFIED")
    assert executor.observe(done, "MODIFIED")
    (end,) = executor.collect()
    assert (end.key, end.reason, end.exit_code) == (first.key, EndReason.EXITED, 0)
    # The same end seen again (a relist, a later event) is not reported twice.
    assert not executor.observe(done, "MODIFIED")
    assert executor.collect() == []
    assert executor.live() == set()
    # Nothing polled: handling the events of a success made no request at all.
    assert sum(api.calls.values()) == 0


def test_a_finished_leftover_of_the_same_name_is_replaced(
    api: KubeApi, executor: KubernetesExecutor, root: Path
) -> None:
    old = spec(root, minutes=5)
    name = executor.start(old)
    finish(api, name, "Failed", "BackoffLimitExceeded")
    # The file went to manual/, came back, and its attempt 1 starts again: a new deadline.
    fresh = KubernetesExecutor(api, ControllerSettings(root=root), sleep=lambda _: None)
    assert fresh.start(spec(root, minutes=30)) == name
    job = api.read_job(name)
    assert job is not None and "Failed" not in str(job.get("status"))
    # Events of the old Job no longer count once the new one is known.
    assert fresh.live() == {old.key}


def test_restart_adopts_running_and_reports_ended_once(
    api: KubeApi, executor: KubernetesExecutor, root: Path
) -> None:
    running = executor.start(spec(root, "a.wav"))
    ended = executor.start(spec(root, "b.wav"))
    finish(api, ended, "Failed", "DeadlineExceeded")
    restarted = KubernetesExecutor(api, ControllerSettings(root=root))
    restarted.sync()
    assert restarted.live() == {AttemptKey("a.wav", 1)}
    (end,) = restarted.collect()
    assert (end.key, end.reason) == (AttemptKey("b.wav", 1), EndReason.DEADLINE_EXCEEDED)
    # kopf's first listing delivers the same Jobs again: nothing new.
    for name in (running, ended):
        restarted.observe(api.read_job(name) or {}, None)
    assert restarted.collect() == []


def test_stop_and_vanish(api: KubeApi, executor: KubernetesExecutor, root: Path) -> None:
    stopped = spec(root, "a.wav")
    name = executor.start(stopped)
    body = api.read_job(name) or {}
    executor.stop(stopped.key, EndReason.DEADLINE_EXCEEDED)
    assert api.read_job(name) is None
    assert executor.observe(body, "DELETED")
    (end,) = executor.collect()
    assert end.reason is EndReason.DEADLINE_EXCEEDED
    gone = spec(root, "b.wav")
    other = executor.start(gone)
    body = api.read_job(other) or {}
    api.delete_job(other)  # kubectl delete job
    assert executor.observe(body, "DELETED")
    (end,) = executor.collect()
    assert (end.key, end.reason) == (gone.key, EndReason.VANISHED)


def test_outcome_events_are_posted_once(
    api: KubeApi, executor: KubernetesExecutor, root: Path, emulator: EmulatorServer
) -> None:
    # A file in error after attempt 1, waiting for its retry.
    (root / "a.wav").write_bytes(b"x")
    (root / "a.wav.in_progress").write_text(
        '{"filename": "a.wav", "status": "error", "attempt": 1}'
    )
    name = executor.start(spec(root, "a.wav"))
    executor.observe(finish(api, name, "Failed", "DeadlineExceeded"), "MODIFIED")
    executor.collect()
    executor.announce_outcomes()
    job = api.read_job(name) or {}
    assert job["metadata"]["annotations"][ANNOTATION_ANNOUNCED] == "Retrying"
    restarted = KubernetesExecutor(api, ControllerSettings(root=root))
    restarted.sync()
    restarted.collect()
    restarted.announce_outcomes()
    reasons = [e["reason"] for e in emulator.objects("/v1/events")]
    assert reasons == ["Retrying"]


def test_only_one_leader_until_its_lease_runs_out(api: KubeApi) -> None:
    now = [utc_now()]
    first = LeaderElection(api, "one", lease_seconds=15, clock=lambda: now[0])
    second = LeaderElection(api, "two", lease_seconds=15, clock=lambda: now[0])
    assert first.try_acquire()
    assert not second.try_acquire()
    now[0] += timedelta(seconds=10)
    assert first.try_acquire()  # renewed
    now[0] += timedelta(seconds=10)
    assert not second.try_acquire()  # 10 s after the renewal: still held
    now[0] += timedelta(seconds=6)
    assert second.try_acquire()  # 16 s without renewal: taken over
    assert not first.try_acquire()
    second.release()
    assert first.try_acquire()  # released: no wait


def test_of_two_racers_for_an_expired_lease_one_wins(api: KubeApi) -> None:
    one = LeaderElection(api, "one")
    assert one.try_acquire()
    lease = api.read_lease(one.name)
    assert lease is not None
    # Two candidates read the same version; the second write carries a stale one.
    stale = {**lease, "spec": {**lease["spec"], "holderIdentity": "two"}}
    fresher = {**lease, "spec": {**lease["spec"], "holderIdentity": "three"}}
    assert api.write_lease(fresher)
    assert not api.write_lease(stale)
    assert (api.read_lease(one.name) or {})["spec"]["holderIdentity"] == "three"


def test_a_suspended_kueue_job_is_live_until_it_ends(api: KubeApi, root: Path) -> None:
    executor = KubernetesExecutor(api, ControllerSettings(root=root, kueue_queue_name="gpu"))
    key = spec(root).key
    name = executor.start(spec(root))
    job = api.read_job(name) or {}
    assert job["spec"]["suspend"] is True
    assert job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "gpu"
    assert not executor.observe(job, "MODIFIED")
    restarted = KubernetesExecutor(api, ControllerSettings(root=root, kueue_queue_name="gpu"))
    restarted.sync()
    assert restarted.live() == {key} and restarted.collect() == []


# kube-apiserver parses MicroTime with Go's "2006-01-02T15:04:05.000000Z07:00": exactly six
# fractional digits. A millisecond stamp (".961Z") is answered 422.
MICRO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
KUBE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def test_every_lease_write_has_six_fractional_digits(api: KubeApi) -> None:
    # A whole millisecond is the case that a millisecond formatter gets wrong.
    now = [datetime(2026, 12, 1, 20, 44, 33, 961000, tzinfo=UTC)]
    first = LeaderElection(api, "one", lease_seconds=15, clock=lambda: now[0])
    second = LeaderElection(api, "two", lease_seconds=15, clock=lambda: now[0])
    assert first.try_acquire()  # created
    now[0] += timedelta(seconds=5)
    assert first.try_acquire()  # renewed
    now[0] += timedelta(seconds=30)
    assert second.try_acquire()  # taken over
    spec = (api.read_lease(first.name) or {})["spec"]
    for field in ("acquireTime", "renewTime"):
        assert MICRO_TIME.match(spec[field]), (field, spec[field])
    assert spec["renewTime"] == "2026-12-01T20:45:08.961000Z"


def test_an_event_time_is_to_the_second(api: KubeApi, emulator: EmulatorServer) -> None:
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j", "uid": "u"}}
    api.post_event(job, "Retrying", "again", now=datetime(2026, 12, 1, 20, 44, 33, 961000))
    (event,) = emulator.objects("/v1/events")
    # The emulator gives the time back in its own form; what was sent had no fraction.
    for field in ("firstTimestamp", "lastTimestamp"):
        sent = datetime.fromisoformat(event[field].replace("Z", "+00:00"))
        assert sent == datetime(2026, 12, 1, 20, 44, 33, tzinfo=UTC), (field, event[field])


def test_the_two_kubernetes_time_formats() -> None:
    moment = datetime(2026, 12, 1, 20, 44, 33, 961000, tzinfo=UTC)
    assert micro_time(moment) == "2026-12-01T20:44:33.961000Z"
    assert MICRO_TIME.match(micro_time(moment.replace(microsecond=0)))
    assert kube_time(moment) == "2026-12-01T20:44:33Z"
    assert KUBE_TIME.match(kube_time(moment))

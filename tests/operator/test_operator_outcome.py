"""How a finished Job's end is read: Job conditions first, then the pod's termination."""

from __future__ import annotations

from typing import Any

from kubescribe_operator.core.executor import AttemptKey, EndReason
from kubescribe_operator.k8s.job_outcome import end_of_job, job_finished, job_needs_pods

KEY = AttemptKey("talk.mp3", 1)


def job(condition: str | None, reason: str = "", message: str = "") -> dict[str, Any]:
    conditions = [{"type": "SuccessCriteriaMet", "status": "True"}] if condition else []
    if condition:
        conditions.append(
            {"type": condition, "status": "True", "reason": reason, "message": message}
        )
    return {"metadata": {"name": "ks-talk"}, "status": {"conditions": conditions}}


def pod(
    *,
    exit_code: int | None = None,
    reason: str = "Error",
    pod_reason: str | None = None,
    disruption: str | None = None,
    created: str = "2026-01-01T00:00:00Z",
) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": "Failed", "conditions": []}
    if exit_code is not None:
        status["containerStatuses"] = [
            {"name": "worker", "state": {"terminated": {"exitCode": exit_code, "reason": reason}}}
        ]
    if pod_reason:
        status["reason"] = pod_reason
        status["message"] = "The node was low on resource: memory."
    if disruption:
        status["conditions"].append(
            {"type": "DisruptionTarget", "status": "True", "reason": disruption, "message": "x"}
        )
    return {"metadata": {"name": "ks-talk-abcde", "creationTimestamp": created}, "status": status}


def test_running_and_suspended_jobs_have_not_finished() -> None:
    assert not job_finished(job(None))
    assert not job_finished(job("Suspended", "JobSuspended"))
    # FailureTarget comes before the pods are gone; only the terminal condition counts.
    assert not job_finished(job("FailureTarget", "BackoffLimitExceeded"))
    assert job_finished(job("Complete"))
    assert job_finished(job("Failed", "BackoffLimitExceeded"))


def test_complete_is_exit_zero_without_asking_pods() -> None:
    done = job("Complete")
    assert not job_needs_pods(done)
    end = end_of_job(KEY, done)
    assert (end.reason, end.exit_code) == (EndReason.EXITED, 0)


def test_deadline_exceeded_needs_no_pods() -> None:
    failed = job("Failed", "DeadlineExceeded", "Job was active longer than specified deadline")
    assert not job_needs_pods(failed)
    assert end_of_job(KEY, failed).reason is EndReason.DEADLINE_EXCEEDED


def test_exit_codes_oom_and_signals_from_the_pod() -> None:
    policy = job("Failed", "PodFailurePolicy", "Container worker ... exit code 10 ... FailJob")
    assert job_needs_pods(policy)
    end = end_of_job(KEY, policy, [pod(exit_code=10)])
    assert (end.reason, end.exit_code) == (EndReason.EXITED, 10)
    backoff = job("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit")
    end = end_of_job(KEY, backoff, [pod(exit_code=1)])
    assert (end.reason, end.exit_code) == (EndReason.EXITED, 1)
    end = end_of_job(KEY, backoff, [pod(exit_code=137, reason="OOMKilled")])
    assert (end.reason, end.exit_code) == (EndReason.OOM_KILLED, 137)
    assert "OOMKilled" in end.detail
    end = end_of_job(KEY, backoff, [pod(exit_code=137)])
    assert end.reason is EndReason.KILLED


def test_eviction_by_pod_reason_or_disruption_condition() -> None:
    backoff = job("Failed", "BackoffLimitExceeded")
    evicted = end_of_job(KEY, backoff, [pod(pod_reason="Evicted")])
    assert evicted.reason is EndReason.EVICTED and "Evicted" in evicted.detail
    preempted = end_of_job(KEY, backoff, [pod(exit_code=143, disruption="PreemptionByScheduler")])
    assert preempted.reason is EndReason.EVICTED and "Preemption" in preempted.detail


def test_newest_pod_wins_and_no_pod_is_killed() -> None:
    backoff = job("Failed", "BackoffLimitExceeded")
    older = pod(exit_code=10, created="2026-01-01T00:00:00Z")
    newer = pod(exit_code=137, reason="OOMKilled", created="2026-01-01T00:05:00Z")
    assert end_of_job(KEY, backoff, [older, newer]).reason is EndReason.OOM_KILLED
    gone = end_of_job(KEY, backoff, [])
    assert gone.reason is EndReason.KILLED and "BackoffLimitExceeded" in gone.detail

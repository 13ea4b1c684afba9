"""How a finished Job ended, read from the Job's conditions and its pod's termination state.

Pure functions: the executor feeds them the Job body from a watch event and, for a
failed Job, the pods it listed. The core decides what an ending means (retry, manual/);
this module only translates Kubernetes' words into :class:`EndReason`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..core.executor import AttemptEnd, AttemptKey, EndReason
from .jobs import CONTAINER_NAME

#: Condition reasons of a failed Job (batch/v1).
REASON_DEADLINE = "DeadlineExceeded"
REASON_POD_FAILURE_POLICY = "PodFailurePolicy"
REASON_BACKOFF = "BackoffLimitExceeded"
#: The pod condition that marks preemption, eviction, node drain (k8s >= 1.26).
DISRUPTION_TARGET = "DisruptionTarget"


def _true_conditions(obj: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return {str(c.get("type")): c for c in conditions if str(c.get("status", "")).lower() == "true"}


def job_finished(job: Mapping[str, Any]) -> bool:
    """Whether the Job reached a terminal condition (its pods are gone or terminated)."""
    conditions = _true_conditions(job)
    return "Complete" in conditions or "Failed" in conditions


def job_succeeded(job: Mapping[str, Any]) -> bool:
    return "Complete" in _true_conditions(job)


def job_needs_pods(job: Mapping[str, Any]) -> bool:
    """Whether telling how the Job failed takes a look at its pods (one list call)."""
    failed = _true_conditions(job).get("Failed")
    return failed is not None and failed.get("reason") != REASON_DEADLINE


def _worker_termination(pod: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for status in (pod.get("status") or {}).get("containerStatuses") or []:
        if status.get("name") == CONTAINER_NAME:
            state = status.get("state") or {}
            last = status.get("lastState") or {}
            terminated = state.get("terminated") or last.get("terminated")
            if terminated:
                return dict(terminated)
    return None


def _pod_end(key: AttemptKey, pod: Mapping[str, Any], why: str) -> AttemptEnd | None:
    status = pod.get("status") or {}
    name = (pod.get("metadata") or {}).get("name", "?")
    disrupted = _true_conditions(pod).get(DISRUPTION_TARGET)
    if status.get("reason") == "Evicted" or disrupted is not None:
        reason = (disrupted or {}).get("reason") or status.get("reason") or "Evicted"
        message = (disrupted or {}).get("message") or status.get("message") or ""
        return AttemptEnd(key, EndReason.EVICTED, None, f"pod {name}: {reason}: {message}".strip())
    terminated = _worker_termination(pod)
    if terminated is None:
        return None
    exit_code = terminated.get("exitCode")
    term_reason = terminated.get("reason") or ""
    detail = f"{why}; pod {name}: {term_reason or 'terminated'}, exit code {exit_code}"
    if term_reason == "OOMKilled":
        return AttemptEnd(key, EndReason.OOM_KILLED, exit_code, detail)
    if term_reason == REASON_DEADLINE:
        return AttemptEnd(key, EndReason.DEADLINE_EXCEEDED, exit_code, detail)
    if isinstance(exit_code, int):
        # 128+N is a signal the worker did not catch (SIGKILL: 137) - nobody's exit code.
        if exit_code > 128:
            return AttemptEnd(key, EndReason.KILLED, exit_code, detail)
        return AttemptEnd(key, EndReason.EXITED, exit_code, detail)
    return None


def _newest_first(pods: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    def created(pod: Mapping[str, Any]) -> str:
        return str((pod.get("metadata") or {}).get("creationTimestamp") or "")

    return sorted(pods, key=created, reverse=True)


def end_of_job(
    key: AttemptKey, job: Mapping[str, Any], pods: Iterable[Mapping[str, Any]] = ()
) -> AttemptEnd:
    """The end of a finished Job's attempt. ``pods``: the Job's pods, needed for a failure."""
    conditions = _true_conditions(job)
    if "Complete" in conditions:
        # Whether it left a .result is for the core to check: the volume is the truth.
        return AttemptEnd(key, EndReason.EXITED, 0, "job complete")
    failed = conditions.get("Failed") or {}
    reason = str(failed.get("reason") or "")
    why = f"job failed: {reason or 'no reason'}: {failed.get('message') or ''}".strip()
    if reason == REASON_DEADLINE:
        return AttemptEnd(key, EndReason.DEADLINE_EXCEEDED, None, why)
    for pod in _newest_first(pods):
        end = _pod_end(key, pod, why)
        if end is not None:
            return end
    # No pod left to ask (garbage-collected, never scheduled): the Job's word is all.
    return AttemptEnd(key, EndReason.KILLED, None, why)


def vanished(key: AttemptKey, name: str) -> AttemptEnd:
    return AttemptEnd(key, EndReason.VANISHED, None, f"job {name} was deleted before it finished")

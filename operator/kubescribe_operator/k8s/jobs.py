"""The Kubernetes Job of one attempt, built by pure functions (no API calls here).

Everything about a Job that the operator later needs to read back is in its metadata:
the attempt's identity in labels (``kubescribe.io/file-hash``, ``kubescribe.io/attempt``)
and the full relative path in an annotation, because a path is not a valid label value.
The name is derived from the same two things, so creating the Job of an attempt twice
(after an operator crash) hits the same name and the API answers 409 instead of running
the file twice.
"""

from __future__ import annotations

import copy
import math
from datetime import datetime
from typing import Any

from kubescribe_protocol.codes import ExitCode
from kubescribe_protocol.models import Priority, format_time

from ..core.executor import AttemptKey, AttemptSpec, worker_command
from .names import (
    ANNOTATION_DEADLINE,
    ANNOTATION_PATH,
    LABEL_ATTEMPT,
    LABEL_FILE_HASH,
    LABEL_KUEUE_QUEUE,
    LABEL_PRIORITY,
    WORKER_COMPONENT,
    file_labels,
    name_of_path,
    path_hash,
    selector,
)
from .settings import KubernetesSettings

#: The label selector of every Job (and pod) this operator creates.
SELECTOR_LABELS = selector(WORKER_COMPONENT)

CONTAINER_NAME = "worker"
#: Where the model cache is mounted when ``model_dir`` does not say.
MODEL_CACHE_MOUNT = "/var/cache/kubescribe"
#: Writable scratch (ffmpeg, torch, HOME) on an otherwise read-only root filesystem.
SCRATCH_MOUNT = "/tmp"  # noqa: S108 - an emptyDir of the pod's own, not a shared /tmp

_NAME_PREFIX = "ks"


def job_name(key: AttemptKey) -> str:
    """The Job of an attempt: ``ks-<readable stem>-<hash>-a<attempt>``
    (:func:`.names.name_of_path`)."""
    return name_of_path(_NAME_PREFIX, key.path, f"-a{key.attempt}")


def job_labels(spec: AttemptSpec, settings: KubernetesSettings) -> dict[str, str]:
    labels = {
        **file_labels(WORKER_COMPONENT, spec.key.path),
        LABEL_ATTEMPT: str(spec.key.attempt),
        # Label values may not hold "_" at the ends only; "api_request" is valid.
        LABEL_PRIORITY: spec.priority.value,
    }
    if settings.kueue_queue_name:
        labels[LABEL_KUEUE_QUEUE] = settings.kueue_queue_name
    return labels


def job_annotations(spec: AttemptSpec) -> dict[str, str]:
    return {ANNOTATION_PATH: spec.key.path, ANNOTATION_DEADLINE: format_time(spec.deadline)}


def attempt_key_of(job: dict[str, Any]) -> AttemptKey | None:
    """The attempt a Job (or a watch event's body) belongs to; None if it is not ours."""
    metadata = job.get("metadata") or {}
    labels = metadata.get("labels") or {}
    annotations = metadata.get("annotations") or {}
    path = annotations.get(ANNOTATION_PATH)
    attempt = labels.get(LABEL_ATTEMPT)
    if not path or not attempt or not str(attempt).isdigit():
        return None
    # The label guards against an edited annotation pointing at some other file.
    if labels.get(LABEL_FILE_HASH) != path_hash(path):
        return None
    return AttemptKey(path=path, attempt=int(attempt))


def active_deadline_seconds(deadline: datetime, now: datetime) -> int:
    """The Job's ``activeDeadlineSeconds``: what is left of the attempt's deadline, at least 1."""
    return max(1, math.ceil((deadline - now).total_seconds()))


def _resources(spec: AttemptSpec, settings: KubernetesSettings) -> dict[str, Any]:
    resources: dict[str, Any] = copy.deepcopy(settings.worker_resources)
    if spec.wants_gpu and settings.gpu_count > 0:
        # Extended resources are set in limits; the request defaults to the same count.
        limits = resources.setdefault("limits", {})
        limits[settings.gpu_resource_name] = str(settings.gpu_count)
    return resources


def _volumes(spec: AttemptSpec, settings: KubernetesSettings) -> tuple[list[Any], list[Any]]:
    cache_mount = str(spec.model_dir) if spec.model_dir is not None else MODEL_CACHE_MOUNT
    cache: dict[str, Any] = (
        {"persistentVolumeClaim": {"claimName": settings.model_cache_pvc}}
        if settings.model_cache_pvc
        else {"emptyDir": {}}
    )
    volumes = [
        # The shared volume is mounted where the operator sees it, so the worker's
        # --root and every path in the status files mean the same thing in both.
        {"name": "data", "persistentVolumeClaim": {"claimName": settings.data_pvc}},
        {"name": "model-cache", **cache},
        {"name": "scratch", "emptyDir": {}},
    ]
    mounts = [
        {"name": "data", "mountPath": str(spec.root)},
        {"name": "model-cache", "mountPath": cache_mount},
        {"name": "scratch", "mountPath": SCRATCH_MOUNT},
    ]
    return volumes, mounts


def _env(spec: AttemptSpec) -> list[dict[str, str]]:
    env = {
        # A read-only root filesystem: everything that caches or writes at home goes to
        # the scratch emptyDir.
        "HOME": SCRATCH_MOUNT,
        "TMPDIR": SCRATCH_MOUNT,
        "XDG_CACHE_HOME": f"{SCRATCH_MOUNT}/cache",
        "NUMBA_CACHE_DIR": f"{SCRATCH_MOUNT}/numba",
        "MPLCONFIGDIR": f"{SCRATCH_MOUNT}/matplotlib",
        "PYTHONUNBUFFERED": "1",
        **spec.env,
    }
    return [{"name": name, "value": value} for name, value in sorted(env.items())]


def _security(settings: KubernetesSettings) -> tuple[dict[str, Any], dict[str, Any]]:
    pod = {
        "runAsNonRoot": True,
        "runAsUser": settings.run_as_user,
        "runAsGroup": settings.fs_group,
        # The worker writes .in_progress and .result on the shared volume.
        "fsGroup": settings.fs_group,
        # Skip the recursive chown of a large shared volume when its root already fits.
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    container = {
        "runAsNonRoot": True,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    return pod, container


def _pod_failure_policy() -> dict[str, Any]:
    return {
        "rules": [
            # "This input can never work": no retry inside the Job, and the operator
            # moves the file to manual/ at once.
            {
                "action": "FailJob",
                "onExitCodes": {
                    "containerName": CONTAINER_NAME,
                    "operator": "In",
                    "values": [int(ExitCode.BAD_INPUT)],
                },
            },
            # Preemption, eviction, node drain: not the file's fault; the Job makes a new
            # pod and this does not count against anything.
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
        ]
    }


def priority_class_for(priority: Priority, settings: KubernetesSettings) -> str | None:
    if priority is Priority.API_REQUEST:
        return settings.priority_class_api
    return settings.priority_class_scan


def build_job(spec: AttemptSpec, settings: KubernetesSettings, now: datetime) -> dict[str, Any]:
    """The Job manifest of one attempt (``batch/v1``), as a plain dict."""
    labels = job_labels(spec, settings)
    volumes, mounts = _volumes(spec, settings)
    pod_security, container_security = _security(settings)
    container: dict[str, Any] = {
        "name": CONTAINER_NAME,
        "image": settings.worker_image,
        "imagePullPolicy": settings.worker_image_pull_policy,
        # Exactly what the local executor runs.
        "command": worker_command(spec),
        "env": _env(spec),
        "resources": _resources(spec, settings),
        "securityContext": container_security,
        "volumeMounts": mounts,
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "serviceAccountName": settings.worker_service_account,
        # The worker never talks to the API.
        "automountServiceAccountToken": False,
        "securityContext": pod_security,
        "containers": [container],
        "volumes": volumes,
        # The worker traps SIGTERM, marks the attempt interrupted and exits.
        "terminationGracePeriodSeconds": 30,
    }
    if settings.job_node_selector:
        pod_spec["nodeSelector"] = dict(settings.job_node_selector)
    if settings.job_tolerations:
        pod_spec["tolerations"] = copy.deepcopy(settings.job_tolerations)
    if settings.job_affinity:
        pod_spec["affinity"] = copy.deepcopy(settings.job_affinity)
    if settings.job_runtime_class_name:
        pod_spec["runtimeClassName"] = settings.job_runtime_class_name
    priority_class = priority_class_for(spec.priority, settings)
    if priority_class:
        pod_spec["priorityClassName"] = priority_class

    job_spec: dict[str, Any] = {
        # The operator counts attempts itself, each one visible in .in_progress.
        "backoffLimit": 0,
        "activeDeadlineSeconds": active_deadline_seconds(spec.deadline, now),
        # Long enough that the outcome is still there after an operator outage.
        "ttlSecondsAfterFinished": settings.job_ttl_seconds,
        "podFailurePolicy": _pod_failure_policy(),
        "template": {
            "metadata": {"labels": dict(labels), "annotations": job_annotations(spec)},
            "spec": pod_spec,
        },
    }
    if settings.kueue_queue_name:
        # Kueue admits the Job by unsuspending it when its queue has quota.
        job_spec["suspend"] = True
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job_name(spec.key),
            "namespace": settings.namespace,
            "labels": labels,
            "annotations": job_annotations(spec),
        },
        "spec": job_spec,
    }

"""The Job manifest of an attempt: name, labels, scheduling, security, lifecycle."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import kubernetes_validate
import pss_restricted
import pytest

from kubescribe_operator.core.executor import AttemptKey, AttemptSpec, worker_command
from kubescribe_operator.k8s.jobs import attempt_key_of, build_job, job_name
from kubescribe_operator.k8s.names import ANNOTATION_PATH, LABEL_KUEUE_QUEUE, MAX_NAME_LENGTH
from kubescribe_operator.settings import ControllerSettings
from kubescribe_protocol.models import Priority

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
GOLDEN = Path(__file__).parent / "golden" / "job_gpu_api_request.json"
DNS_1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
#: The newest Kubernetes schema kubernetes-validate ships.
K8S_VERSION = kubernetes_validate.latest_version()

AWKWARD_PATHS = [
    "talk.mp3",
    "a/b/c/Interview (final) — copy 2.MP3",
    "Запись разговора с клиентом.ogg",
    "日本語の会議.m4a",
    "-.wav",
    "___.flac",
    "x" * 250 + ".mp3",
    "deep/" * 40 + "clip.opus",
    "spaces   and\ttabs.wav",
    "..weird..name...mp3",
]


def spec_for(
    path: str = "talk.mp3",
    attempt: int = 1,
    *,
    priority: Priority = Priority.AUTO_SCAN,
    wants_gpu: bool = False,
    root: Path = Path("/data"),
    model_dir: Path | None = Path("/models"),
) -> AttemptSpec:
    return AttemptSpec(
        key=AttemptKey(path, attempt),
        root=root,
        priority=priority,
        deadline=NOW + timedelta(minutes=30),
        wants_gpu=wants_gpu,
        model_dir=model_dir,
    )


def validate(job: dict[str, Any]) -> None:
    kubernetes_validate.validate(job, K8S_VERSION, strict=True)


@pytest.mark.parametrize("path", AWKWARD_PATHS)
@pytest.mark.parametrize("attempt", [1, 7, 123456])
def test_name_and_labels_are_valid_for_any_file_name(path: str, attempt: int) -> None:
    job = build_job(spec_for(path, attempt), ControllerSettings(), NOW)
    name = job["metadata"]["name"]
    assert len(name) <= MAX_NAME_LENGTH
    assert DNS_1123_LABEL.match(name), name
    for key, value in job["metadata"]["labels"].items():
        assert len(value) <= 63 and LABEL_VALUE.match(value), (key, value)
    assert job["metadata"]["annotations"][ANNOTATION_PATH] == path
    assert attempt_key_of(job) == AttemptKey(path, attempt)
    validate(job)


def test_name_is_deterministic_and_differs_by_path_and_attempt() -> None:
    assert job_name(AttemptKey("a/talk.mp3", 1)) == job_name(AttemptKey("a/talk.mp3", 1))
    names = {
        job_name(AttemptKey(path, attempt))
        for path in ("a/talk.mp3", "b/talk.mp3", "a/talk.wav", "a/Talk.mp3")
        for attempt in (1, 2)
    }
    assert len(names) == 8
    assert job_name(AttemptKey("a/talk.mp3", 2)).startswith("ks-talk-mp3-")


def test_a_job_not_ours_or_edited_maps_to_no_attempt() -> None:
    job = build_job(spec_for("talk.mp3"), ControllerSettings(), NOW)
    assert attempt_key_of({"metadata": {"name": "other"}}) is None
    job["metadata"]["annotations"][ANNOTATION_PATH] = "someone-else.mp3"
    assert attempt_key_of(job) is None


def test_runs_the_worker_command_of_local_mode_with_the_volume_at_the_same_path() -> None:
    spec = spec_for("in/talk.mp3", 3, root=Path("/srv/audio"))
    job = build_job(spec, ControllerSettings(data_pvc="shared"), NOW)
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == worker_command(spec)
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert mounts["data"] == "/srv/audio"
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == "shared"
    assert mounts["model-cache"] == "/models"
    assert "emptyDir" in volumes["model-cache"]
    with_cache = build_job(spec, ControllerSettings(model_cache_pvc="models"), NOW)
    cache = {v["name"]: v for v in with_cache["spec"]["template"]["spec"]["volumes"]}
    assert cache["model-cache"]["persistentVolumeClaim"]["claimName"] == "models"


def test_gpu_request_by_default_and_none_on_cpu() -> None:
    settings = ControllerSettings()
    gpu = build_job(spec_for(wants_gpu=True), settings, NOW)
    limits = gpu["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits["nvidia.com/gpu"] == "1"
    cpu = build_job(spec_for(wants_gpu=False), settings, NOW)
    resources = cpu["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert not any("gpu" in name for part in resources.values() for name in part)
    custom = ControllerSettings(gpu_resource_name="amd.com/gpu", gpu_count=2)
    limits = build_job(spec_for(wants_gpu=True), custom, NOW)["spec"]["template"]["spec"][
        "containers"
    ][0]["resources"]["limits"]
    assert limits["amd.com/gpu"] == "2" and "nvidia.com/gpu" not in limits
    none = ControllerSettings(gpu_count=0)
    limits = build_job(spec_for(wants_gpu=True), none, NOW)["spec"]["template"]["spec"][
        "containers"
    ][0]["resources"]["limits"]
    assert not any("gpu" in name for name in limits)
    # The settings' own dict is never changed by building a Job.
    assert "nvidia.com/gpu" not in settings.worker_resources["limits"]


def test_scheduling_knobs_and_priority_classes() -> None:
    settings = ControllerSettings(
        job_node_selector={"gpu": "a100"},
        job_tolerations=[{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
        job_affinity={
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}
                    ]
                }
            }
        },
        job_runtime_class_name="nvidia",
        priority_class_api="kubescribe-api",
        priority_class_scan="kubescribe-scan",
    )
    api = build_job(spec_for(priority=Priority.API_REQUEST, wants_gpu=True), settings, NOW)
    pod = api["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"gpu": "a100"}
    assert pod["tolerations"][0]["key"] == "gpu"
    assert pod["affinity"]["nodeAffinity"]
    assert pod["runtimeClassName"] == "nvidia"
    assert pod["priorityClassName"] == "kubescribe-api"
    assert api["metadata"]["labels"]["kubescribe.io/priority"] == "api_request"
    scan = build_job(spec_for(), settings, NOW)
    assert scan["spec"]["template"]["spec"]["priorityClassName"] == "kubescribe-scan"
    validate(api)
    validate(scan)
    plain = build_job(spec_for(), ControllerSettings(), NOW)["spec"]["template"]["spec"]
    for key in ("nodeSelector", "tolerations", "affinity", "runtimeClassName"):
        assert key not in plain


def test_restricted_pod_security() -> None:
    job = build_job(spec_for(wants_gpu=True), ControllerSettings(), NOW)
    pod = job["spec"]["template"]["spec"]
    assert pss_restricted.violations(pod) == []
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["securityContext"]["fsGroup"] == 10001
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == "kubescribe-worker"
    # Writable places on the read-only root: an emptyDir at /tmp, HOME and caches in it.
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert "/tmp" in mounts
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["HOME"].startswith("/tmp")


def test_lifecycle_one_try_per_job_and_fail_fast_on_bad_input() -> None:
    settings = ControllerSettings(job_ttl_seconds=3 * 86400)
    job = build_job(spec_for(), settings, NOW)["spec"]
    assert job["backoffLimit"] == 0
    assert job["template"]["spec"]["restartPolicy"] == "Never"
    assert job["activeDeadlineSeconds"] == 30 * 60
    assert job["ttlSecondsAfterFinished"] == 3 * 86400
    fail, ignore = job["podFailurePolicy"]["rules"]
    assert fail["action"] == "FailJob" and fail["onExitCodes"]["values"] == [10]
    assert ignore == {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}
    assert "suspend" not in job
    # A deadline already past still gives the Job a valid (positive) deadline.
    late = build_job(spec_for(), settings, NOW + timedelta(hours=2))["spec"]
    assert late["activeDeadlineSeconds"] == 1


def test_kueue_queue_label_and_suspended() -> None:
    job = build_job(spec_for(), ControllerSettings(kueue_queue_name="gpu-queue"), NOW)
    assert job["metadata"]["labels"][LABEL_KUEUE_QUEUE] == "gpu-queue"
    assert job["spec"]["suspend"] is True
    validate(job)


def test_golden_job() -> None:
    """The whole manifest for a GPU attempt of an API request, as committed. Regenerate
    with KUBESCRIBE_UPDATE_GOLDEN=1 after a deliberate change, and review the diff."""
    settings = ControllerSettings(
        namespace="transcribe",
        worker_image="ghcr.io/kubescribe/worker:0.1.0",
        priority_class_api="kubescribe-api",
        model_cache_pvc="kubescribe-models",
    )
    job = build_job(
        spec_for("team/meeting 2026-01-02.mp3", 2, priority=Priority.API_REQUEST, wants_gpu=True),
        settings,
        NOW,
    )
    validate(job)
    text = json.dumps(job, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    if os.environ.get("KUBESCRIBE_UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text, encoding="utf-8")
    assert text == GOLDEN.read_text(encoding="utf-8")


def test_validation_rejects_a_broken_job() -> None:
    """The validator used above does catch mistakes (so a pass means something)."""
    job = build_job(spec_for(), ControllerSettings(), NOW)
    job["spec"]["backoffLimit"] = "zero"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(job)
    job = build_job(spec_for(), ControllerSettings(), NOW)
    job["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy2"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(job)

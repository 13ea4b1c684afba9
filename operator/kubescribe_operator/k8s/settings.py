"""What the operator knows, on top of the core's and the API's settings: the Jobs, the
Lease, the Transcription mirror."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ..api.settings import ApiSettings


class KubernetesSettings(ApiSettings):
    """The operator's knobs (the operator only)."""

    namespace: str = Field("default", description="namespace of the Jobs")
    data_pvc: str = Field("kubescribe-data", description="the shared volume's claim")
    model_cache_pvc: str | None = Field(None, description="claim holding model_dir, if any")
    worker_image: str = Field("ghcr.io/kubescribe/worker:0.1.0")
    worker_image_pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    worker_service_account: str = "kubescribe-worker"
    gpu_resource_name: str = "nvidia.com/gpu"
    gpu_count: int = Field(1, ge=0)
    worker_resources: dict[str, Any] = Field(
        default_factory=lambda: {
            "requests": {"cpu": "1", "memory": "4Gi"},
            "limits": {"memory": "16Gi"},
        }
    )
    job_node_selector: dict[str, str] = Field(default_factory=dict)
    job_tolerations: list[dict[str, Any]] = Field(default_factory=list)
    job_affinity: dict[str, Any] = Field(default_factory=dict)
    job_runtime_class_name: str | None = None
    priority_class_api: str | None = Field(None, description="priorityClassName, API requests")
    priority_class_scan: str | None = Field(None, description="priorityClassName, scanned files")
    job_ttl_seconds: int = Field(
        7 * 24 * 3600, ge=0, description="ttlSecondsAfterFinished: outlives an operator outage"
    )
    run_as_user: int = 10001
    fs_group: int = 10001
    kueue_queue_name: str | None = Field(None, description="Kueue LocalQueue; Jobs start suspended")
    leader_lease_seconds: int = Field(
        15, ge=2, description="operator leader Lease: a successor waits this long after a crash"
    )
    transcription_completed_ttl_seconds: float = Field(
        86400.0,
        ge=0,
        description="a completed file's Transcription object is kept this long, then deleted",
    )

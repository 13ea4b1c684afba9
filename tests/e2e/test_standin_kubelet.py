"""The stand-in kubelet on the real control plane: the real Job controller decides."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from e2e.kubekit import Cluster, wait_until
from e2e.standin_kubelet import Fault, StandinKubelet, in_namespace, rewrite_path

pytestmark = pytest.mark.e2e


def _job(name: str, script: str, *, backoff: int = 0, **pod: Any) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            "backoffLimit": backoff,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [
                        {"name": "main", "image": "busybox", "command": ["sh", "-c", script]}
                    ],
                    **pod,
                }
            },
        },
    }


def _pods(cluster: Cluster, namespace: str, job: str) -> list[dict[str, Any]]:
    listed = cluster.api.get(
        f"/api/v1/namespaces/{namespace}/pods", labelSelector=f"job-name={job}"
    )
    return list(listed["items"])


def test_nodes_are_ready_with_gpus(cluster: Cluster, kubelet: StandinKubelet) -> None:
    for name in kubelet.node_specs:
        node = cluster.api.get(f"/api/v1/nodes/{name}")
        assert node["status"]["capacity"]["nvidia.com/gpu"] == "1"
        ready = {c["type"]: c["status"] for c in node["status"]["conditions"]}["Ready"]
        assert ready == "True"
        lease = cluster.api.get(
            f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{name}"
        )
        assert lease["spec"]["holderIdentity"] == name


def test_job_completes(
    cluster: Cluster, kubelet: StandinKubelet, namespace: str, tmp_path: Path
) -> None:
    cluster.create_claim(namespace, "data")
    cluster.hostpath_volume(tmp_path / "data", namespace=namespace, claim="data")
    job = _job(
        "ok",
        # A path inside a script is not rewritten; one in an env value or an arg is.
        'echo "$MY_NAME in $MY_NS" > "$OUT"',
        volumes=[
            {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
        ],
    )
    container = job["spec"]["template"]["spec"]["containers"][0]
    container["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    container["env"] = [
        {"name": "MY_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "MY_NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "OUT", "value": "/data/out.txt"},
    ]
    cluster.api.create(f"/apis/batch/v1/namespaces/{namespace}/jobs", job)
    cluster.wait_job_condition(namespace, "ok", "Complete")
    (pod,) = _pods(cluster, namespace, "ok")
    assert pod["status"]["phase"] == "Succeeded"
    terminated = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    assert terminated["exitCode"] == 0 and terminated["reason"] == "Completed"
    assert (
        tmp_path / "data" / "out.txt"
    ).read_text() == f"{pod['metadata']['name']} in {namespace}\n"


def test_failing_job_fails_after_its_backoff_limit(
    cluster: Cluster, kubelet: StandinKubelet, namespace: str
) -> None:
    cluster.api.create(
        f"/apis/batch/v1/namespaces/{namespace}/jobs", _job("bad", "exit 3", backoff=1)
    )
    job = cluster.wait_job_condition(namespace, "bad", "Failed", timeout=180)
    assert job["status"]["failed"] == 2
    codes = sorted(
        p["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"]
        for p in _pods(cluster, namespace, "bad")
    )
    assert codes == [3, 3]


def test_oom_and_exit_faults_reach_the_pod_failure_policy(
    cluster: Cluster, kubelet: StandinKubelet, namespace: str
) -> None:
    kubelet.inject(Fault.oom(), in_namespace(namespace))
    job = _job("oom", "exit 0", backoff=1)
    job["spec"]["podFailurePolicy"] = {
        "rules": [
            {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}},
        ]
    }
    cluster.api.create(f"/apis/batch/v1/namespaces/{namespace}/jobs", job)
    cluster.wait_job_condition(namespace, "oom", "Complete", timeout=180)
    states = [
        p["status"]["containerStatuses"][0]["state"]["terminated"]
        for p in _pods(cluster, namespace, "oom")
    ]
    assert sorted((s["exitCode"], s["reason"]) for s in states) == [
        (0, "Completed"),
        (137, "OOMKilled"),
    ]

    kubelet.inject(Fault.exit(42), in_namespace(namespace))
    job = _job("fatal", "exit 0", backoff=3)
    job["spec"]["podFailurePolicy"] = {
        "rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}}]
    }
    cluster.api.create(f"/apis/batch/v1/namespaces/{namespace}/jobs", job)
    failed = cluster.wait_job_condition(namespace, "fatal", "Failed", timeout=180)
    reasons = {c["type"]: c.get("reason") for c in failed["status"]["conditions"]}
    assert reasons["Failed"] == "PodFailurePolicy"
    assert failed["status"].get("failed") == 1


def test_eviction_is_a_disruption_not_a_failure(
    cluster: Cluster, kubelet: StandinKubelet, namespace: str
) -> None:
    rule = kubelet.inject(Fault.evict(after=1.0), in_namespace(namespace))
    job = _job("evicted", "exit 0", backoff=0)
    job["spec"]["podFailurePolicy"] = {
        "rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]
    }
    cluster.api.create(f"/apis/batch/v1/namespaces/{namespace}/jobs", job)
    done = cluster.wait_job_condition(namespace, "evicted", "Complete", timeout=180)
    assert len(rule.applied) == 1
    assert done["status"]["succeeded"] == 1
    assert not done["status"].get("failed")


def test_hanging_pod_ends_when_deleted(
    cluster: Cluster, kubelet: StandinKubelet, namespace: str
) -> None:
    kubelet.inject(Fault.hang(), in_namespace(namespace))
    cluster.api.create(f"/apis/batch/v1/namespaces/{namespace}/jobs", _job("hang", "exit 0"))

    def running() -> list[dict[str, Any]]:
        return [
            p for p in _pods(cluster, namespace, "hang") if p["status"].get("phase") == "Running"
        ]

    (pod,) = wait_until(running, what="the hanging pod Running")
    cluster.api.delete(
        f"/apis/batch/v1/namespaces/{namespace}/jobs/hang", propagationPolicy="Background"
    )
    name = pod["metadata"]["name"]
    wait_until(
        lambda: not cluster.api.exists(f"/api/v1/namespaces/{namespace}/pods/{name}"),
        what="the hanging pod gone",
    )


def test_node_goes_not_ready_and_back(cluster: Cluster, kubelet: StandinKubelet) -> None:
    node = "gpu-node-2"
    kubelet.set_node_ready(node, False)

    def tainted() -> bool:
        taints = cluster.api.get(f"/api/v1/nodes/{node}")["spec"].get("taints") or []
        return any(t["key"] == "node.kubernetes.io/not-ready" for t in taints)

    wait_until(tainted, what="the node-lifecycle controller's not-ready taint")
    kubelet.set_node_ready(node, True)
    kubelet.wait_node_schedulable(node)


def test_rewrite_path() -> None:
    mounts = {"/data": Path("/host/d"), "/tmp": Path("/host/t"), "/data/models": Path("/m")}
    assert rewrite_path("/data", mounts) == "/host/d"
    assert rewrite_path("/data/a/b", mounts) == "/host/d/a/b"
    assert rewrite_path("/data/models/x", mounts) == "/m/x"
    assert rewrite_path("--root=/data/x", mounts) == "--root=/host/d/x"
    assert rewrite_path("/datax", mounts) == "/datax"
    assert rewrite_path("relative/data", mounts) == "relative/data"

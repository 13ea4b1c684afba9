"""The chart installed with helm on the real control plane, into Pod Security restricted.

The API server refuses what a user's cluster would refuse (schema, RBAC escalation, Pod
Security), and the real controllers act: the PV binder binds the chart's claims to the
hostPath volumes made for them, the Job controller runs the model-fill Job on the
stand-in kubelet (``kubescribe models`` from the test's environment) and the ReplicaSet
controller creates the operator's pod, which the admission must let in. The operator's
pod is held at ``ErrImagePull``: running the operator is the operator tests' part.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from e2e.kubekit import REPO, Cluster, wait_until
from e2e.standin_kubelet import Fault, StandinKubelet

pytestmark = pytest.mark.e2e

CHART = REPO / "charts" / "kubescribe"
HERE = Path(__file__).resolve().parent
#: Where the cluster's objects of each kind are read (kinds the chart renders).
PATHS = {
    "ServiceAccount": "/api/v1/namespaces/{ns}/serviceaccounts/{name}",
    "Secret": "/api/v1/namespaces/{ns}/secrets/{name}",
    "Service": "/api/v1/namespaces/{ns}/services/{name}",
    "PersistentVolumeClaim": "/api/v1/namespaces/{ns}/persistentvolumeclaims/{name}",
    "Role": "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles/{name}",
    "RoleBinding": "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings/{name}",
    "Deployment": "/apis/apps/v1/namespaces/{ns}/deployments/{name}",
    "Job": "/apis/batch/v1/namespaces/{ns}/jobs/{name}",
    "NetworkPolicy": "/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies/{name}",
    "Ingress": "/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses/{name}",
    "PriorityClass": "/apis/scheduling.k8s.io/v1/priorityclasses/{name}",
    "CustomResourceDefinition": "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}",
}


def _render(
    cluster: Cluster, release: str, namespace: str, values: list[Path]
) -> list[dict[str, Any]]:
    flags = [arg for path in values for arg in ("-f", str(path))]
    done = cluster.helm(
        "template", release, str(CHART), "--namespace", namespace, "--include-crds", *flags
    )
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def _component(pod: dict[str, Any]) -> str:
    return str(((pod.get("metadata") or {}).get("labels") or {}).get("app.kubernetes.io/component"))


def _install_and_check(
    cluster: Cluster,
    kubelet: StandinKubelet,
    namespace: str,
    tmp_path: Path,
    release: str,
    values: list[Path],
) -> list[dict[str, Any]]:
    kubelet.inject(
        Fault.image_pull(),
        lambda pod: pod["metadata"]["namespace"] == namespace and _component(pod) == "operator",
        times=None,
    )
    objects = _render(cluster, release, namespace, values)
    claims = [o for o in objects if o["kind"] == "PersistentVolumeClaim"]
    assert claims, "the chart made no claim"
    for claim in claims:
        cluster.hostpath_volume(
            tmp_path / claim["metadata"]["name"],
            namespace=namespace,
            claim=claim["metadata"]["name"],
            size=claim["spec"]["resources"]["requests"]["storage"],
            access_modes=tuple(claim["spec"]["accessModes"]),
        )

    flags = [arg for path in values for arg in ("-f", str(path))]
    done = cluster.helm("install", release, str(CHART), "--namespace", namespace, *flags)
    # Pod Security warns (the namespace has warn=restricted) about any template it would
    # refuse; the API server warns about deprecated or unknown fields.
    assert "warning" not in done.stderr.lower(), done.stderr

    for obj in objects:
        path = PATHS[obj["kind"]].format(ns=namespace, name=obj["metadata"]["name"])
        assert cluster.api.exists(path), f"{obj['kind']} {obj['metadata']['name']} not created"
    for claim in claims:
        cluster.wait_bound(namespace, claim["metadata"]["name"])

    fill = next(o for o in objects if o["kind"] == "Job")
    cluster.wait_job_condition(namespace, fill["metadata"]["name"], "Complete", timeout=180)
    mount = fill["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]
    models_claim = next(
        v["persistentVolumeClaim"]["claimName"]
        for v in fill["spec"]["template"]["spec"]["volumes"]
        if v["name"] == mount["name"]
    )
    laid_out = {p.name for p in (tmp_path / models_claim).iterdir()}
    assert {"tiny.en", "base"} <= laid_out

    # The ReplicaSet controller made the operator's pod: Pod Security let it in.
    def operator_pod() -> list[dict[str, Any]]:
        pods = cluster.api.get(f"/api/v1/namespaces/{namespace}/pods")["items"]
        return [p for p in pods if _component(p) == "operator"]

    wait_until(operator_pod, what="the operator Deployment's pod")
    events = cluster.api.get(f"/api/v1/namespaces/{namespace}/events")["items"]
    # (FailedScheduling is no refusal: a pod may wait a moment for its claims to bind.)
    refused = [e for e in events if e.get("reason") == "FailedCreate"]
    assert refused == [], [e.get("message") for e in refused]
    return objects


def test_default_values_install_into_restricted_namespace(
    cluster: Cluster, kubelet: StandinKubelet, restricted_namespace: str, tmp_path: Path
) -> None:
    objects = _install_and_check(cluster, kubelet, restricted_namespace, tmp_path, "kubescribe", [])
    kinds = {o["kind"] for o in objects}
    assert {"Deployment", "Job", "NetworkPolicy", "Role"} <= kinds
    cluster.helm("uninstall", "kubescribe", "--namespace", restricted_namespace)


def test_api_networkpolicies_and_priorityclasses_install_into_restricted_namespace(
    cluster: Cluster, kubelet: StandinKubelet, restricted_namespace: str, tmp_path: Path
) -> None:
    release = "features"
    objects = _install_and_check(
        cluster, kubelet, restricted_namespace, tmp_path, release, [HERE / "values-features.yaml"]
    )
    kinds = {o["kind"] for o in objects}
    assert {"PriorityClass", "NetworkPolicy", "Ingress", "Secret", "Service"} <= kinds
    # The Deployment's pod template names the classes the chart created.
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    env = {
        e["name"]: e.get("value")
        for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    classes = {o["metadata"]["name"] for o in objects if o["kind"] == "PriorityClass"}
    assert {env["KUBESCRIBE_PRIORITY_CLASS_API"], env["KUBESCRIBE_PRIORITY_CLASS_SCAN"]} == classes
    # PriorityClasses are cluster-wide: uninstall removes them for the next session's tests.
    cluster.helm("uninstall", release, "--namespace", restricted_namespace)

    def all_gone() -> bool:
        return not any(
            cluster.api.exists(f"/apis/scheduling.k8s.io/v1/priorityclasses/{name}")
            for name in classes
        )

    wait_until(all_gone, what=f"PriorityClasses {sorted(classes)} deleted")

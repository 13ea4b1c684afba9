"""manifests/ is the chart rendered with its default values, and stays so."""

from __future__ import annotations

import kubernetes_validate

from chart.chartkit import NAMESPACE, REPO, load_documents, render_text

MANIFESTS = REPO / "manifests"


def test_manifests_are_the_chart_rendered_with_default_values() -> None:
    committed = (MANIFESTS / "kubescribe.yaml").read_text()
    header, _, body = committed.partition("---\n")
    assert "scripts/tools/render-manifests" in header
    assert "---\n" + body == render_text([]), (
        "manifests/kubescribe.yaml drifted from the chart: run scripts/tools/render-manifests"
    )


def test_manifests_apply_into_their_own_restricted_namespace() -> None:
    (namespace,) = load_documents((MANIFESTS / "00-namespace.yaml").read_text())
    assert namespace["kind"] == "Namespace"
    assert namespace["metadata"]["name"] == NAMESPACE
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    kubernetes_validate.validate(namespace, kubernetes_validate.utils.latest_version(), strict=True)
    objects = load_documents((MANIFESTS / "kubescribe.yaml").read_text())
    # Everything but the CRD (cluster-wide by nature) lands in the one namespace.
    assert {
        obj["metadata"].get("namespace")
        for obj in objects
        if obj["kind"] != "CustomResourceDefinition"
    } == {NAMESPACE}


def test_manifests_readme_says_what_to_edit() -> None:
    text = (MANIFESTS / "README.md").read_text()
    for needle in ("kubectl apply -f manifests/", "storageClassName", "KUBESCRIBE_DEFAULTS"):
        assert needle in text

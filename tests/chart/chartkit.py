"""Render the chart with helm (from the PyPI package, via scripts/tools/helm) for the tests."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "kubescribe"
HELM = REPO / "scripts" / "tools" / "helm"
HERE = Path(__file__).resolve().parent
RELEASE = "kubescribe"
NAMESPACE = "kubescribe"

#: Values files the chart is rendered with: the defaults, every optional feature on,
#: and every optional feature off (existing claims and service accounts, no RBAC).
VARIANTS: dict[str, list[Path]] = {
    "default": [],
    "maximal": [HERE / "values-maximal.yaml"],
    "minimal": [HERE / "values-minimal.yaml"],
}


class _UniqueKeyLoader(yaml.SafeLoader):
    """A YAML loader that refuses a mapping with one key twice (PyYAML keeps the last)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def load_documents(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.load_all(text, Loader=_UniqueKeyLoader) if doc]


def helm(*args: str) -> subprocess.CompletedProcess[str]:
    """Run helm; the result's returncode is the caller's to check."""
    return subprocess.run([str(HELM), *args], capture_output=True, text=True, timeout=120)


def template_args(values: list[Path], *extra: str) -> list[str]:
    args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE, "--include-crds"]
    for path in values:
        args += ["--values", str(path)]
    return [*args, *extra]


def render_text(values: list[Path], *extra: str) -> str:
    result = helm(*template_args(values, *extra))
    assert result.returncode == 0, result.stderr
    return result.stdout


def load_values(variant: str) -> dict[str, Any]:
    """The chart's values.yaml with the variant's files merged over it (as helm does)."""
    merged: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    for path in VARIANTS[variant]:
        _merge(merged, yaml.safe_load(path.read_text()))
    return merged


def _merge(base: dict[str, Any], over: dict[str, Any]) -> None:
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def by_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [obj for obj in objects if obj["kind"] == kind]


def one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = by_kind(objects, kind)
    assert len(found) == 1, f"{len(found)} {kind} objects"
    return found[0]


def pod_specs(objects: list[dict[str, Any]]) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """``kind/name`` -> (pod spec, pod metadata) of every object that makes pods."""
    found = {}
    for obj in objects:
        if obj["kind"] == "Pod":
            found[f"Pod/{obj['metadata']['name']}"] = (obj["spec"], obj["metadata"])
        elif obj["kind"] in {"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"}:
            template = obj["spec"]["template"]
            found[f"{obj['kind']}/{obj['metadata']['name']}"] = (
                template["spec"],
                template.get("metadata") or {},
            )
        elif obj["kind"] == "CronJob":
            template = obj["spec"]["jobTemplate"]["spec"]["template"]
            found[f"CronJob/{obj['metadata']['name']}"] = (
                template["spec"],
                template.get("metadata") or {},
            )
    return found

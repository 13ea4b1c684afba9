"""The Helm chart: lint, strict validation, Pod Security, RBAC, values that reach the operator."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import all_versions, major_minor
from pss_restricted import violations

import kubescribe_operator
from chart.chartkit import (
    CHART,
    NAMESPACE,
    VARIANTS,
    by_kind,
    helm,
    load_values,
    one,
    pod_specs,
)

Rendered = dict[str, list[dict[str, Any]]]


def _minor_key(version: str) -> list[int]:
    return [int(part) for part in version.split(".")]


#: The Kubernetes minor versions upstream supports now: the newest three the validator knows.
CURRENT_VERSIONS = sorted({major_minor(v) for v in all_versions()}, key=_minor_key)[-3:]


@pytest.mark.parametrize("variant", VARIANTS)
def test_helm_lint_strict_is_clean(variant: str) -> None:
    args = ["lint", "--strict", str(CHART)]
    for path in VARIANTS[variant]:
        args += ["--values", str(path)]
    result = helm(*args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout, result.stdout


@pytest.mark.parametrize("version", CURRENT_VERSIONS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_every_object_validates_strictly(rendered: Rendered, variant: str, version: str) -> None:
    assert rendered[variant], "nothing rendered"
    for obj in rendered[variant]:
        if obj["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # a ServiceMonitor: not a built-in kind; tests/chart/test_chart_api.py
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']} on {version}: {error.message}")


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_pod_spec_meets_the_restricted_profile(rendered: Rendered, variant: str) -> None:
    specs = pod_specs(rendered[variant])
    assert specs, "no pod spec rendered"
    for where, (spec, metadata) in specs.items():
        assert violations(spec, metadata.get("annotations")) == [], where


@pytest.mark.parametrize("variant", VARIANTS)
def test_operator_deployment_is_one_recreated_replica_with_probes(
    rendered: Rendered, variant: str
) -> None:
    deployment = one(rendered[variant], "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    pod = deployment["spec"]["template"]
    assert set(deployment["spec"]["selector"]["matchLabels"].items()) <= set(
        pod["metadata"]["labels"].items()
    )
    (container,) = pod["spec"]["containers"]
    port = {p["name"]: p["containerPort"] for p in container["ports"]}["health"]
    assert port == 8080
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert "--liveness=http://0.0.0.0:8080/healthz" in container["args"]
    # /healthz answers only after the Lease is won and the state recovered.
    startup = container["startupProbe"]
    assert startup["httpGet"] == {"path": "/healthz", "port": "health"}
    values = load_values(variant)["operator"]
    window = startup["periodSeconds"] * startup["failureThreshold"]
    needed = values["leaderLeaseSeconds"] + values["startupSeconds"]
    assert needed <= window < needed + startup["periodSeconds"]
    assert {"cpu", "memory"} <= container["resources"]["requests"].keys()
    assert container["resources"]["limits"]["memory"]


def _rules(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [rule for role in by_kind(objects, "Role") for rule in role["rules"]]


@pytest.mark.parametrize("variant", VARIANTS)
def test_rbac_is_namespaced_least_privilege(rendered: Rendered, variant: str) -> None:
    objects = rendered[variant]
    kinds = {obj["kind"] for obj in objects}
    assert not kinds & {"ClusterRole", "ClusterRoleBinding"}
    for rule in _rules(objects):
        for field in ("apiGroups", "resources", "verbs", "resourceNames"):
            assert "*" not in rule.get(field, []), rule
        assert "secrets" not in rule["resources"], rule
        assert not {"escalate", "bind", "impersonate"} & set(rule["verbs"]), rule
    for binding in by_kind(objects, "RoleBinding"):
        assert binding["roleRef"]["kind"] == "Role"
        assert binding["metadata"]["namespace"] == NAMESPACE
        deployment = one(objects, "Deployment")
        operator_account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": operator_account, "namespace": NAMESPACE}
        ]


#: kubernetes-client API objects of kube_api.py, and the API group each one calls.
_CLIENT_GROUPS = {"batch": "batch", "core": "", "coordination": "coordination.k8s.io"}
#: kubernetes-client method prefixes, and the RBAC verb each one needs.
_CLIENT_VERBS = {
    "create": "create",
    "read": "get",
    "list": "list",
    "delete": "delete",
    "patch": "patch",
    "replace": "update",
}


def _calls_of_the_operator() -> set[tuple[str, str, str]]:
    """(group, resource, verb) of every Kubernetes API call in the operator's source.

    Read from the code itself, so a call added there without a rule here fails this test
    (the emulator the operator's tests run against checks no permission).
    """
    source = Path(kubescribe_operator.__file__).parent
    calls = set()
    api = (source / "k8s" / "kube_api.py").read_text()
    for client, method, kind in re.findall(r"self\._(\w+)\.(\w+?)_namespaced_(\w+)\(", api):
        if client == "custom":  # CustomObjectsApi: the one custom resource, Transcriptions
            resource = "transcriptions/status" if kind.endswith("_status") else "transcriptions"
            calls.add(("kubescribe.io", resource, _CLIENT_VERBS[method]))
            continue
        calls.add((_CLIENT_GROUPS[client], kind + "s", _CLIENT_VERBS[method]))
    # kopf lists and watches what its handlers are for.
    for path in source.rglob("*.py"):
        text = path.read_text()
        for group, _version, plural in re.findall(
            r'kopf\.on\.\w+\(\s*"([\w.]*)",\s*"(\w+)",\s*"(\w+)"', text
        ):
            calls |= {(group, plural, "list"), (group, plural, "watch")}
    assert calls, "no API call found: has kube_api.py moved?"
    return calls


def test_role_grants_every_call_the_operator_makes(rendered: Rendered) -> None:
    from kubescribe_operator.k8s.leader import LEASE_NAME

    granted: set[tuple[str, str, str]] = set()
    named: set[tuple[str, str, str, str]] = set()
    for rule in _rules(rendered["default"]):
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                for verb in rule["verbs"]:
                    if "resourceNames" in rule:
                        named |= {(group, resource, verb, n) for n in rule["resourceNames"]}
                    else:
                        granted.add((group, resource, verb))
    for group, resource, verb in _calls_of_the_operator():
        if (group, resource) == ("coordination.k8s.io", "leases") and verb != "create":
            # Only its own Lease, by name.
            assert (group, resource, verb, LEASE_NAME) in named, (group, resource, verb)
        else:
            assert (group, resource, verb) in granted, (group, resource, verb)
    # kopf posts its own events (handler failures) through core/v1 as well.
    assert ("", "events", "create") in granted


def test_nothing_is_cluster_wide_by_default(rendered: Rendered) -> None:
    for obj in rendered["default"]:
        if obj["kind"] == "CustomResourceDefinition":
            continue  # a CRD is cluster-wide by nature; helm installs it from crds/ only
        assert obj["metadata"].get("namespace") == NAMESPACE, f"{obj['kind']} is cluster-scoped"


def test_priority_classes_are_created_only_when_asked(rendered: Rendered) -> None:
    assert not by_kind(rendered["default"], "PriorityClass")
    created = {
        c["metadata"]["name"]: c["value"] for c in by_kind(rendered["maximal"], "PriorityClass")
    }
    assert created == {"kubescribe-api": 5000, "transcription-bulk": 10}


def test_workers_get_a_service_account_without_a_token(rendered: Rendered) -> None:
    accounts = {a["metadata"]["name"]: a for a in by_kind(rendered["default"], "ServiceAccount")}
    worker = accounts["kubescribe-worker"]
    assert worker["automountServiceAccountToken"] is False
    assert "imagePullSecrets" not in worker


def test_jobs_get_the_pull_secrets_through_their_service_account(rendered: Rendered) -> None:
    # build_job names no pull secret; the worker ServiceAccount hands them to every pod.
    accounts = {a["metadata"]["name"]: a for a in by_kind(rendered["maximal"], "ServiceAccount")}
    secrets = [{"name": name} for name in load_values("maximal")["imagePullSecrets"]]
    assert accounts["scribe-runner"]["imagePullSecrets"] == secrets
    assert (
        one(rendered["maximal"], "Job")["spec"]["template"]["spec"]["imagePullSecrets"] == secrets
    )


def test_created_claims_are_read_write_many_and_kept(rendered: Rendered) -> None:
    claims = {
        c["metadata"]["name"]: c for c in by_kind(rendered["default"], "PersistentVolumeClaim")
    }
    assert set(claims) == {"kubescribe-data", "kubescribe-models"}
    for claim in claims.values():
        assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
        assert claim["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    # An existing claim is used as it is, never created.
    assert [
        c["metadata"]["name"] for c in by_kind(rendered["maximal"], "PersistentVolumeClaim")
    ] == ["kubescribe-models"]
    assert not by_kind(rendered["minimal"], "PersistentVolumeClaim")


# --- the values reach the operator as its own settings ------------------------------------


def _operator_env(objects: list[dict[str, Any]]) -> dict[str, str]:
    (container,) = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    env = {}
    for item in container["env"]:
        if "value" in item:
            env[item["name"]] = item["value"]
        elif "secretKeyRef" in item["valueFrom"]:
            ref = item["valueFrom"]["secretKeyRef"]
            env[item["name"]] = f"<{ref['name']}/{ref['key']}>"  # the kubelet reads the Secret
        elif item["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace":
            env[item["name"]] = NAMESPACE  # what the kubelet puts there
    return env


def _settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    from kubescribe_operator.settings import ENV_PREFIX, ControllerSettings

    for name in [name for name in __import__("os").environ if name.startswith(ENV_PREFIX)]:
        monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return ControllerSettings()


def test_every_controller_setting_is_a_value(rendered: Rendered) -> None:
    from kubescribe_operator.settings import ENV_PREFIX, ControllerSettings

    # The maximal values set every optional one, so every field is there.
    names = {name for name in _operator_env(rendered["maximal"]) if name.startswith(ENV_PREFIX)}
    fields = {ENV_PREFIX + field.upper() for field in ControllerSettings.model_fields}
    assert names == fields


@pytest.mark.parametrize("variant", VARIANTS)
def test_values_become_the_operators_settings(
    rendered: Rendered, variant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    values = load_values(variant)
    settings = _settings_from(_operator_env(rendered[variant]), monkeypatch)
    objects = rendered[variant]
    pod = one(objects, "Deployment")["spec"]["template"]["spec"]

    controller = values["controller"]
    assert settings.scan_interval_seconds == controller["scanIntervalSeconds"]
    assert settings.stable_seconds == controller["stableSeconds"]
    assert settings.parallel == controller["parallel"]
    assert settings.tick_seconds == controller["tickSeconds"]
    assert settings.stop_grace_seconds == controller["stopGraceSeconds"]
    assert settings.max_attempts == controller["maxAttempts"]
    assert settings.retry_backoff_seconds == controller["retryBackoffSeconds"]
    assert settings.attempt_deadline_seconds == controller["attemptDeadlineSeconds"]
    assert settings.deadline_per_audio_second == controller["deadlinePerAudioSecond"]
    assert settings.heartbeat_timeout_seconds == controller["heartbeatTimeoutSeconds"]
    assert settings.start_timeout_seconds == controller["startTimeoutSeconds"]
    assert settings.stale_hours == controller["staleHours"]

    defaults = values["defaults"]
    assert settings.defaults.model_size == defaults["model"]
    assert settings.defaults.language == (defaults["language"] or None)
    assert settings.defaults.temperature == defaults["temperature"]
    assert settings.defaults.compute_type == defaults["computeType"]
    assert settings.defaults.device == defaults["device"]
    assert settings.defaults.debug == defaults["debug"]
    assert settings.defaults.output_formats == defaults["outputFormats"]

    worker = values["worker"]
    assert settings.namespace == NAMESPACE
    assert settings.worker_image_pull_policy == worker["image"]["pullPolicy"]
    assert settings.worker_image.startswith(worker["image"]["repository"] + ":")
    assert settings.worker_image.endswith(
        worker["image"]["digest"] or worker["image"]["tag"] or "0.1.0"
    )
    assert settings.gpu_resource_name == worker["gpu"]["resourceName"]
    assert settings.gpu_count == worker["gpu"]["count"]
    assert settings.worker_resources == worker["resources"]
    assert settings.job_node_selector == worker["nodeSelector"]
    assert settings.job_tolerations == worker["tolerations"]
    assert settings.job_affinity == worker["affinity"]
    assert settings.job_runtime_class_name == (worker["runtimeClassName"] or None)
    assert settings.job_ttl_seconds == worker["jobTtlSeconds"]
    assert settings.kueue_queue_name == (worker["kueueQueueName"] or None)
    assert settings.leader_lease_seconds == values["operator"]["leaderLeaseSeconds"]
    assert (
        settings.run_as_user
        == values["securityContext"]["runAsUser"]
        == pod["securityContext"]["runAsUser"]
    )
    assert (
        settings.fs_group
        == values["securityContext"]["fsGroup"]
        == pod["securityContext"]["fsGroup"]
    )

    # The operator scans the shared volume at the very path it tells the workers.
    storage = values["storage"]
    assert str(settings.root) == storage["root"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["name"]: m for m in pod["containers"][0]["volumeMounts"]}
    assert mounts["data"]["mountPath"] == storage["root"]
    assert volumes["data"]["persistentVolumeClaim"]["claimName"] == settings.data_pvc
    claims = {c["metadata"]["name"] for c in by_kind(objects, "PersistentVolumeClaim")}
    assert settings.data_pvc == storage["data"]["existingClaim"] or settings.data_pvc in claims
    if storage["models"]["enabled"]:
        assert str(settings.model_dir) == storage["models"]["mountPath"]
        assert settings.model_cache_pvc in claims | {storage["models"]["existingClaim"]}
    else:
        assert settings.model_dir is None and settings.model_cache_pvc is None

    accounts = {a["metadata"]["name"] for a in by_kind(objects, "ServiceAccount")}
    if values["serviceAccount"]["worker"]["create"]:
        assert settings.worker_service_account in accounts
    else:
        assert settings.worker_service_account == values["serviceAccount"]["worker"]["name"]

    classes = {c["metadata"]["name"] for c in by_kind(objects, "PriorityClass")}
    for setting in (settings.priority_class_api, settings.priority_class_scan):
        assert setting is None or setting in classes or not values["priorityClasses"]["create"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_jobs_the_operator_builds_from_these_values_are_valid_and_restricted(
    rendered: Rendered, variant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime, timedelta
    from pathlib import Path

    from kubescribe_operator.core.executor import AttemptKey, AttemptSpec
    from kubescribe_operator.k8s.jobs import build_job
    from kubescribe_protocol.models import Priority

    settings = _settings_from(_operator_env(rendered[variant]), monkeypatch)
    now = datetime.now(UTC)
    for priority in Priority:
        spec = AttemptSpec(
            key=AttemptKey(path="team a/Интервью 01.mp3", attempt=2),
            root=settings.root,
            priority=priority,
            deadline=now + timedelta(seconds=settings.attempt_deadline_seconds),
            wants_gpu=settings.defaults.device != "cpu",
            model_dir=settings.model_dir,
        )
        job = build_job(spec, settings, now)
        for version in CURRENT_VERSIONS:
            kubernetes_validate.validate(job, version, strict=True)
        pod = job["spec"]["template"]
        assert violations(pod["spec"], pod["metadata"].get("annotations")) == []
        mounts = {m["name"]: m["mountPath"] for m in pod["spec"]["containers"][0]["volumeMounts"]}
        assert Path(mounts["data"]) == settings.root
        # The chart's NetworkPolicy that cuts workers off the network selects these pods.
        for policy in by_kind(rendered[variant], "NetworkPolicy"):
            if policy["metadata"]["name"].endswith("-isolated"):
                assert _selects(policy["spec"]["podSelector"], pod["metadata"]["labels"])


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        assert expression["operator"] == "In"
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def test_model_fill_job_fills_the_claim_the_jobs_read(rendered: Rendered) -> None:
    for variant in ("default", "maximal"):
        values = load_values(variant)
        objects = rendered[variant]
        job = one(objects, "Job")
        pod = job["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        env = _operator_env(objects)
        assert container["image"] == env["KUBESCRIBE_WORKER_IMAGE"]
        assert container["args"] == ["models", values["storage"]["models"]["mountPath"]]
        claim = {v["name"]: v for v in pod["volumes"]}["models"]["persistentVolumeClaim"]
        assert claim["claimName"] == env["KUBESCRIBE_MODEL_CACHE_PVC"]
        assert container["volumeMounts"][0]["mountPath"] == env["KUBESCRIBE_MODEL_DIR"]
    assert not by_kind(rendered["minimal"], "Job")


def test_the_commands_the_chart_runs_are_real_subcommands(rendered: Rendered) -> None:
    import subprocess

    objects = rendered["maximal"]
    (operator,) = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"]
    (fill,) = one(objects, "Job")["spec"]["template"]["spec"]["containers"]
    # The images' entrypoints: `kubescribe operator` and `kubescribe` (tests/images checks them).
    for argv in (["kubescribe", "operator", *operator["args"]], ["kubescribe", *fill["args"]]):
        result = subprocess.run([*argv, "--help"], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"{argv}: {result.stderr}"


# --- values.yaml and its schema ------------------------------------------------------------

BAD_VALUES = {
    "controller.parallel=0": "/controller/parallel",
    "controller.paralel=2": "'paralel' not allowed",
    "defaults.device=gpu": "/defaults/device",
    "defaults.model=huge": "/defaults/model",
    "defaults.temperature=1.5": "/defaults/temperature",
    "defaults.language=english": "/defaults/language",
    "defaults.outputFormats={docx}": "/defaults/outputFormats",
    "securityContext.runAsUser=0": "/securityContext/runAsUser",
    "worker.gpu.count=-1": "/worker/gpu/count",
    "worker.image.pullPolicy=Sometimes": "/worker/image/pullPolicy",
    "worker.image.digest=sha256:abc": "/worker/image/digest",
    "storage.root=data": "/storage/root",
    "storage.data.accessModes={ReadWriteSometimes}": "/storage/data/accessModes",
    "controller.stableSeconds=-1": "/controller/stableSeconds",
    "controller.scanIntervalSeconds=0": "/controller/scanIntervalSeconds",
    "rbac.create=maybe": "/rbac/create",
}


@pytest.mark.parametrize("assignment", BAD_VALUES)
def test_schema_rejects_a_wrong_value_and_names_it(assignment: str) -> None:
    result = helm("template", "x", str(CHART), "--set", assignment)
    assert result.returncode != 0
    assert BAD_VALUES[assignment] in result.stderr, result.stderr


def test_existing_service_account_needs_a_name() -> None:
    result = helm("template", "x", str(CHART), "--set", "serviceAccount.worker.create=false")
    assert result.returncode != 0
    assert "serviceAccount.worker.name is required" in result.stderr


def _schema_leaves(schema: dict[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Paths of the values the schema describes; a free-form object (resources) is one leaf."""
    leaves = []
    for key, sub in schema.get("properties", {}).items():
        path = (*prefix, key)
        if (
            sub.get("type") == "object"
            and "properties" in sub
            and sub.get("additionalProperties") is False
            and key not in {"resources"}
        ):
            leaves += _schema_leaves(sub, path)
        else:
            leaves.append(path)
    return leaves


def _commented_keys(text: str) -> set[tuple[str, ...]]:
    """Paths of the keys in values.yaml that have a comment on the line(s) right above."""
    commented: set[tuple[str, ...]] = set()
    stack: list[tuple[int, str]] = []
    previous = ""
    for line in text.splitlines():
        match = re.match(r"^( *)([A-Za-z][\w.-]*):", line)
        if match:
            indent, key = len(match.group(1)), match.group(2)
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, key))
            if previous.lstrip().startswith("#"):
                commented.add(tuple(k for _, k in stack))
        if line.strip():
            previous = line
    return commented


def test_every_value_has_a_comment() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    leaves = _schema_leaves(schema)
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    missing_in_values = [p for p in leaves if not _has_path(values, p)]
    assert not missing_in_values, f"in the schema but not in values.yaml: {missing_in_values}"
    uncommented = set(leaves) - _commented_keys((CHART / "values.yaml").read_text())
    assert not uncommented, f"values without a comment: {sorted(uncommented)}"


def _has_path(values: dict[str, Any], path: tuple[str, ...]) -> bool:
    node: Any = values
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def test_notes_tell_how_to_drop_a_file_and_watch_it() -> None:
    text = _notes()
    assert f"kubectl -n {NAMESPACE} cp talk.mp3" in text
    assert (
        "kubectl -n kubescribe get jobs -l app.kubernetes.io/managed-by=kubescribe-operator" in text
    )
    assert "kubectl -n kubescribe logs" in text
    # The status command in the notes is the real CLI's.
    (status,) = re.findall(r"-- (kubescribe status .*)", text)
    assert status == "kubescribe status /data"
    import subprocess

    result = subprocess.run([*status.split(), "--help"], capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr


def _notes() -> str:
    # NOTES.txt renders on install only; a client-side dry run needs no cluster.
    result = helm("install", "kubescribe", str(CHART), "--namespace", NAMESPACE, "--dry-run=client")
    assert result.returncode == 0, result.stderr
    return result.stdout.split("NOTES:", 1)[1]

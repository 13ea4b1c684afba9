"""The chart's pieces for the HTTP API and the Transcription CRD: the Service, the
optional Ingress, the auth Secret mounted as a file, the optional ServiceMonitor, the
NetworkPolicy of the API port, the CRD in crds/, and the values that reach the operator."""

from __future__ import annotations

import base64
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # (kubernetes-validate brings it)
import pytest
import yaml

from chart.chartkit import (
    CHART,
    NAMESPACE,
    by_kind,
    helm,
    load_documents,
    load_values,
    one,
    render_text,
)

Rendered = dict[str, list[dict[str, Any]]]

#: The fields of monitoring.coreos.com/v1 ServiceMonitor the chart uses, as the
#: prometheus-operator CRD (v0.84) defines them; closed, so a misspelt field fails here
#: (kubernetes-validate knows only built-in kinds, and the real CRD would prune it).
_DURATION = (
    r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
)
_LABELS = {"type": "object", "additionalProperties": {"type": "string"}}
SERVICE_MONITOR = {
    "type": "object",
    "additionalProperties": False,
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": {
            "type": "object",
            "required": ["name", "namespace"],
            "properties": {
                "name": {"type": "string"},
                "namespace": {"type": "string"},
                "labels": _LABELS,
            },
        },
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["selector", "endpoints"],
            "properties": {
                "selector": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"matchLabels": _LABELS},
                },
                "namespaceSelector": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "any": {"type": "boolean"},
                        "matchNames": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "port": {"type": "string"},
                            "path": {"type": "string"},
                            "scheme": {"enum": ["http", "https"]},
                            "interval": {"type": "string", "pattern": _DURATION},
                            "scrapeTimeout": {"type": "string", "pattern": _DURATION},
                            "authorization": {
                                "type": "object",
                                "additionalProperties": False,
                                "properties": {
                                    "type": {"type": "string"},
                                    "credentials": {
                                        "type": "object",
                                        "additionalProperties": False,
                                        "required": ["key"],
                                        "properties": {
                                            "name": {"type": "string"},
                                            "key": {"type": "string"},
                                            "optional": {"type": "boolean"},
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


def _named(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (found,) = [o for o in by_kind(objects, kind) if o["metadata"]["name"] == name]
    return found


def _operator(objects: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    pod = one(objects, "Deployment")["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    return pod, container


def _env(container: dict[str, Any]) -> dict[str, Any]:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container["env"]}


def _secret_data(secret: dict[str, Any]) -> dict[str, str]:
    data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
    return {**data, **(secret.get("stringData") or {})}


@pytest.mark.parametrize("variant", ["default", "maximal"])
def test_the_service_reaches_the_operators_api_port(rendered: Rendered, variant: str) -> None:
    objects = rendered[variant]
    values = load_values(variant)
    pod, container = _operator(objects)
    service = one(objects, "Service")
    assert service["spec"]["type"] == "ClusterIP"
    (port,) = service["spec"]["ports"]
    assert port["port"] == values["api"]["port"] and port["targetPort"] == "http"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["http"] == values["api"]["port"]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    env = _env(container)
    assert env["KUBESCRIBE_API_ENABLED"] == "true"
    assert env["KUBESCRIBE_API_PORT"] == str(values["api"]["port"])
    assert env["KUBESCRIBE_API_HOST"] == "0.0.0.0"


@pytest.mark.parametrize("variant", ["default", "maximal"])
def test_the_tokens_are_a_mounted_file_of_the_auth_secret(rendered: Rendered, variant: str) -> None:
    objects = rendered[variant]
    values = load_values(variant)
    pod, container = _operator(objects)
    env = _env(container)
    assert env["KUBESCRIBE_API_TOKENS"] == "[]"  # never in the environment
    secret = one(objects, "Secret")
    data = _secret_data(secret)
    assert data["tokens"].splitlines() == values["api"]["auth"]["tokens"]
    volume = {v["name"]: v for v in pod["spec"]["volumes"]}["api-auth"]["secret"]
    assert volume["secretName"] == secret["metadata"]["name"]
    (item,) = volume["items"]
    mount = {m["name"]: m for m in container["volumeMounts"]}["api-auth"]
    assert mount["readOnly"] is True and "subPath" not in mount  # updates reach the pod
    assert env["KUBESCRIBE_API_TOKENS_FILE"] == f"{mount['mountPath']}/{item['path']}"
    assert item["key"] == "tokens"
    callback = env["KUBESCRIBE_CALLBACK_SECRET"]["secretKeyRef"]
    assert callback == {
        "name": secret["metadata"]["name"],
        "key": "callback-secret",
        "optional": True,
    }
    if variant == "maximal":
        assert data["metrics-token"] == values["api"]["auth"]["tokens"][0]
        assert data["callback-secret"] == values["api"]["auth"]["callbackSecret"]
    else:
        assert set(data) == {"tokens"}  # no token by default; NOTES say so


def test_a_generated_token_is_long_and_used_by_prometheus() -> None:
    objects = load_documents(render_text([], "--set", "api.auth.generateToken=true"))
    data = _secret_data(one(objects, "Secret"))
    (token,) = data["tokens"].splitlines()
    assert len(token) == 48 and token.isalnum()
    assert data["metrics-token"] == token


def test_an_existing_secret_is_used_and_none_is_created() -> None:
    objects = load_documents(render_text([], "--set", "api.auth.existingSecret=my-tokens"))
    assert not by_kind(objects, "Secret")
    pod, container = _operator(objects)
    volume = {v["name"]: v for v in pod["spec"]["volumes"]}["api-auth"]
    assert volume["secret"]["secretName"] == "my-tokens"
    assert _env(container)["KUBESCRIBE_CALLBACK_SECRET"]["secretKeyRef"]["name"] == "my-tokens"


def test_the_ingress_routes_the_hosts_to_the_service(rendered: Rendered) -> None:
    assert not by_kind(rendered["default"], "Ingress")
    objects = rendered["maximal"]
    ingress_values = load_values("maximal")["api"]["ingress"]
    ingress = one(objects, "Ingress")
    service = one(objects, "Service")
    assert ingress["spec"]["ingressClassName"] == ingress_values["className"]
    assert ingress["metadata"]["annotations"] == ingress_values["annotations"]
    assert ingress["spec"]["tls"] == ingress_values["tls"]
    routes = []
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            assert backend["name"] == service["metadata"]["name"]
            assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}
            routes.append((rule["host"], path["path"], path["pathType"]))
    assert routes == [
        (host["host"], p["path"], p["pathType"])
        for host in ingress_values["hosts"]
        for p in host["paths"]
    ]


def test_the_service_monitor_scrapes_metrics_with_the_metrics_token(rendered: Rendered) -> None:
    assert not [o for o in rendered["default"] if o["kind"] == "ServiceMonitor"]
    objects = rendered["maximal"]
    values = load_values("maximal")["api"]["serviceMonitor"]
    monitor = one(objects, "ServiceMonitor")
    jsonschema.validate(monitor, SERVICE_MONITOR)
    service = one(objects, "Service")
    assert monitor["metadata"]["namespace"] == service["metadata"]["namespace"] == NAMESPACE
    assert monitor["metadata"]["labels"]["release"] == values["labels"]["release"]
    # It selects the API's Service (and only it), on a port the Service has.
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    selector = monitor["spec"]["selector"]["matchLabels"].items()
    assert [
        o for o in by_kind(objects, "Service") if selector <= o["metadata"]["labels"].items()
    ] == [service]
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert (endpoint["path"], endpoint["interval"], endpoint["scrapeTimeout"]) == (
        "/metrics",
        values["interval"],
        values["scrapeTimeout"],
    )
    credentials = endpoint["authorization"]["credentials"]
    secret = _named(objects, "Secret", credentials["name"])
    assert credentials["key"] in _secret_data(secret)
    assert endpoint["authorization"]["type"] == "Bearer"


def _api_policy(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (policy,) = [
        p for p in by_kind(objects, "NetworkPolicy") if p["metadata"]["name"].endswith("-api")
    ]
    return policy


@pytest.mark.parametrize("variant", ["default", "maximal"])
def test_the_network_policy_lets_in_only_the_api_port_from_the_allowed_peers(
    rendered: Rendered, variant: str
) -> None:
    objects = rendered[variant]
    policy = _api_policy(objects)["spec"]
    pod, container = _operator(objects)
    assert policy["podSelector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert policy["policyTypes"] == ["Ingress"]  # egress stays as the operator's own policy says
    (rule,) = policy["ingress"]
    assert rule["ports"] == [{"port": "http", "protocol": "TCP"}]
    allowed = load_values(variant)["networkPolicy"]["api"]["allowFrom"]
    assert rule["from"] == (allowed or [{"podSelector": {}}])
    # The operator's own policy lets in only its health port (the kubelet's probes).
    (own,) = [
        p for p in by_kind(objects, "NetworkPolicy") if p["metadata"]["name"].endswith("-operator")
    ]
    assert [r["ports"] for r in own["spec"]["ingress"]] == [[{"port": 8080, "protocol": "TCP"}]]
    probes = [
        container[p]["httpGet"]["port"] for p in ("livenessProbe", "readinessProbe", "startupProbe")
    ]
    assert {
        ({p["name"]: p["containerPort"] for p in container["ports"]}[port]) for port in probes
    } == {8080}


def test_without_the_api_nothing_of_it_is_rendered(rendered: Rendered) -> None:
    objects = rendered["minimal"]
    assert not by_kind(objects, "Service") and not by_kind(objects, "Secret")
    assert not by_kind(objects, "Ingress") and not by_kind(objects, "ServiceMonitor")
    _pod, container = _operator(objects)
    env = _env(container)
    assert env["KUBESCRIBE_API_ENABLED"] == "false"
    assert "KUBESCRIBE_API_TOKENS_FILE" not in env
    assert "http" not in {p["name"] for p in container["ports"]}


def test_the_ttl_of_completed_transcriptions_reaches_the_operator(rendered: Rendered) -> None:
    for variant in ("default", "maximal"):
        _pod, container = _operator(rendered[variant])
        ttl = load_values(variant)["transcriptions"]["completedTtlSeconds"]
        assert _env(container)["KUBESCRIBE_TRANSCRIPTION_COMPLETED_TTL_SECONDS"] == str(ttl)


def test_the_crd_ships_in_crds_and_the_role_covers_it(rendered: Rendered) -> None:
    crd = one(rendered["default"], "CustomResourceDefinition")
    assert crd == yaml.safe_load((CHART / "crds" / "transcriptions.yaml").read_text())
    rules = [
        r for r in one(rendered["default"], "Role")["rules"] if r["apiGroups"] == ["kubescribe.io"]
    ]
    assert {(tuple(r["resources"]), tuple(r["verbs"])) for r in rules} == {
        (("transcriptions",), ("list", "watch", "create", "patch", "delete")),
        (("transcriptions/status",), ("patch",)),
    }


BAD_API_VALUES = {
    "api.port=8080": "/api/port",
    "api.port=80": "/api/port",
    "api.auth.tokens={short}": "/api/auth/tokens/0",
    "api.ingress.hosts[0].paths[0].path=v1": "/api/ingress/hosts/0/paths/0/path",
    "api.serviceMonitor.interval=soon": "/api/serviceMonitor/interval",
    "api.service.type=ExternalName": "/api/service/type",
    "transcriptions.completedTtlSeconds=-1": "/transcriptions/completedTtlSeconds",
}


@pytest.mark.parametrize("assignment", BAD_API_VALUES)
def test_schema_rejects_a_wrong_api_value_and_names_it(assignment: str) -> None:
    result = helm("template", "x", str(CHART), "--set", assignment)
    assert result.returncode != 0
    assert BAD_API_VALUES[assignment] in result.stderr, result.stderr


def test_notes_tell_how_to_reach_the_api_and_see_transcriptions() -> None:
    result = helm("install", "kubescribe", str(CHART), "--namespace", NAMESPACE, "--dry-run=client")
    assert result.returncode == 0, result.stderr
    notes = result.stdout.split("NOTES:", 1)[1]
    assert "kubectl -n kubescribe get transcriptions" in notes
    assert "port-forward service/kubescribe-api 8000:8000" in notes
    assert "get secret kubescribe-api-auth" in notes
    assert "WARNING: the API has no token" in notes
    result = helm(
        "install", "kubescribe", str(CHART), "--namespace", NAMESPACE, "--dry-run=client",
        "--set", "api.auth.generateToken=true",
    )  # fmt: skip
    assert "WARNING: the API has no token" not in result.stdout.split("NOTES:", 1)[1]


def test_the_api_values_become_the_operators_settings(
    rendered: Rendered, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kubescribe_operator.settings import ENV_PREFIX, ControllerSettings

    values = load_values("maximal")
    _pod, container = _operator(rendered["maximal"])
    for name in [name for name in __import__("os").environ if name.startswith(ENV_PREFIX)]:
        monkeypatch.delenv(name)
    for name, value in _env(container).items():
        if isinstance(value, str):
            monkeypatch.setenv(name, value)
    settings = ControllerSettings()
    api = values["api"]
    assert settings.api_enabled is True
    assert (settings.api_host, settings.api_port) == ("0.0.0.0", api["port"])
    assert settings.api_tokens == []
    assert str(settings.api_tokens_file).startswith("/etc/kubescribe/")
    assert settings.upload_dir == api["uploadDir"]
    assert settings.max_upload_mb == api["maxUploadMb"]
    assert settings.openai_wait_seconds == api["openaiWaitSeconds"]
    assert settings.callback_attempts == api["callbackAttempts"]
    assert settings.callback_allowed_networks == api["callbackAllowedNetworks"]
    assert settings.api_body_timeout_seconds == api["bodyTimeoutSeconds"]
    assert settings.api_body_min_bytes_per_second == api["bodyMinBytesPerSecond"]
    assert settings.api_max_connections == api["maxConnections"]
    assert settings.api_writes_per_minute == api["writesPerMinute"]
    assert settings.api_write_burst == api["writeBurst"]
    ttl = values["transcriptions"]["completedTtlSeconds"]
    assert settings.transcription_completed_ttl_seconds == ttl

"""The Pod Security Standards checker itself: a compliant spec passes, each bad one fails."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pss_restricted import baseline_violations, violations


def _good_spec() -> dict[str, Any]:
    return {
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 10001,
            "fsGroup": 10001,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                "name": "main",
                "image": "example/image:1",
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                },
            }
        ],
        "volumes": [
            {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
            {"name": "tmp", "emptyDir": {}},
        ],
    }


def test_a_compliant_spec_has_no_violation() -> None:
    assert violations(_good_spec()) == []


def test_container_level_settings_satisfy_restricted_without_pod_level() -> None:
    spec = _good_spec()
    spec["securityContext"] = {}
    spec["containers"][0]["securityContext"].update(
        {"runAsNonRoot": True, "seccompProfile": {"type": "Localhost", "localhostProfile": "p"}}
    )
    assert violations(spec) == []


def _set(path: str, value: Any) -> dict[str, Any]:
    """A good spec with one dotted path set (``containers.0.securityContext.privileged``)."""
    spec = _good_spec()
    node: Any = spec
    *parents, last = path.split(".")
    for part in parents:
        node = node[int(part)] if part.isdigit() else node.setdefault(part, {})
    if last.isdigit():
        node[int(last)] = value
    else:
        node[last] = value
    return spec


def _drop(path: str) -> dict[str, Any]:
    spec = _good_spec()
    node: Any = spec
    *parents, last = path.split(".")
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    del node[last]
    return spec


BASELINE_BREAKS = {
    "hostNetwork": _set("hostNetwork", True),
    "hostPID": _set("hostPID", True),
    "hostIPC": _set("hostIPC", True),
    "privileged": _set("containers.0.securityContext.privileged", True),
    "SYS_ADMIN": _set("containers.0.securityContext.capabilities.add", ["SYS_ADMIN"]),
    "hostPath": _set("volumes.0", {"name": "host", "hostPath": {"path": "/"}}),
    "hostPort": _set("containers.0.ports", [{"containerPort": 80, "hostPort": 80}]),
    "hostProcess": _set("securityContext.windowsOptions", {"hostProcess": True}),
    "procMount": _set("containers.0.securityContext.procMount", "Unmasked"),
    "seLinux type": _set("securityContext.seLinuxOptions", {"type": "spc_t"}),
    "seLinux user": _set("containers.0.securityContext.seLinuxOptions", {"user": "root"}),
    "appArmor": _set("securityContext.appArmorProfile", {"type": "Unconfined"}),
    "sysctl": _set("securityContext.sysctls", [{"name": "kernel.msgmax", "value": "1"}]),
    "seccomp unconfined": _set("securityContext.seccompProfile", {"type": "Unconfined"}),
}

RESTRICTED_ONLY_BREAKS = {
    "no drop ALL": _set("containers.0.securityContext.capabilities", {"drop": ["NET_RAW"]}),
    "adds CHOWN": _set(
        "containers.0.securityContext.capabilities", {"drop": ["ALL"], "add": ["CHOWN"]}
    ),
    "escalation unset": _drop("containers.0.securityContext.allowPrivilegeEscalation"),
    "escalation true": _set("containers.0.securityContext.allowPrivilegeEscalation", True),
    "runAsNonRoot unset": _drop("securityContext.runAsNonRoot"),
    "container overrides runAsNonRoot": _set("containers.0.securityContext.runAsNonRoot", False),
    "runAsUser 0": _set("securityContext.runAsUser", 0),
    "container runAsUser 0": _set("containers.0.securityContext.runAsUser", 0),
    "seccomp unset": _drop("securityContext.seccompProfile"),
    "nfs volume": _set("volumes.0", {"name": "nfs", "nfs": {"server": "s", "path": "/"}}),
}


@pytest.mark.parametrize("spec", BASELINE_BREAKS.values(), ids=BASELINE_BREAKS.keys())
def test_each_baseline_break_is_found_by_both_profiles(spec: dict[str, Any]) -> None:
    assert baseline_violations(spec), "baseline missed it"
    assert violations(spec), "restricted missed it"


@pytest.mark.parametrize("spec", RESTRICTED_ONLY_BREAKS.values(), ids=RESTRICTED_ONLY_BREAKS.keys())
def test_each_restricted_break_is_found_by_restricted_only(spec: dict[str, Any]) -> None:
    assert baseline_violations(spec) == []
    found = violations(spec)
    assert found and all(line.startswith("restricted:") for line in found), found


def test_every_container_list_is_checked() -> None:
    spec = _good_spec()
    bad = copy.deepcopy(spec["containers"][0])
    bad["name"] = "init"
    bad["securityContext"]["privileged"] = True
    spec["initContainers"] = [bad]
    assert any("initContainers[init]" in line for line in violations(spec))


def test_apparmor_annotations_are_checked() -> None:
    key = "container.apparmor.security.beta.kubernetes.io/main"
    assert violations(_good_spec(), {key: "runtime/default"}) == []
    assert violations(_good_spec(), {key: "unconfined"})

"""The Kubernetes Pod Security Standards, as checks over a pod spec dict.

:func:`violations` returns one line per broken rule of the ``restricted`` profile (which
includes every ``baseline`` rule); :func:`baseline_violations` returns the baseline ones
only. The rules follow https://kubernetes.io/docs/concepts/security/pod-security-standards/
(policy version "latest", Kubernetes 1.30+), which is what the ``pod-security.kubernetes.io/
enforce: restricted`` label of a namespace applies to every pod.

Pass the ``spec`` of a Pod, or ``spec.template.spec`` of a Job or Deployment. AppArmor
annotations live in the pod's metadata, not its spec; pass them as ``annotations`` to have
them checked too.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

# Baseline: capabilities a container may add.
_BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
# Baseline: the "safe" sysctls.
_SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
_SELINUX_TYPES = frozenset(
    {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
)
_APPARMOR_TYPES = frozenset({"RuntimeDefault", "Localhost"})
_APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"
# Restricted: the only volume sources a pod may use.
_RESTRICTED_VOLUME_SOURCES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
_SECCOMP_ALLOWED = frozenset({"RuntimeDefault", "Localhost"})
_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


def _containers(spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for field in _CONTAINER_LISTS:
        for container in spec.get(field) or []:
            yield f"{field}[{container.get('name', '?')}]", container


def _security_context(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    return obj.get("securityContext") or {}


def baseline_violations(
    spec: Mapping[str, Any], annotations: Mapping[str, str] | None = None
) -> list[str]:
    """The ``baseline`` rules this pod spec breaks (empty: it meets the profile)."""
    found: list[str] = []
    pod_sc = _security_context(spec)

    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field):
            found.append(f"baseline: host namespaces: spec.{field} must be unset or false")

    if (pod_sc.get("windowsOptions") or {}).get("hostProcess"):
        found.append("baseline: HostProcess: spec.securityContext.windowsOptions.hostProcess")

    for volume in spec.get("volumes") or []:
        if "hostPath" in volume:
            found.append(f"baseline: hostPath volumes: volume {volume.get('name', '?')}")

    found += _selinux("spec.securityContext", pod_sc)
    found += _apparmor("spec.securityContext", pod_sc)
    seccomp = (pod_sc.get("seccompProfile") or {}).get("type")
    if seccomp == "Unconfined":
        found.append("baseline: seccomp: spec.securityContext.seccompProfile.type is Unconfined")

    for sysctl in pod_sc.get("sysctls") or []:
        if sysctl.get("name") not in _SAFE_SYSCTLS:
            found.append(f"baseline: sysctls: {sysctl.get('name')} is not a safe sysctl")

    for where, container in _containers(spec):
        sc = _security_context(container)
        if (sc.get("windowsOptions") or {}).get("hostProcess"):
            found.append(f"baseline: HostProcess: {where}.securityContext.windowsOptions")
        if sc.get("privileged"):
            found.append(f"baseline: privileged: {where}.securityContext.privileged is true")
        added = set((sc.get("capabilities") or {}).get("add") or [])
        for capability in sorted(added - _BASELINE_CAPABILITIES):
            found.append(f"baseline: capabilities: {where} adds {capability}")
        for port in container.get("ports") or []:
            if port.get("hostPort"):
                found.append(f"baseline: host ports: {where} uses hostPort {port['hostPort']}")
        found += _selinux(f"{where}.securityContext", sc)
        found += _apparmor(f"{where}.securityContext", sc)
        if sc.get("procMount", "Default") != "Default":
            found.append(f"baseline: /proc mount: {where}.securityContext.procMount")
        if (sc.get("seccompProfile") or {}).get("type") == "Unconfined":
            found.append(f"baseline: seccomp: {where}.securityContext.seccompProfile Unconfined")

    for key, value in (annotations or {}).items():
        if key.startswith(_APPARMOR_ANNOTATION) and not (
            value == "runtime/default" or value.startswith("localhost/")
        ):
            found.append(f"baseline: AppArmor: annotation {key}={value}")
    return found


def _selinux(where: str, sc: Mapping[str, Any]) -> list[str]:
    options = sc.get("seLinuxOptions") or {}
    found = []
    if options.get("type", "") not in _SELINUX_TYPES:
        found.append(f"baseline: SELinux: {where}.seLinuxOptions.type {options['type']}")
    for field in ("user", "role"):
        if options.get(field):
            found.append(f"baseline: SELinux: {where}.seLinuxOptions.{field} must be unset")
    return found


def _apparmor(where: str, sc: Mapping[str, Any]) -> list[str]:
    profile = sc.get("appArmorProfile")
    if profile and profile.get("type") not in _APPARMOR_TYPES:
        return [f"baseline: AppArmor: {where}.appArmorProfile.type {profile.get('type')}"]
    return []


def violations(spec: Mapping[str, Any], annotations: Mapping[str, str] | None = None) -> list[str]:
    """The ``restricted`` rules (baseline included) this pod spec breaks (empty: it meets it)."""
    found = baseline_violations(spec, annotations)
    pod_sc = _security_context(spec)

    for volume in spec.get("volumes") or []:
        sources = set(volume) - {"name"}
        for source in sorted(sources - _RESTRICTED_VOLUME_SOURCES):
            found.append(f"restricted: volume types: volume {volume.get('name')} uses {source}")

    if pod_sc.get("runAsUser") == 0:
        found.append("restricted: non-root user: spec.securityContext.runAsUser is 0")

    pod_non_root = pod_sc.get("runAsNonRoot") is True
    pod_seccomp = (pod_sc.get("seccompProfile") or {}).get("type")
    if pod_seccomp is not None and pod_seccomp not in _SECCOMP_ALLOWED:
        found.append(f"restricted: seccomp: spec.securityContext.seccompProfile {pod_seccomp}")

    for where, container in _containers(spec):
        sc = _security_context(container)
        if sc.get("allowPrivilegeEscalation") is not False:
            found.append(f"restricted: privilege escalation: {where} must set it to false")
        non_root = sc.get("runAsNonRoot")
        if non_root is False or (non_root is None and not pod_non_root):
            found.append(f"restricted: non-root: {where} runAsNonRoot must be true")
        if sc.get("runAsUser") == 0:
            found.append(f"restricted: non-root user: {where}.securityContext.runAsUser is 0")
        seccomp = (sc.get("seccompProfile") or {}).get("type")
        if seccomp is None and pod_seccomp is None:
            found.append(f"restricted: seccomp: {where} needs RuntimeDefault or Localhost")
        elif seccomp is not None and seccomp not in _SECCOMP_ALLOWED:
            found.append(f"restricted: seccomp: {where}.securityContext.seccompProfile {seccomp}")
        capabilities = sc.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            found.append(f"restricted: capabilities: {where} must drop ALL")
        for capability in sorted(set(capabilities.get("add") or []) - {"NET_BIND_SERVICE"}):
            found.append(
                f"restricted: capabilities: {where} adds {capability}, not only NET_BIND_SERVICE"
            )
    return found

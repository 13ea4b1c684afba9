"""The one module that talks to the Kubernetes API (besides kopf's own watch streams).

Synchronous, with the official ``kubernetes`` client, because its callers are the core's
executor (a worker thread) and kopf handlers that hop into a thread for it. Bodies go in
and come out as plain dicts (``**_OPTIONS``): the manifests are built as dicts
by :mod:`.jobs`, and a dict keeps every field the server sends, known to the client's
models or not.

Every request is counted by kind in :attr:`KubeApi.calls`, for the benchmark's "API
calls per file" and for tests that check nothing polls.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from kubescribe_protocol.models import utc_now

from .kube_time import kube_time

log = logging.getLogger(__name__)

COMPONENT = "kubescribe-operator"
#: The Transcription custom resource (charts/kubescribe/crds/transcriptions.yaml).
TRANSCRIPTION_GROUP = "kubescribe.io"
TRANSCRIPTION_VERSION = "v1alpha1"
TRANSCRIPTION_PLURAL = "transcriptions"
#: Every request: plain dicts back, and never a hang on a stuck API server (connect, read).
_OPTIONS: dict[str, Any] = {"_preload_content": False, "_request_timeout": (10, 60)}
#: The client defaults a PATCH to JSON Patch (a list of operations); ours are dicts.
MERGE_PATCH = "application/merge-patch+json"


class KubeApiError(RuntimeError):
    """An API request failed with a status the caller does not handle."""

    def __init__(self, what: str, status: int | None, reason: str) -> None:
        super().__init__(f"{what}: HTTP {status}: {reason}")
        self.status = status


class NoCredentialsError(RuntimeError):
    """Neither a pod's service account nor a kubeconfig was found."""


def load_api_client(kubeconfig: str | None = None) -> Any:
    """An API client from the pod's service account, or else from a kubeconfig
    (``KUBECONFIG`` or ``~/.kube/config``), the way kopf finds its own credentials."""
    configuration = client.Configuration()
    try:
        if kubeconfig is not None:
            raise config.ConfigException("a kubeconfig was given")
        config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
    except config.ConfigException as in_cluster:
        try:
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=kubeconfig, client_configuration=configuration
            )
        except config.ConfigException as from_file:
            raise NoCredentialsError(
                "no Kubernetes credentials: not in a pod with a service account "
                f"({in_cluster}), and no usable kubeconfig ({from_file}); run it in the "
                "cluster (the chart does), or set KUBECONFIG to a kubeconfig file"
            ) from from_file
    return client.ApiClient(configuration)


def _body(response: Any) -> Any:
    return json.loads(response.data or b"null")


def _object(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = _body(response)
    return body


def _items(response: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = _body(response).get("items") or []
    return items


class KubeApi:
    """Jobs, their pods, Events, the leader Lease and Transcriptions, in one namespace."""

    def __init__(self, api_client: Any, namespace: str, *, instance: str | None = None) -> None:
        self.namespace = namespace
        # Typed Any: bodies are plain dicts, which the client serializes as they are.
        self._batch: Any = client.BatchV1Api(api_client)
        self._core: Any = client.CoreV1Api(api_client)
        self._coordination: Any = client.CoordinationV1Api(api_client)
        self._custom: Any = client.CustomObjectsApi(api_client)
        #: Who posts Events: shows as ``reportingInstance``.
        self.instance = instance or f"{COMPONENT}-{uuid.uuid4().hex[:8]}"
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()

    def _count(self, what: str) -> None:
        with self._lock:
            self.calls[what] += 1

    def _request(
        self, kind: str, what: str, call: Callable[[], Any], *, absent: int | None = None
    ) -> Any | None:
        """Count a request of ``kind`` and send it (``call``); its response, or None when
        it failed with the status ``absent`` names (a 404 or 409 the caller expects). Any
        other failure is a :class:`KubeApiError` about ``what``."""
        self._count(kind)
        try:
            return call()
        except ApiException as exc:
            if absent is not None and exc.status == absent:
                return None
            raise KubeApiError(what, exc.status, str(exc.reason)) from exc

    # --- Jobs ---------------------------------------------------------------------------
    def create_job(self, body: Mapping[str, Any]) -> dict[str, Any] | None:
        """Create the Job; None when one of that name exists already (409)."""
        response = self._request(
            "create_job", f"create job {body['metadata']['name']}",
            lambda: self._batch.create_namespaced_job(self.namespace, dict(body), **_OPTIONS),
            absent=409,
        )  # fmt: skip
        return None if response is None else _object(response)

    def read_job(self, name: str) -> dict[str, Any] | None:
        response = self._request(
            "read_job", f"read job {name}",
            lambda: self._batch.read_namespaced_job(name, self.namespace, **_OPTIONS),
            absent=404,
        )  # fmt: skip
        return None if response is None else _object(response)

    def delete_job(self, name: str) -> bool:
        """Delete the Job and, in the background, its pods; False if it was gone already."""
        response = self._request(
            "delete_job", f"delete job {name}",
            lambda: self._batch.delete_namespaced_job(
                name, self.namespace, body={"propagationPolicy": "Background"}, **_OPTIONS
            ),
            absent=404,
        )  # fmt: skip
        return response is not None

    def annotate_job(self, name: str, annotations: Mapping[str, str]) -> bool:
        """Add annotations to a Job; False if it is gone."""
        response = self._request(
            "annotate_job", f"annotate job {name}",
            lambda: self._batch.patch_namespaced_job(
                name, self.namespace, {"metadata": {"annotations": dict(annotations)}},
                _content_type=MERGE_PATCH, **_OPTIONS,
            ),
            absent=404,
        )  # fmt: skip
        return response is not None

    def list_jobs(self, selector: Mapping[str, str]) -> list[dict[str, Any]]:
        response = self._request(
            "list_jobs", "list jobs",
            lambda: self._batch.list_namespaced_job(
                self.namespace, label_selector=selector_string(selector), **_OPTIONS
            ),
        )  # fmt: skip
        return _items(response)

    def list_pods(self, selector: Mapping[str, str]) -> list[dict[str, Any]]:
        response = self._request(
            "list_pods", "list pods",
            lambda: self._core.list_namespaced_pod(
                self.namespace, label_selector=selector_string(selector), **_OPTIONS
            ),
        )  # fmt: skip
        return _items(response)

    # --- the leader's Lease ---------------------------------------------------------------
    def read_lease(self, name: str) -> dict[str, Any] | None:
        response = self._request(
            "read_lease", f"read lease {name}",
            lambda: self._coordination.read_namespaced_lease(name, self.namespace, **_OPTIONS),
            absent=404,
        )  # fmt: skip
        return None if response is None else _object(response)

    def write_lease(self, body: Mapping[str, Any]) -> bool:
        """Create the Lease, or patch it when ``body`` carries the resourceVersion it was
        read at: the API server then applies the patch only if nobody wrote the Lease in
        between. False when someone else wrote it first (409): the caller lost."""
        name = body["metadata"]["name"]

        def write() -> Any:
            if body["metadata"].get("resourceVersion"):
                return self._coordination.patch_namespaced_lease(
                    name,
                    self.namespace,
                    {"metadata": body["metadata"], "spec": body["spec"]},
                    _content_type=MERGE_PATCH,
                    **_OPTIONS,
                )
            return self._coordination.create_namespaced_lease(
                self.namespace, dict(body), **_OPTIONS
            )

        return self._request("write_lease", f"write lease {name}", write, absent=409) is not None

    # --- Transcriptions (the custom resource kubectl shows) -------------------------------
    def _transcriptions(self) -> tuple[str, str, str, str]:
        return TRANSCRIPTION_GROUP, TRANSCRIPTION_VERSION, self.namespace, TRANSCRIPTION_PLURAL

    def list_transcriptions(self, selector: Mapping[str, str]) -> list[dict[str, Any]] | None:
        """The Transcriptions with these labels; None when the API does not know the
        resource (404: its CRD is not installed)."""
        response = self._request(
            "list_transcriptions", "list transcriptions",
            lambda: self._custom.list_namespaced_custom_object(
                *self._transcriptions(), label_selector=selector_string(selector), **_OPTIONS
            ),
            absent=404,
        )  # fmt: skip
        return None if response is None else _items(response)

    def create_transcription(self, body: Mapping[str, Any]) -> dict[str, Any] | None:
        """Create a Transcription; None when one of that name exists already (409). The
        API drops ``status`` on create (a status subresource): set it with
        :meth:`patch_transcription_status`."""
        response = self._request(
            "create_transcription", f"create transcription {body['metadata']['name']}",
            lambda: self._custom.create_namespaced_custom_object(
                *self._transcriptions(), dict(body), **_OPTIONS
            ),
            absent=409,
        )  # fmt: skip
        return None if response is None else _object(response)

    def patch_transcription(self, name: str, patch: Mapping[str, Any]) -> dict[str, Any] | None:
        """Merge-patch a Transcription's metadata or spec; None if it is gone."""
        response = self._request(
            "patch_transcription", f"patch transcription {name}",
            lambda: self._custom.patch_namespaced_custom_object(
                *self._transcriptions(), name, dict(patch), _content_type=MERGE_PATCH, **_OPTIONS
            ),
            absent=404,
        )  # fmt: skip
        return None if response is None else _object(response)

    def patch_transcription_status(
        self, name: str, status: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """Merge-patch a Transcription's status (the status subresource): ``None`` values
        remove fields. None if the object is gone."""
        response = self._request(
            "patch_transcription_status", f"patch transcription {name} status",
            lambda: self._custom.patch_namespaced_custom_object_status(
                *self._transcriptions(), name, {"status": dict(status)},
                _content_type=MERGE_PATCH, **_OPTIONS,
            ),
            absent=404,
        )  # fmt: skip
        return None if response is None else _object(response)

    def delete_transcription(self, name: str) -> bool:
        """Delete a Transcription; False if it was gone already."""
        response = self._request(
            "delete_transcription", f"delete transcription {name}",
            lambda: self._custom.delete_namespaced_custom_object(
                *self._transcriptions(), name, **_OPTIONS
            ),
            absent=404,
        )  # fmt: skip
        return response is not None

    # --- Events -------------------------------------------------------------------------
    def post_event(
        self,
        involved: Mapping[str, Any],
        reason: str,
        message: str,
        *,
        warning: bool = False,
        now: datetime | None = None,
    ) -> None:
        """Post a core/v1 Event about ``involved`` (a Job body). Best effort: an Event
        that cannot be posted is logged, never raised, since it only informs people."""
        self._count("post_event")
        metadata = involved.get("metadata") or {}
        name = str(metadata.get("name", "unknown"))
        stamp = kube_time(now or utc_now())
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {
                "name": f"{name}.{uuid.uuid4().hex[:16]}",
                "namespace": self.namespace,
            },
            "involvedObject": {
                "apiVersion": involved.get("apiVersion", "batch/v1"),
                "kind": involved.get("kind", "Job"),
                "name": name,
                "namespace": self.namespace,
                **({"uid": metadata["uid"]} if metadata.get("uid") else {}),
            },
            "reason": reason,
            "message": message[:1024],
            "type": "Warning" if warning else "Normal",
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "reportingInstance": self.instance,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        }
        try:
            self._core.create_namespaced_event(self.namespace, event, **_OPTIONS)
        except ApiException as exc:
            log.warning("could not post event %s on job %s: %s", reason, name, exc.reason)


def selector_string(selector: Mapping[str, str]) -> str:
    return ",".join(f"{key}={value}" for key, value in sorted(selector.items()))

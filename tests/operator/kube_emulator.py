"""kmock's KubernetesEmulator over real HTTP, made a little more like a real API server.

kmock 0.8 ignores ``labelSelector`` on lists and watches, sets no ``uid``,
``resourceVersion`` or ``creationTimestamp``, and takes any update. The operator
relies on each of these in production, so :class:`StricterEmulator` adds them:

- a list or watch with ``labelSelector=a=b,c=d`` returns only the matching objects;
- a created object gets a uid, a creationTimestamp and a resourceVersion, and every
  update a new resourceVersion;
- an update that carries a stale resourceVersion is refused with 409, which the
  leader election needs to let one of two racers win.

:class:`EmulatorServer` serves it from a background thread, so that the operator (a
separate process) and the test's kubelet (a thread) talk to it over HTTP.
"""

from __future__ import annotations

import asyncio
import datetime
import itertools
import threading
import time
import uuid
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import kmock
from kmock._internal import enums, k8s, rendering

_versions = itertools.count(1)
#: Requests kept in kmock's own history.
_HISTORY = 32


def _matches(obj: Any, selector: str | None) -> bool:
    if not selector:
        return True
    labels = ((obj or {}).get("metadata") or {}).get("labels") or {}
    for term in selector.split(","):
        term = term.strip()
        if not term:
            continue
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.split("=", 1)
            if labels.get(key.rstrip("=")) != value.lstrip("="):
                return False
        elif labels.get(term) is None:
            return False
    return True


class StricterEmulator(kmock.KubernetesEmulator):
    #: (time, method, path, User-Agent) of every request, for counting who asked what.
    request_log: list[tuple[float, str, str, str]]
    #: When each Job was created (by name), to the microsecond.
    job_created: dict[str, float]

    async def _handle(self, request: rendering.Request) -> Any:
        # kmock finds the reaction to a request by filtering its whole request history
        # (O(requests so far) per request: 0.3 s per request after 1,000 of them). Nothing
        # here reads that history, so keep only its tail: the current request is in it.
        del self._requests[:-_HISTORY]
        log = self.__dict__.setdefault("request_log", [])
        log.append(
            (
                time.time(),
                request.method.value,
                request.url.path,
                request.headers.get("User-Agent", ""),
            )
        )
        plural = request.resource.plural if request.resource is not None else None
        creates = request.action == enums.action.CREATE and isinstance(request.data, dict)
        if creates and plural == "jobs":
            name = (request.data.get("metadata") or {}).get("name", "")
            self.__dict__.setdefault("job_created", {}).setdefault(name, time.time())
        if request.resource is not None and isinstance(request.data, dict):
            metadata = request.data.setdefault("metadata", {})
            if request.action == enums.action.CREATE:
                metadata.setdefault("uid", str(uuid.uuid4()))
                metadata.setdefault(
                    "creationTimestamp",
                    datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                )
                metadata["resourceVersion"] = str(next(_versions))
            elif request.action == enums.action.UPDATE and request.name is not None:
                key = (request.resource, request.namespace, request.name)
                sent = metadata.get("resourceVersion")
                if sent and key in self.objects and not self.objects[key].deleted:
                    current = (self.objects[key].get("metadata") or {}).get("resourceVersion")
                    if current is not None and str(sent) != str(current):
                        return await self._render_error(
                            k8s.KubernetesError(status=409, reason="Conflict", message="stale")
                        )
                metadata["resourceVersion"] = str(next(_versions))
        return await super()._handle(request)

    async def _serve_list(self, request: rendering.Request) -> Any:
        payload: Any = await super()._serve_list(request)
        selector = request.params.get("labelSelector")
        payload["items"] = [item for item in payload["items"] if _matches(item, selector)]
        return payload

    async def _serve_watch(self, request: rendering.Request) -> AsyncIterator[Any]:
        selector = request.params.get("labelSelector")
        async for event in super()._serve_watch(request):
            if isinstance(event, dict) and not _matches(event.get("object"), selector):
                continue
            yield event


class EmulatorServer:
    """The emulator on 127.0.0.1, served from its own event loop in a thread."""

    def __init__(self) -> None:
        self.emulator: StricterEmulator | None = None
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kmock", daemon=True)

    def __enter__(self) -> EmulatorServer:
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the emulator did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with StricterEmulator() as emulator, kmock.Server(emulator) as server:
            with warnings.catch_warnings():  # kmock 0.8 reads it with a deprecated call
                warnings.simplefilter("ignore", DeprecationWarning)
                emulator.resources.load_bundled()
            self.emulator = emulator
            self.url = str(server.url).rstrip("/")
            self._ready.set()
            await self._stop.wait()

    def objects(self, resource: str) -> list[dict[str, Any]]:
        """Copies of the live objects of a resource (``batch/v1/jobs``), read in the
        emulator's own loop."""
        assert self._loop is not None and self.emulator is not None
        emulator = self.emulator

        async def read() -> list[dict[str, Any]]:
            found = []
            for (res, _ns, _name), obj in list(emulator.objects.items()):
                if (
                    str(res.group or "") + "/" + str(res.version) + "/" + str(res.plural)
                    in (
                        resource,
                        "/" + resource,
                    )
                    and not obj.deleted
                ):
                    found.append(obj.raw)
            return found

        return asyncio.run_coroutine_threadsafe(read(), self._loop).result(10)

    def write_kubeconfig(self, path: Path, namespace: str = "default") -> Path:
        path.write_text(
            "apiVersion: v1\nkind: Config\n"
            f"clusters:\n- name: kmock\n  cluster:\n    server: {self.url}\n"
            "users:\n- name: kmock\n  user:\n    token: kmock-test-token\n"
            "contexts:\n- name: kmock\n  context:\n    cluster: kmock\n    user: kmock\n"
            f"    namespace: {namespace}\n"
            "current-context: kmock\n"
        )
        return path

"""The emulated API server with the chart's Transcription CRD, made to behave like a real
one for a resource with a status subresource.

kmock learns a resource from ``emulator.resources`` (what discovery serves, so kopf can
watch it); :func:`register_crd` fills that from the CRD file the chart ships, so the
tests use the shipped names, scope and subresources. A real API server also treats
``status`` apart when the status subresource is on, and kmock does not:

- a create drops ``status`` (the operator must patch it afterwards);
- a patch of the object itself leaves ``status`` as it was;
- a patch of ``.../status`` changes ``status`` only.

:class:`CrdEmulator` adds that, so a mirror that forgot the status call would fail here
as it would in a cluster.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import kmock
import yaml
from kmock._internal import enums, rendering

# tests/operator is on the path: this package's __init__ puts it there.
from kube_emulator import EmulatorServer, StricterEmulator  # type: ignore[import-not-found]

REPO = Path(__file__).resolve().parents[2]
CRD_FILE = REPO / "charts" / "kubescribe" / "crds" / "transcriptions.yaml"
TRANSCRIPTIONS = "kubescribe.io/v1alpha1/transcriptions"


def load_crd() -> dict[str, Any]:
    crd: dict[str, Any] = yaml.safe_load(CRD_FILE.read_text())
    return crd


def register_crd(emulator: kmock.KubernetesEmulator, crd: dict[str, Any]) -> None:
    spec = crd["spec"]
    names = spec["names"]
    for version in spec["versions"]:
        emulator.resources[f"{spec['group']}/{version['name']}/{names['plural']}"] = {
            "kind": names["kind"],
            "singular": names["singular"],
            "namespaced": spec["scope"] == "Namespaced",
            "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
            "shortnames": names.get("shortNames", []),
            "categories": names.get("categories", []),
            "subresources": list(version.get("subresources") or {}),
        }


class CrdEmulator(StricterEmulator):  # type: ignore[misc]
    async def _handle(self, request: rendering.Request) -> Any:
        resource = request.resource
        if resource is not None and isinstance(request.data, dict):
            info = self.resources._resources.get(resource)
            if info is not None and "status" in info.subresources:
                _split_status(request)
        return await super()._handle(request)


def _split_status(request: rendering.Request) -> None:
    data = request.data
    if request.action == enums.action.CREATE:
        data.pop("status", None)
    elif request.action == enums.action.UPDATE and request.subresource == "status":
        for key in [key for key in data if key not in ("status", "metadata")]:
            del data[key]
    elif request.action == enums.action.UPDATE:
        data.pop("status", None)


class CrdEmulatorServer(EmulatorServer):  # type: ignore[misc]
    """:class:`EmulatorServer` serving :class:`CrdEmulator` with the CRD registered."""

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with CrdEmulator() as emulator, kmock.Server(emulator) as server:
            emulator.resources.load_bundled()
            register_crd(emulator, load_crd())
            self.emulator = emulator
            self.url = str(server.url).rstrip("/")
            self._ready.set()
            await self._stop.wait()

    def history(self, resource: str, name: str) -> list[dict[str, Any] | None]:
        """Every version an object went through (None where it was deleted)."""
        assert self._loop is not None and self.emulator is not None
        emulator = self.emulator

        async def read() -> list[dict[str, Any] | None]:
            for (res, _ns, found), obj in list(emulator.objects.items()):
                key = f"{res.group or ''}/{res.version}/{res.plural}"
                if found == name and key in (resource, "/" + resource):
                    return [None if v is None else dict(v) for v in obj.history.raw]
            return []

        result: list[dict[str, Any] | None] = asyncio.run_coroutine_threadsafe(
            read(), self._loop
        ).result(10)
        return result

    def requests_to(self, plural: str) -> list[tuple[str, str]]:
        """(method, path) of every request about a resource, in order."""
        log = self.emulator.__dict__.get("request_log", []) if self.emulator else []
        return [(method, path) for _t, method, path, _ua in log if f"/{plural}" in path]

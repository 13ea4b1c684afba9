"""The kopf glue of the Transcription resource: the mirror loop and requests by kubectl.

Imported by :mod:`.kopf_handlers` (kopf runs that module), so its handlers register
with the rest; that module's startup hands it the :class:`~.runtime.Runtime`
(:func:`start_mirror`), of which it touches nothing but the controller, under the
runtime's lock.

- the mirror loop: once this operator leads and recovered, every scan interval, copy
  what the controller knows (under its lock), read what it does not (new ``.result``
  files, ``manual/``), and let :class:`~.transcriptions.TranscriptionMirror` create,
  patch and delete objects. A failure is logged and the loop goes on: the mirror only
  shows the work, it never holds it up.
- Transcription events (``on.event``: no finalizers, nothing stored on the objects):
  a managed object feeds the mirror; a person's new object (no ``managed-by`` label,
  no status yet) is a request for the file its ``spec.path`` names.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import kopf

from kubescribe_protocol.models import utc_now

from .kube_api import KubeApiError
from .names import ANNOTATION_PATH
from .runtime import Runtime
from .transcription_objects import (
    ORIGIN_REQUEST,
    RejectedRequestError,
    check_request_path,
    is_managed,
    rejected_status,
    status_on_disk,
    transcription_labels,
)
from .transcriptions import FileSources, TranscriptionMirror, snapshot

log = logging.getLogger("kubescribe.transcriptions")


@dataclass
class MirrorState:
    """What the handlers of this module share, kept in kopf's memo."""

    ready: asyncio.Event = field(default_factory=asyncio.Event)
    runtime: Runtime | None = None
    mirror: TranscriptionMirror | None = None
    task: asyncio.Task[None] | None = None
    #: Requests answered by this operator (by uid): kopf may hand over an object's
    #: earlier state again before the answer shows in the watch.
    answered: set[str] = field(default_factory=set)


def start_mirror(memo: kopf.Memo, runtime: Runtime) -> None:
    """Called by the operator's startup handler, on kopf's event loop, once the runtime
    exists: the mirror starts when this operator leads and recovered."""
    state = MirrorState()
    memo.transcriptions = state
    state.task = asyncio.create_task(_mirror_loop(runtime, state), name="kubescribe mirror")


@kopf.on.cleanup()
async def stop_mirror(memo: kopf.Memo, **_: Any) -> None:
    state: MirrorState | None = getattr(memo, "transcriptions", None)
    if state is not None and state.task is not None:
        state.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await state.task


async def _mirror_loop(runtime: Runtime, state: MirrorState) -> None:
    await runtime.ready.wait()
    settings = runtime.settings
    state.runtime = runtime
    state.mirror = TranscriptionMirror(runtime.api, settings.namespace)
    state.ready.set()
    sources = FileSources(settings.root, settings.transcription_completed_ttl_seconds)
    while True:
        try:
            await asyncio.to_thread(_sync_once, runtime, state.mirror, sources)
        except Exception:
            log.exception("mirroring the files as Transcriptions failed; trying again")
        await asyncio.sleep(settings.scan_interval_seconds)


def _sync_once(runtime: Runtime, mirror: TranscriptionMirror, sources: FileSources) -> None:
    with runtime.lock:
        if not runtime.leading:
            return
        view = runtime.controller.view()
    snap = snapshot(view)
    counts = mirror.sync(sources.desired(snap, utc_now()))
    if counts.created or counts.deleted or counts.failed:
        log.info(
            "transcriptions: %d created, %d patched, %d deleted, %d failed",
            counts.created, counts.patched, counts.deleted, counts.failed,
        )  # fmt: skip


@kopf.on.event("kubescribe.io", "v1alpha1", "transcriptions")
async def transcription_event(event: kopf.RawEvent, memo: kopf.Memo, **_: Any) -> None:
    state: MirrorState = memo.transcriptions
    # A standby leaves events for later: kopf delivers the latest state once it leads.
    await state.ready.wait()
    assert state.runtime is not None and state.mirror is not None
    body = event["object"]
    kind = event.get("type")
    if is_managed(body):
        state.mirror.observe(body, kind)
        return
    metadata = body.get("metadata") or {}
    uid = str(metadata.get("uid") or f"{metadata.get('name')}@{metadata.get('creationTimestamp')}")
    if kind == "DELETED" or (body.get("status") or {}).get("phase") or uid in state.answered:
        return  # gone, or a request answered already (rejected: recreate it to retry)
    state.answered.add(uid)
    try:
        await asyncio.to_thread(accept_request, state.runtime, state.mirror, body)
    except KubeApiError as exc:
        # The request itself is on the volume; only its object's labels or status are
        # behind, and the mirror writes the status on its next pass.
        log.warning("could not update transcription %s: %s", body.get("metadata"), exc)
    state.runtime.wake.set()


def accept_request(runtime: Runtime, mirror: TranscriptionMirror, body: Mapping[str, Any]) -> None:
    """A person's Transcription: ask the controller for its file, or say why not."""
    metadata = body.get("metadata") or {}
    name = str(metadata.get("name"))
    api = runtime.api
    root = runtime.settings.root
    try:
        rel = check_request_path(root, (body.get("spec") or {}).get("path"))
        mirror.adopt(name, rel)
        with runtime.lock:
            # Known to the core at once, whatever the scan interval (as the HTTP API does).
            runtime.controller.notice(rel)
            runtime.controller.request(rel, client_id=str(metadata.get("uid") or name))
    except (RejectedRequestError, FileNotFoundError) as exc:
        reason = str(exc) if isinstance(exc, RejectedRequestError) else f"no such file: {exc}"
        log.info("transcription %s rejected: %s", name, reason)
        mirror.forget(name)
        api.patch_transcription_status(name, rejected_status(reason))
        return
    log.info("transcription %s asks for %s", name, rel)
    api.patch_transcription(
        name,
        {
            "metadata": {
                "labels": transcription_labels(rel, ORIGIN_REQUEST),
                "annotations": {ANNOTATION_PATH: rel},
            }
        },
    )
    mirror.write_status(name, status_on_disk(root, rel))

"""The Transcription custom resource: a mirror of the status files, for kubectl.

The status files on the volume stay the truth; a Transcription only shows them
(``kubectl get transcriptions``, ``kubectl describe transcription ...``). The mirror holds
one object per file that is queued, processing, failed (waiting for its retry) or in
``manual/``, and per completed file for ``transcription_completed_ttl_seconds``.

Pure functions build names, objects and statuses (:mod:`.transcription_objects`);
:class:`FileSources`
gathers what to show from the controller's in-memory index (no extra scan of the
volume) plus the few files it reads itself (a new ``.result`` once, ``manual/``); and
:class:`TranscriptionMirror` creates, patches and deletes objects through
:class:`~.kube_api.KubeApi`, only where something changed: a file costs one create, one
status patch per change the mirror shows (phase, attempt, stage, progress in steps of
:data:`~.transcription_objects.PROGRESS_STEP`), and one delete.

A Transcription that a person creates (no ``managed-by`` label, a ``spec.path``) is an
API request for that file (:mod:`.kopf_transcriptions`): the controller raises the
file's priority, and the mirror keeps that object's status up to date too.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from kubescribe_protocol.atomic import StatusFileError, read_model
from kubescribe_protocol.models import InProgress, Result
from kubescribe_protocol.names import (
    IN_PROGRESS_SUFFIX,
    MANUAL_DIR,
    is_hidden_or_temporary,
    result_path,
)

from ..core.view import ControllerView
from .kube_api import TRANSCRIPTION_GROUP, KubeApi, KubeApiError
from .names import LABEL_ORIGIN
from .transcription_objects import (
    MIRROR_SELECTOR,
    ORIGIN_MIRROR,
    ORIGIN_REQUEST,
    build_transcription,
    is_managed,
    merge_patch,
    status_of_file,
    status_of_manual,
    status_of_result,
)

log = logging.getLogger("kubescribe.transcriptions")


# --- what to show: from the controller, plus a few reads of its own -----------------------


@dataclass(slots=True)
class _Completed:
    completed_at: datetime
    status: dict[str, Any] | None  # None once the TTL ran out: not shown, not kept


@dataclass(slots=True)
class _Manual:
    mtime_ns: int
    path: str
    status: dict[str, Any]


@dataclass
class Snapshot:
    """What the controller knows, copied under its lock."""

    open: dict[str, dict[str, Any]]
    completed: list[str]


def snapshot(view: ControllerView) -> Snapshot:
    """Statuses of the files the controller has open, and the paths it knows completed,
    from its :meth:`~..core.controller.Controller.view`. No IO."""
    shown: dict[str, dict[str, Any]] = {}
    completed: list[str] = []
    for rel, file in view.files.items():
        if file.completed:
            completed.append(rel)
        elif not file.unreadable:
            # An .in_progress that does not read is left for a person; shown once it reads.
            shown[rel] = status_of_file(file.status)
    return Snapshot(shown, completed)


@dataclass
class FileSources:
    """Completed and ``manual/`` files, read from the volume and cached."""

    root: Path
    completed_ttl_seconds: float
    _completed: dict[str, _Completed] = field(default_factory=dict)
    _manual: dict[str, _Manual] = field(default_factory=dict)

    def desired(self, snap: Snapshot, now: datetime) -> dict[str, dict[str, Any]]:
        """Every file to show, by path, with its status."""
        shown = dict(snap.open)
        for rel, status in self._completed_statuses(snap.completed, now):
            shown.setdefault(rel, status)
        for manual_rel, item in sorted(self._scan_manual().items()):
            # An active file of the same name wins; the one in manual/ is shown by its
            # manual path then.
            key = item.path if item.path not in shown else manual_rel
            shown.setdefault(key, item.status)
        return shown

    def _completed_statuses(
        self, rels: Iterable[str], now: datetime
    ) -> Iterable[tuple[str, dict[str, Any]]]:
        ttl = self.completed_ttl_seconds
        present = set()
        for rel in rels:
            present.add(rel)
            known = self._completed.get(rel)
            if known is None:
                known = self._completed[rel] = self._read_completed(rel, now)
            if known.status is None:
                continue
            if (now - known.completed_at).total_seconds() > ttl:
                known.status = None  # past its TTL: drop the summary, keep the date
                continue
            yield rel, known.status
        for rel in [rel for rel in self._completed if rel not in present]:
            del self._completed[rel]

    def _read_completed(self, rel: str, now: datetime) -> _Completed:
        path = result_path(self.root / rel)
        try:
            mtime = datetime.fromtimestamp(path.stat().st_mtime).astimezone()
        except OSError:
            return _Completed(now, None)
        if (now - mtime).total_seconds() > self.completed_ttl_seconds:
            # Completed long ago (an operator restart over a full volume): no read at all.
            return _Completed(mtime, None)
        try:
            result = read_model(path, Result)
        except StatusFileError as exc:
            log.warning("cannot read %s: %s", path, exc)
            result = None
        completed_at = (result.processing_end if result is not None else None) or mtime
        return _Completed(completed_at, status_of_result(result, completed_at))

    def _scan_manual(self) -> dict[str, _Manual]:
        """The ``.in_progress`` files under ``manual/``, re-read only when they change."""
        found: dict[str, _Manual] = {}
        top = self.root / MANUAL_DIR
        for folder, _dirs, names in os.walk(top):
            for name in names:
                if not name.endswith(IN_PROGRESS_SUFFIX) or is_hidden_or_temporary(name):
                    continue
                status_file = Path(folder) / name
                manual_rel = status_file.relative_to(self.root).as_posix()
                manual_rel = manual_rel[: -len(IN_PROGRESS_SUFFIX)]
                try:
                    mtime = status_file.stat().st_mtime_ns
                except FileNotFoundError:
                    continue
                known = self._manual.get(manual_rel)
                if known is None or known.mtime_ns != mtime:
                    known = self._read_manual(status_file, manual_rel, mtime)
                if known is not None:
                    found[manual_rel] = known
        self._manual = found
        return found

    @staticmethod
    def _read_manual(status_file: Path, manual_rel: str, mtime: int) -> _Manual | None:
        try:
            status = read_model(status_file, InProgress)
        except StatusFileError as exc:
            log.warning("cannot read %s: %s", status_file, exc)
            return None
        if status is None:
            return None
        original = status.path or manual_rel.removeprefix(f"{MANUAL_DIR}/")
        return _Manual(mtime, original, status_of_manual(status, manual_rel))


# --- the objects in the API ------------------------------------------------------------------


@dataclass(slots=True)
class _Known:
    """What the mirror knows of one Transcription in the API."""

    path: str
    origin: str
    status: dict[str, Any]


@dataclass
class SyncCounts:
    created: int = 0
    patched: int = 0
    deleted: int = 0
    failed: int = 0


def _known_of(body: Mapping[str, Any]) -> _Known | None:
    metadata = body.get("metadata") or {}
    labels = metadata.get("labels") or {}
    path = (body.get("spec") or {}).get("path")
    if not isinstance(path, str):
        return None
    return _Known(
        path, str(labels.get(LABEL_ORIGIN, ORIGIN_MIRROR)), dict(body.get("status") or {})
    )


class TranscriptionMirror:
    """Keeps the Transcriptions in the API in step with what the files say.

    It trusts its own writes: after the first list, an object's status is what the
    mirror last wrote, so an unchanged file costs no call. Watch events (:meth:`observe`)
    only add objects it did not know (a person's request) and drop deleted ones (a
    mirrored object someone deleted comes back on the next sync).
    """

    def __init__(self, api: KubeApi, namespace: str) -> None:
        self.api = api
        self.namespace = namespace
        self._known: dict[str, _Known] = {}
        self._listed = False
        #: False when the API has no Transcription resource (the CRD is not installed).
        self.available = True
        self._lock = threading.Lock()

    # Called from kopf's event loop (watch events) and from the sync thread.
    def observe(self, body: Mapping[str, Any], event_type: str | None) -> None:
        name = (body.get("metadata") or {}).get("name")
        if not name:
            return
        with self._lock:
            if event_type == "DELETED":
                self._known.pop(name, None)
            elif name not in self._known and is_managed(body):
                known = _known_of(body)
                if known is not None:
                    self._known[name] = known

    def adopt(self, name: str, path: str) -> None:
        """Take a person's Transcription of ``path`` as that file's object."""
        with self._lock:
            self._known[name] = _Known(path, ORIGIN_REQUEST, {})

    def known_names(self) -> dict[str, str]:
        """Name -> path of every object the mirror knows (for tests and logs)."""
        with self._lock:
            return {name: known.path for name, known in self._known.items()}

    def forget(self, name: str) -> None:
        with self._lock:
            self._known.pop(name, None)

    def write_status(self, name: str, status: dict[str, Any]) -> bool:
        """Set an object's status to ``status``: one patch of what differs from what the
        mirror last wrote, none when nothing does. False when the object is gone."""
        with self._lock:
            item = self._known.get(name)
            before = dict(item.status) if item is not None else {}
        patch = merge_patch(before, status)
        if not patch:
            return True
        if self.api.patch_transcription_status(name, patch) is None:
            self.forget(name)  # deleted meanwhile; a mirrored one is recreated next sync
            return False
        with self._lock:
            item = self._known.get(name)
            if item is not None:
                item.status = status
        return True

    def sync(self, desired: Mapping[str, dict[str, Any]]) -> SyncCounts:
        """Create, patch and delete so that the API shows ``desired`` (path -> status).
        A failed call is logged and tried again on the next sync; it never raises."""
        counts = SyncCounts()
        if not self.available or not self._list_once():
            return counts
        with self._lock:
            known = {
                name: (item.path, item.origin, item.status) for name, item in self._known.items()
            }
        by_path: dict[str, list[str]] = {}
        for name, (path, _origin, _status) in known.items():
            by_path.setdefault(path, []).append(name)
        requested = {path for path, origin, _status in known.values() if origin == ORIGIN_REQUEST}
        for path, status in desired.items():
            try:
                names = by_path.get(path)
                if not names:
                    self._create(path, status)
                    counts.created += 1
                for name in names or []:
                    if merge_patch(known[name][2], status):
                        counts.patched += int(self.write_status(name, status))
            except KubeApiError as exc:
                counts.failed += 1
                log.warning("cannot mirror %s: %s", path, exc)
        for name, (path, origin, _status) in known.items():
            # A person's request stays theirs to delete; it keeps its last status. The
            # mirror's own object goes with its file, or when a request shows that file.
            if origin != ORIGIN_MIRROR or (path in desired and path not in requested):
                continue
            try:
                self.api.delete_transcription(name)
                counts.deleted += 1
            except KubeApiError as exc:
                counts.failed += 1
                log.warning("cannot delete transcription %s: %s", name, exc)
                continue
            self.forget(name)
        return counts

    def _list_once(self) -> bool:
        if self._listed:
            return True
        try:
            items = self.api.list_transcriptions(MIRROR_SELECTOR)
        except KubeApiError as exc:
            log.warning("cannot list transcriptions (trying again next time): %s", exc)
            return False
        if items is None:
            log.warning(
                "the API has no %s resource (is the CRD installed?): not mirroring files",
                f"transcriptions.{TRANSCRIPTION_GROUP}",
            )
            self.available = False
            return False
        with self._lock:
            for body in items:
                name = (body.get("metadata") or {}).get("name")
                known = _known_of(body)
                if name and known is not None:
                    self._known[name] = known
        self._listed = True
        return True

    def _create(self, path: str, status: dict[str, Any]) -> None:
        body = build_transcription(path, self.namespace)
        name = body["metadata"]["name"]
        if self.api.create_transcription(body) is None:
            # It exists (its watch event not seen yet): its status is unknown, so set it all.
            log.info("transcription %s exists already; setting its status", name)
        with self._lock:
            self._known[name] = _Known(path, ORIGIN_MIRROR, {})
        self.write_status(name, status)

"""The mirror against the emulated API over HTTP (no operator process): it creates,
patches only what changed, deletes, leaves people's requests alone, survives a missing
CRD; and what it shows of completed and ``manual/`` files, read from real status files."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import kmock
import pytest

from crd.crdkit import TRANSCRIPTIONS, CrdEmulatorServer
from kubescribe_operator.k8s.kube_api import KubeApi
from kubescribe_operator.k8s.transcription_objects import status_of_file, transcription_name
from kubescribe_operator.k8s.transcriptions import FileSources, Snapshot, TranscriptionMirror
from kubescribe_protocol.atomic import write_model
from kubescribe_protocol.codes import ErrorCode
from kubescribe_protocol.models import (
    FileStatus,
    InProgress,
    Result,
    ResultMetadata,
    StatusError,
    Transcription,
    utc_now,
)
from kubescribe_protocol.names import in_progress_path, result_path

QUEUED = status_of_file(None)


def writes(api: KubeApi) -> dict[str, int]:
    return {k: v for k, v in api.calls.items() if k != "list_transcriptions"}


def objects(emulator: CrdEmulatorServer) -> dict[str, dict[str, Any]]:
    return {o["metadata"]["name"]: o for o in emulator.objects(TRANSCRIPTIONS)}


def test_sync_creates_then_patches_only_changes_then_deletes(
    emulator: CrdEmulatorServer, kube_api: KubeApi
) -> None:
    mirror = TranscriptionMirror(kube_api, "default")
    running = status_of_file(
        InProgress(filename="b.wav", path="b.wav", status=FileStatus.PROCESSING, attempt=1)
    )
    counts = mirror.sync({"a.wav": QUEUED, "team/b.wav": running})
    assert (counts.created, counts.failed) == (2, 0)
    found = objects(emulator)
    a, b = transcription_name("a.wav"), transcription_name("team/b.wav")
    assert set(found) == {a, b}
    # The status reached the object through the status subresource (a create drops it).
    assert found[a]["status"] == QUEUED
    assert found[b]["status"]["phase"] == "Processing"
    assert found[b]["spec"] == {"path": "team/b.wav"}
    assert writes(kube_api) == {"create_transcription": 2, "patch_transcription_status": 2}

    # Nothing changed: not one call.
    kube_api.calls.clear()
    mirror.sync({"a.wav": QUEUED, "team/b.wav": running})
    assert sum(kube_api.calls.values()) == 0

    # One file changed: one patch, of that file only; the other file is gone: one delete.
    failed = InProgress(filename="a.wav", path="a.wav", status=FileStatus.ERROR, attempt=1)
    failed.error = StatusError(code=ErrorCode.TIMEOUT, message="ran too long", retry_after=60)
    counts = mirror.sync({"a.wav": status_of_file(failed)})
    assert (counts.patched, counts.deleted) == (1, 1)
    assert writes(kube_api) == {"patch_transcription_status": 1, "delete_transcription": 1}
    found = objects(emulator)
    assert set(found) == {a}
    assert found[a]["status"]["phase"] == "Failed"
    assert found[a]["status"]["error"]["code"] == "timeout"

    # Back to queued: the error is removed from the object, not left behind.
    mirror.sync({"a.wav": QUEUED})
    assert objects(emulator)[a]["status"] == QUEUED


def test_a_new_mirror_lists_what_exists_and_does_not_recreate_it(
    emulator: CrdEmulatorServer, kube_api: KubeApi, api_client: Any
) -> None:
    TranscriptionMirror(kube_api, "default").sync({"a.wav": QUEUED})
    # An operator restart: a fresh mirror with nothing in memory.
    again = KubeApi(api_client, "default")
    TranscriptionMirror(again, "default").sync({"a.wav": QUEUED})
    assert writes(again) == {}
    assert again.calls["list_transcriptions"] == 1


def test_an_object_someone_deleted_comes_back(
    emulator: CrdEmulatorServer, kube_api: KubeApi
) -> None:
    mirror = TranscriptionMirror(kube_api, "default")
    mirror.sync({"a.wav": QUEUED})
    name = transcription_name("a.wav")
    body = objects(emulator)[name]
    kube_api.delete_transcription(name)
    mirror.observe(body, "DELETED")  # the watch event kopf hands over
    mirror.sync({"a.wav": QUEUED})
    assert objects(emulator)[name]["status"] == QUEUED


def test_a_request_object_is_updated_but_never_deleted(
    emulator: CrdEmulatorServer, kube_api: KubeApi
) -> None:
    kube_api.create_transcription(
        {
            "apiVersion": "kubescribe.io/v1alpha1",
            "kind": "Transcription",
            "metadata": {"name": "my-talk", "namespace": "default"},
            "spec": {"path": "a.wav"},
        }
    )
    mirror = TranscriptionMirror(kube_api, "default")
    # The mirror got there first (its pass ran before the request's event came).
    mirror.sync({"a.wav": QUEUED})
    assert set(objects(emulator)) == {"my-talk", transcription_name("a.wav")}
    mirror.adopt("my-talk", "a.wav")
    counts = mirror.sync({"a.wav": QUEUED})
    found = objects(emulator)
    # Shown on the person's object; the mirror's own object for the file goes.
    assert (counts.patched, counts.deleted) == (1, 1)
    assert set(found) == {"my-talk"}
    assert found["my-talk"]["status"] == QUEUED
    mirror.sync({})
    assert set(objects(emulator)) == {"my-talk"}


def test_without_the_crd_the_mirror_stands_down_quietly(
    emulator: CrdEmulatorServer, kube_api: KubeApi, caplog: pytest.LogCaptureFixture
) -> None:
    assert emulator.emulator is not None
    del emulator.emulator.resources[TRANSCRIPTIONS]
    mirror = TranscriptionMirror(kube_api, "default")
    assert mirror.sync({"a.wav": QUEUED}).created == 0
    assert not mirror.available
    assert "is the CRD installed?" in caplog.text
    mirror.sync({"a.wav": QUEUED})
    assert kube_api.calls["list_transcriptions"] == 1  # no retry storm


def test_a_failing_call_is_logged_counted_and_tried_again(
    emulator: CrdEmulatorServer, kube_api: KubeApi, caplog: pytest.LogCaptureFixture
) -> None:
    assert emulator.emulator is not None
    broken = transcription_name("b.wav")
    emulator.emulator[kmock.method.PATCH, kmock.name(broken)] << 500
    mirror = TranscriptionMirror(kube_api, "default")
    counts = mirror.sync({"a.wav": QUEUED, "b.wav": QUEUED})
    # The other file is mirrored all the same, and nothing is raised.
    assert (counts.created, counts.failed) == (1, 1)
    assert objects(emulator)[transcription_name("a.wav")]["status"] == QUEUED
    assert f"patch transcription {broken} status: HTTP 500" in caplog.text
    # The status it could not write is written again on the next sync, not forgotten.
    before = kube_api.calls["patch_transcription_status"]
    assert mirror.sync({"a.wav": QUEUED, "b.wav": QUEUED}).failed == 1
    assert kube_api.calls["patch_transcription_status"] == before + 1


# --- what is shown of completed files and of manual/ ----------------------------------------


def _result(root: Path, rel: str, *, age_seconds: float = 0) -> None:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    (root / rel).write_bytes(b"audio")
    end = utc_now() - timedelta(seconds=age_seconds)
    write_model(
        result_path(root / rel),
        Result(
            filename=Path(rel).name,
            path=rel,
            processing_end=end,
            duration_seconds=2.0,
            transcription=Transcription(text="the quick brown fox"),
            metadata=ResultMetadata(word_count=4, language_detected="en"),
        ),
    )
    stamp = time.time() - age_seconds
    os.utime(result_path(root / rel), (stamp, stamp))


def test_completed_files_are_shown_for_their_ttl_and_read_once(tmp_path: Path) -> None:
    root = tmp_path
    _result(root, "new.wav")
    _result(root, "old.wav", age_seconds=7200)
    sources = FileSources(root, completed_ttl_seconds=3600)
    now = utc_now()  # one moment for both reads, so only the file can differ
    shown = sources.desired(Snapshot({}, ["new.wav", "old.wav"]), now)
    assert set(shown) == {"new.wav"}
    assert shown["new.wav"]["phase"] == "Completed"
    assert shown["new.wav"]["result"]["text"] == "the quick brown fox"
    # Read once: a broken file afterwards changes nothing shown.
    result_path(root / "new.wav").write_text("{ not json")
    assert sources.desired(Snapshot({}, ["new.wav"]), now) == shown
    # Past its TTL it is no longer shown.
    later = now + timedelta(seconds=3601)
    assert sources.desired(Snapshot({}, ["new.wav"]), later) == {}


def test_files_in_manual_are_shown_by_their_original_path(tmp_path: Path) -> None:
    root = tmp_path
    moved = root / "manual" / "team" / "bad.wav"
    moved.parent.mkdir(parents=True)
    moved.write_bytes(b"not audio")
    status = InProgress(filename="bad.wav", path="team/bad.wav", status=FileStatus.ERROR)
    status.error = StatusError(code=ErrorCode.NOT_AUDIO, message="no audio stream found")
    write_model(in_progress_path(moved), status)
    sources = FileSources(root, completed_ttl_seconds=60)
    shown = sources.desired(Snapshot({}, []), utc_now())
    assert set(shown) == {"team/bad.wav"}
    assert shown["team/bad.wav"]["phase"] == "Manual"
    assert shown["team/bad.wav"]["manualPath"] == "manual/team/bad.wav"
    assert shown["team/bad.wav"]["error"]["code"] == "not_audio"
    # A new file of the same name is active: it wins the path; manual/ shows by its own.
    shown = sources.desired(Snapshot({"team/bad.wav": QUEUED}, []), utc_now())
    assert shown["team/bad.wav"] == QUEUED
    assert shown["manual/team/bad.wav"]["phase"] == "Manual"
    # A person took it out of manual/: not shown any more.
    in_progress_path(moved).unlink()
    assert sources.desired(Snapshot({}, []), utc_now()) == {}

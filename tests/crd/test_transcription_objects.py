"""The Transcription CRD and the pure builders of the mirror: names, statuses, patches,
request paths. The objects the builders make are checked against the CRD's own schema,
with unknown fields refused (a real API server would prune them silently)."""

from __future__ import annotations

import copy
import itertools
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]  # (kubernetes-validate brings it)
import kubernetes_validate
import pytest

from crd.crdkit import load_crd
from kubescribe_operator.k8s.names import path_hash
from kubescribe_operator.k8s.transcription_objects import (
    EXCERPT_CHARS,
    MIRROR_SELECTOR,
    Phase,
    RejectedRequestError,
    build_transcription,
    check_request_path,
    merge_patch,
    rejected_status,
    status_of_file,
    status_of_manual,
    status_of_result,
    transcription_name,
)
from kubescribe_protocol.codes import ErrorCode
from kubescribe_protocol.models import (
    Attempt,
    FileStatus,
    InProgress,
    Priority,
    ProcessingStats,
    Progress,
    Result,
    ResultMetadata,
    Stage,
    StatusError,
    Transcription,
    utc_now,
)

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
CRD = load_crd()
VERSION = CRD["spec"]["versions"][0]
SCHEMA = VERSION["schema"]["openAPIV3Schema"]


def _closed(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with unknown fields refused everywhere (metadata aside)."""
    closed = copy.deepcopy(schema)

    def close(node: dict[str, Any]) -> None:
        if node.get("type") == "object" and "properties" in node:
            node.setdefault("additionalProperties", False)
            for child in node["properties"].values():
                close(child)

    close(closed)
    return closed


CLOSED = _closed(SCHEMA)


def validate(obj: dict[str, Any]) -> None:
    jsonschema.validate(obj, CLOSED, format_checker=jsonschema.FormatChecker())


def with_status(path: str, status: dict[str, Any]) -> dict[str, Any]:
    obj = build_transcription(path, "default")
    obj["status"] = status
    return obj


#: One moment for every status a test builds: two calls of the clock may fall in two
#: milliseconds, and statuses built from them then differ in their times.
NOW = utc_now()


def processing(percentage: int = 47) -> InProgress:
    status = InProgress(
        filename="talk.wav",
        path="talk.wav",
        status=FileStatus.PROCESSING,
        start_time=NOW,
        updated_at=NOW,
    )
    status.attempt = 2
    status.priority = Priority.API_REQUEST
    status.attempts = [
        Attempt(attempt_number=1, start_time=NOW - timedelta(minutes=5)),
        Attempt(attempt_number=2, start_time=NOW),
    ]
    status.progress = Progress(stage=Stage.PROCESSING_AUDIO, percentage=percentage)
    return status


def failed() -> InProgress:
    status = InProgress(filename="talk.wav", path="talk.wav", status=FileStatus.ERROR)
    status.attempt = 1
    status.error = StatusError(
        code=ErrorCode.OUT_OF_MEMORY, message="OOMKilled", details="x" * 5000, retry_after=30
    )
    return status


def result(text: str = "hello there general kenobi") -> Result:
    now = utc_now()
    return Result(
        filename="talk.wav",
        path="talk.wav",
        processing_start=now - timedelta(seconds=9),
        processing_end=now,
        duration_seconds=3.456,
        processing_time_seconds=9.0,
        transcription=Transcription(text=text),
        metadata=ResultMetadata(
            confidence=0.87654, language_detected="en", word_count=4, segment_count=1
        ),
        processing_stats=ProcessingStats(total_attempts=2),
    )


# --- the CRD itself ------------------------------------------------------------------------


def test_crd_validates_strictly_as_a_kubernetes_object() -> None:
    kubernetes_validate.validate(CRD, "1.31", strict=True)


def test_crd_has_a_status_subresource_and_the_printer_columns() -> None:
    assert CRD["metadata"]["name"] == "transcriptions.kubescribe.io"
    assert CRD["spec"]["scope"] == "Namespaced"
    assert VERSION["subresources"] == {"status": {}}
    columns = [
        c["name"].upper() for c in VERSION["additionalPrinterColumns"] if not c.get("priority")
    ]
    assert columns == ["PATH", "PHASE", "ATTEMPT", "PROGRESS", "PRIORITY", "AGE"]


def _structural_problems(node: dict[str, Any], where: str = "") -> list[str]:
    """Where a schema breaks the rules of a structural schema (every node typed, no
    type-less properties, metadata limited to its type)."""
    problems = []
    if "type" not in node and not node.get("x-kubernetes-int-or-string"):
        problems.append(f"{where or '/'}: no type")
    for key in ("allOf", "anyOf", "oneOf", "not"):
        if key in node:
            problems.append(f"{where}: {key} (allowed only without types inside; not used here)")
    for name, child in (node.get("properties") or {}).items():
        if where == "" and name == "metadata" and set(child) - {"type"}:
            problems.append("/metadata: only its type may be given")
        problems += _structural_problems(child, f"{where}/{name}")
    if isinstance(node.get("items"), dict):
        problems += _structural_problems(node["items"], f"{where}/items")
    return problems


def test_crd_schema_is_structural() -> None:
    assert _structural_problems(SCHEMA) == []


def _column(obj: dict[str, Any], json_path: str) -> Any:
    value: Any = obj
    for part in json_path.strip(".").split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def test_printer_columns_show_the_fields_the_mirror_writes() -> None:
    obj = with_status("talk.wav", status_of_file(processing()))
    obj["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    shown = {c["name"]: _column(obj, c["jsonPath"]) for c in VERSION["additionalPrinterColumns"]}
    assert shown == {
        "Path": "talk.wav",
        "Phase": "Processing",
        "Attempt": 2,
        "Progress": 25,
        "Priority": "api_request",
        "Error": None,
        "Age": "2026-01-01T00:00:00Z",
    }


# --- names and objects -------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["talk.wav", "team/Запись.mp3", "a" * 300 + ".flac", "UPPER case/..weird--name!!.m4a", "ж.mp3"],
)
def test_names_are_dns_labels_and_stable(path: str) -> None:
    name = transcription_name(path)
    assert DNS_LABEL.match(name) and len(name) <= 63, name
    assert name == transcription_name(path)
    assert path_hash(path)[:12] in name


def test_names_keep_files_of_one_stem_apart() -> None:
    assert transcription_name("talk.mp3") != transcription_name("talk.wav")
    assert transcription_name("a/talk.mp3") != transcription_name("b/talk.mp3")


def test_a_mirrored_object_carries_the_selector_labels_and_the_path() -> None:
    obj = build_transcription("team/talk.wav", "ns1")
    assert obj["metadata"]["namespace"] == "ns1"
    assert MIRROR_SELECTOR.items() <= obj["metadata"]["labels"].items()
    assert obj["metadata"]["annotations"]["kubescribe.io/path"] == "team/talk.wav"
    assert obj["spec"] == {"path": "team/talk.wav"}
    assert "status" not in obj  # set through the status subresource
    validate(obj)


# --- statuses ----------------------------------------------------------------------------


def test_a_file_found_alone_is_queued_by_the_scan() -> None:
    status = status_of_file(None)
    assert (status["phase"], status["attempt"], status["priority"]) == ("Queued", 0, "auto_scan")
    validate(with_status("talk.wav", status))


def test_a_processing_file_shows_its_attempt_and_progress_in_steps() -> None:
    status = status_of_file(processing(47))
    assert status["phase"] == "Processing"
    assert status["progress"] == {"stage": "processing_audio", "percentage": 25}
    assert status["attempt"] == 2
    assert "error" not in status
    # Percentages within one step give the same status: no patch for them.
    assert status_of_file(processing(26)) == status_of_file(processing(49))
    assert status_of_file(processing(50)) != status
    validate(with_status("talk.wav", status))


def test_a_failed_attempt_shows_its_error_and_retry() -> None:
    status = status_of_file(failed())
    assert status["phase"] == "Failed"
    assert status["error"]["code"] == "out_of_memory"
    assert status["error"]["retryAfterSeconds"] == 30
    assert len(status["error"]["details"]) == 1000
    assert "out_of_memory" in status["message"] and "30" in status["message"]
    validate(with_status("talk.wav", status))


def test_a_file_in_manual_says_where_and_why() -> None:
    status = status_of_manual(failed(), "manual/talk.wav")
    assert status["phase"] == "Manual"
    assert status["manualPath"] == "manual/talk.wav"
    assert "manual/talk.wav" in status["message"] and "OOMKilled" in status["message"]
    validate(with_status("talk.wav", status))


def test_a_completed_file_shows_a_summary_of_its_result() -> None:
    done = result()
    assert done.processing_end is not None
    status = status_of_result(done, done.processing_end)
    assert status["phase"] == "Completed"
    assert status["attempt"] == 2
    assert status["progress"] == {"stage": "done", "percentage": 100}
    assert status["result"] == {
        "text": "hello there general kenobi",
        "wordCount": 4,
        "segmentCount": 1,
        "durationSeconds": 3.46,
        "language": "en",
        "confidence": 0.877,
        "processingSeconds": 9.0,
        "model": "base",
    }
    assert status["message"] == "4 words from 3.46 s of audio, language en"
    validate(with_status("talk.wav", status))


def test_a_long_transcript_is_cut_at_a_word() -> None:
    text = " ".join(f"word{i}" for i in range(500))
    done = result(text)
    assert done.processing_end is not None
    shown = status_of_result(done, done.processing_end)["result"]["text"]
    assert len(shown) <= EXCERPT_CHARS + 2 and shown.endswith(" …")
    assert text.startswith(shown[:-2])


def test_an_unreadable_result_still_shows_completed() -> None:
    status = status_of_result(None, utc_now())
    assert status["phase"] == "Completed" and "could not be read" in status["message"]
    validate(with_status("talk.wav", status))


def test_phases_are_the_crd_enum() -> None:
    enum = SCHEMA["properties"]["status"]["properties"]["phase"]["enum"]
    assert enum == [phase.value for phase in Phase]
    validate(with_status("x.wav", rejected_status("no such file")))


# --- merge patches -----------------------------------------------------------------------


def _apply(target: Any, patch: Any) -> Any:
    """RFC 7386, as the API server applies a merge patch."""
    if not isinstance(patch, dict):
        return patch
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = _apply(out.get(key), value)
    return out


def test_merge_patch_turns_one_status_into_the_next_and_is_empty_when_equal() -> None:
    steps = [
        {},
        status_of_file(None),
        status_of_file(processing(12)),
        status_of_file(failed()),
        status_of_manual(failed(), "manual/talk.wav"),
        status_of_file(processing(95)),
        status_of_result(result(), utc_now()),
    ]
    for old, new in itertools.pairwise(steps):
        assert _apply(old, merge_patch(old, new)) == new
        assert merge_patch(new, new) == {}
    # A field that goes away is removed, not left behind (the error after a retry).
    assert merge_patch(status_of_file(failed()), status_of_file(processing()))["error"] is None


# --- request paths -------------------------------------------------------------------------


@pytest.fixture
def share(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    (root / "team").mkdir(parents=True)
    (root / "manual").mkdir()
    for rel in ("talk.wav", "team/Запись.mp3", "manual/bad.wav", ".hidden.wav", "notes.txt"):
        (root / rel).write_bytes(b"x")
    (tmp_path / "outside.wav").write_bytes(b"x")
    os.symlink(tmp_path / "outside.wav", root / "escape.wav")
    return root


def test_a_request_may_name_any_media_file_under_the_root(share: Path) -> None:
    assert check_request_path(share, "talk.wav") == "talk.wav"
    assert check_request_path(share, "team/Запись.mp3") == "team/Запись.mp3"


@pytest.mark.parametrize(
    ("path", "says"),
    [
        (None, "empty"),
        ("", "empty"),
        ("/etc/passwd.wav", "relative"),
        ("../outside.wav", "'..'"),
        ("team/../talk.wav", "'..'"),
        ("team//x.wav", "'//'"),
        ("manual/bad.wav", "manual/"),
        (".hidden.wav", "hidden"),
        ("notes.txt", "extension"),
        ("escape.wav", "outside"),
        ("missing.wav", "no such file"),
        ("team", "extension"),
    ],
)
def test_a_bad_request_path_is_rejected_with_a_reason(share: Path, path: Any, says: str) -> None:
    with pytest.raises(RejectedRequestError, match=re.escape(says)):
        check_request_path(share, path)

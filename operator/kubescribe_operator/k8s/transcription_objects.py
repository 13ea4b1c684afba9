"""The Transcription custom resource's objects, built by pure functions (no API calls).

Names, labels, the object the mirror creates, and the status it shows of a file from
its status files (:mod:`.transcriptions` keeps them in step in the API). A Transcription
that a person creates (no ``managed-by`` label, a ``spec.path``) is an API request for
that file: :func:`check_request_path` vets the path.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import Any

from kubescribe_protocol.atomic import StatusFileError, read_model
from kubescribe_protocol.models import FileStatus, InProgress, Priority, Result, format_time
from kubescribe_protocol.names import MANUAL_DIR, in_progress_path, result_path

from ..volume.paths import MAX_PATH_CHARS, PathProblem, path_problems
from .kube_api import TRANSCRIPTION_GROUP, TRANSCRIPTION_VERSION
from .names import (
    ANNOTATION_PATH,
    LABEL_ORIGIN,
    TRANSCRIPTION_COMPONENT,
    file_labels,
    name_of_path,
    selector,
)

API_VERSION = f"{TRANSCRIPTION_GROUP}/{TRANSCRIPTION_VERSION}"
KIND = "Transcription"
#: Who made the object (``names.LABEL_ORIGIN``): the mirror or a person asking for the file.
ORIGIN_MIRROR = "mirror"
ORIGIN_REQUEST = "request"
#: The labels of every Transcription the operator manages (made or adopted).
MIRROR_SELECTOR = selector(TRANSCRIPTION_COMPONENT)

#: Progress is shown in steps of this many percent: a worker may write its percentage
#: often, and each change shown costs an API call.
PROGRESS_STEP = 25
#: Characters of the transcript shown in ``status.result.text``.
EXCERPT_CHARS = 300
#: Characters of an error's details shown in ``status.error.details``.
DETAILS_CHARS = 1000

_NAME_PREFIX = "tr"


class Phase(StrEnum):
    """``status.phase``: where the file stands."""

    QUEUED = "Queued"  # found or requested; waits for a free slot
    PROCESSING = "Processing"  # an attempt runs
    FAILED = "Failed"  # an attempt failed; the next one waits for its backoff
    MANUAL = "Manual"  # moved to manual/: a person must look at it
    COMPLETED = "Completed"  # the .result is there
    REJECTED = "Rejected"  # a request the operator cannot serve (bad path, no file)


class RejectedRequestError(ValueError):
    """A Transcription names a path the operator will not (or cannot) transcribe."""


def transcription_name(path: str) -> str:
    """The Transcription of the file at ``path``: ``tr-<readable stem>-<hash>``
    (:func:`.names.name_of_path`)."""
    return name_of_path(_NAME_PREFIX, path)


def transcription_labels(path: str, origin: str) -> dict[str, str]:
    return {**file_labels(TRANSCRIPTION_COMPONENT, path), LABEL_ORIGIN: origin}


def build_transcription(path: str, namespace: str) -> dict[str, Any]:
    """The object the mirror creates for ``path`` (its status is patched after the create:
    the API ignores ``status`` on create when the status subresource is on)."""
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": transcription_name(path),
            "namespace": namespace,
            "labels": transcription_labels(path, ORIGIN_MIRROR),
            "annotations": {ANNOTATION_PATH: path},
        },
        "spec": {"path": path},
    }


def _percentage(value: int) -> int:
    return max(0, min(100, value // PROGRESS_STEP * PROGRESS_STEP))


def _error(status: InProgress) -> dict[str, Any] | None:
    error = status.error
    if error is None:
        return None
    shown: dict[str, Any] = {
        "code": str(error.code),
        "message": error.message,
        "timestamp": format_time(error.timestamp),
    }
    if error.details:
        shown["details"] = error.details[:DETAILS_CHARS]
    if error.retry_after is not None:
        shown["retryAfterSeconds"] = round(error.retry_after, 1)
    return shown


def status_of_file(status: InProgress | None) -> dict[str, Any]:
    """The Transcription status of a file that is not completed and not in ``manual/``:
    its ``.in_progress`` (None: the scan found the audio alone)."""
    if status is None:
        return {
            "phase": Phase.QUEUED.value,
            "message": "found by the scan; waits to be taken",
            "attempt": 0,
            "priority": Priority.AUTO_SCAN.value,
            "progress": {"stage": "waiting", "percentage": 0},
        }
    shown: dict[str, Any] = {
        "attempt": status.attempt,
        "priority": status.priority.value,
        "queuedAt": format_time(status.start_time),
    }
    progress = status.progress
    stage = progress.stage.value if progress is not None else "waiting"
    percentage = _percentage(progress.percentage) if progress is not None else 0
    error = _error(status)
    if status.status is FileStatus.PROCESSING:
        shown["phase"] = Phase.PROCESSING.value
        shown["message"] = f"attempt {status.attempt}: {stage}"
    elif status.status is FileStatus.ERROR and error is not None:
        shown["phase"] = Phase.FAILED.value
        retry = error.get("retryAfterSeconds")
        after = f"; next attempt after {retry} s" if retry is not None else ""
        shown["message"] = f"attempt {status.attempt} failed ({error['code']}){after}"
    else:
        shown["phase"] = Phase.QUEUED.value
        who = "an API request" if status.priority is Priority.API_REQUEST else "the scan"
        shown["message"] = f"queued by {who}; waits for a free slot"
    shown["progress"] = {"stage": stage, "percentage": percentage}
    if error is not None:
        shown["error"] = error
    return shown


def status_of_manual(status: InProgress, manual_path: str) -> dict[str, Any]:
    """The status of a file in ``manual/`` (``status`` is its moved ``.in_progress``)."""
    shown = status_of_file(status)
    shown["phase"] = Phase.MANUAL.value
    shown["manualPath"] = manual_path
    error = shown.get("error")
    reason = f" ({error['code']}: {error['message']})" if error else ""
    shown["message"] = f"moved to {manual_path}{reason}; a person must look at it"
    return shown


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= EXCERPT_CHARS:
        return text
    cut = text[:EXCERPT_CHARS].rsplit(" ", 1)[0]
    return cut + " …"


def result_summary(result: Result) -> dict[str, Any]:
    """What ``kubectl describe`` shows of a ``.result``: a summary, not the transcript."""
    metadata = result.metadata
    duration = result.duration_seconds
    if duration is None:
        duration = metadata.duration_seconds
    summary: dict[str, Any] = {
        "text": _excerpt(result.transcription.text),
        "wordCount": metadata.word_count,
        "segmentCount": metadata.segment_count,
        "model": result.settings.model_size,
    }
    if duration is not None:
        summary["durationSeconds"] = round(duration, 2)
    if metadata.language_detected:
        summary["language"] = metadata.language_detected
    if metadata.confidence is not None:
        summary["confidence"] = round(metadata.confidence, 3)
    if result.processing_time_seconds is not None:
        summary["processingSeconds"] = round(result.processing_time_seconds, 2)
    return summary


def status_of_result(result: Result | None, completed_at: datetime) -> dict[str, Any]:
    """The status of a completed file (``result`` None: its ``.result`` did not read)."""
    shown: dict[str, Any] = {
        "phase": Phase.COMPLETED.value,
        "progress": {"stage": "done", "percentage": 100},
        "completedAt": format_time(completed_at),
    }
    if result is None:
        shown["message"] = "completed; the .result could not be read"
        return shown
    summary = result_summary(result)
    stats = result.processing_stats
    shown["attempt"] = stats.total_attempts if stats is not None else 1
    shown["result"] = summary
    duration = summary.get("durationSeconds")
    language = summary.get("language")
    shown["message"] = (
        f"{summary['wordCount']} words"
        + (f" from {duration} s of audio" if duration is not None else "")
        + (f", language {language}" if language else "")
    )
    return shown


def rejected_status(reason: str) -> dict[str, Any]:
    return {"phase": Phase.REJECTED.value, "message": reason}


def merge_patch(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON merge patch (RFC 7386) that turns ``old`` into ``new``; empty when equal."""
    patch: dict[str, Any] = {key: None for key in old if key not in new}
    for key, value in new.items():
        before = old.get(key)
        if isinstance(value, dict) and isinstance(before, dict):
            inner = merge_patch(before, value)
            if inner:
                patch[key] = inner
        elif value != before or key not in old:
            patch[key] = value
    return patch


def check_request_path(root: Path, path: object) -> str:
    """The relative path a Transcription's ``spec.path`` names, vetted; raises
    :class:`RejectedRequestError` with a message for the object's status otherwise."""
    if not isinstance(path, str) or not path.strip():
        raise RejectedRequestError("spec.path is empty: name a file relative to the watched folder")
    problems = path_problems(path)
    if PathProblem.ABSOLUTE in problems or "\\" in path:
        raise RejectedRequestError(f"spec.path {path!r} must be relative to the watched folder")
    if PathProblem.MALFORMED in problems:
        raise RejectedRequestError(
            f"spec.path {path!r} must be 1 to {MAX_PATH_CHARS} characters, without NUL"
        )
    if PathProblem.TRAVERSAL in problems:
        raise RejectedRequestError(f"spec.path {path!r} must not contain '..', '.' or '//'")
    if PathProblem.MANUAL in problems:
        raise RejectedRequestError(
            f"{path} is in {MANUAL_DIR}/, waiting for a person: move it back to ask again"
        )
    if PathProblem.HIDDEN in problems:
        raise RejectedRequestError(f"{path} is a hidden or temporary file")
    if PathProblem.EXTENSION in problems:
        raise RejectedRequestError(f"{path} does not have an audio or video file extension")
    audio = root / PurePosixPath(path)
    real_root = os.path.realpath(root)
    real = os.path.realpath(audio)
    if not real.startswith(real_root + os.sep):
        raise RejectedRequestError(f"{path} leads outside the watched folder (a symlink)")
    if not audio.is_file():
        raise RejectedRequestError(f"{path}: no such file in the watched folder")
    return path


def status_on_disk(root: Path, rel: str) -> dict[str, Any]:
    """A file's status read from its status files now (a request just made)."""
    audio = root / rel
    try:
        result = read_model(result_path(audio), Result)
        if result is not None:
            completed = (
                result.processing_end
                or datetime.fromtimestamp(result_path(audio).stat().st_mtime).astimezone()
            )
            return status_of_result(result, completed)
        return status_of_file(read_model(in_progress_path(audio), InProgress))
    except (OSError, StatusFileError) as exc:
        return status_of_file(None) | {"message": f"status files unreadable: {exc}"}


def is_managed(body: Mapping[str, Any]) -> bool:
    labels = (body.get("metadata") or {}).get("labels") or {}
    return all(labels.get(key) == value for key, value in MIRROR_SELECTOR.items())

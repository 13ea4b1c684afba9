"""Names, labels and annotations of the objects the operator makes (Jobs, Transcriptions).

Pure and in one place: what the operator writes on an object is what it reads back
(an attempt's identity, the file's path), and a name derived from a path is the same
after any restart.
"""

from __future__ import annotations

import hashlib
import re

APP_NAME = "kubescribe"
MANAGED_BY = "kubescribe-operator"
LABEL_NAME = "app.kubernetes.io/name"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_PART_OF = "app.kubernetes.io/part-of"
LABEL_FILE_HASH = "kubescribe.io/file-hash"
LABEL_ATTEMPT = "kubescribe.io/attempt"
LABEL_PRIORITY = "kubescribe.io/priority"
#: Who made a Transcription: the mirror (``scan``) or a person asking for the file.
LABEL_ORIGIN = "kubescribe.io/origin"
LABEL_KUEUE_QUEUE = "kueue.x-k8s.io/queue-name"
#: The full relative path (a path is not a valid label value).
ANNOTATION_PATH = "kubescribe.io/path"
#: The attempt's deadline as the core set it: tells this attempt's Job apart from a
#: finished Job of the same name left by an earlier life of the file (same path, same
#: attempt number, after it went to ``manual/`` and was dropped again).
ANNOTATION_DEADLINE = "kubescribe.io/deadline"
#: Set on a finished Job once the operator posted the Event about its outcome.
ANNOTATION_ANNOUNCED = "kubescribe.io/announced"

#: ``app.kubernetes.io/component`` of the worker's Jobs and pods, and of Transcriptions.
WORKER_COMPONENT = "worker"
TRANSCRIPTION_COMPONENT = "transcription"

#: The longest DNS-1123 label.
MAX_NAME_LENGTH = 63
#: Hex digits of the path's hash in a name: unique enough, short enough to leave room.
NAME_HASH_LENGTH = 12
_NOT_DNS = re.compile(r"[^a-z0-9]+")


def path_hash(path: str) -> str:
    """A stable hex digest of a relative path; a valid label value for any file name."""
    return hashlib.sha256(path.encode("utf-8")).hexdigest()[:40]


def name_of_path(prefix: str, path: str, suffix: str = "") -> str:
    """A DNS-1123 label, at most 63 characters: ``<prefix>-<readable stem>-<hash><suffix>``.

    The hash of the path makes it unique and stable across operator restarts; the stem
    of the file name only helps a person reading ``kubectl get``, so it is cut to fit
    whatever the suffix needs.
    """
    tail = f"-{path_hash(path)[:NAME_HASH_LENGTH]}{suffix}"
    stem = _NOT_DNS.sub("-", path.rsplit("/", 1)[-1].lower()).strip("-")
    room = MAX_NAME_LENGTH - len(prefix) - 1 - len(tail)
    stem = stem[:room].strip("-")
    return f"{prefix}-{stem}{tail}" if stem else f"{prefix}{tail}"


def selector(component: str) -> dict[str, str]:
    """The labels that select every object of ``component`` this operator manages."""
    return {LABEL_MANAGED_BY: MANAGED_BY, LABEL_COMPONENT: component}


def file_labels(component: str, path: str) -> dict[str, str]:
    """The labels of an object about the file at ``path``."""
    return {
        LABEL_NAME: APP_NAME,
        LABEL_PART_OF: APP_NAME,
        **selector(component),
        LABEL_FILE_HASH: path_hash(path),
    }

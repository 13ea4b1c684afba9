"""What the controller could not do on the volume (``OSError``: a folder it may not write,
a read-only mount, a full disk, no file descriptors left), and when it tries again.

A fault stops only the file (or folder) it is about: the controller records it here, logs
it once (again only when the error changes), tries that one again after a backoff that
doubles up to a ceiling, and goes on with everything else. Nothing is lost: what failed
was a write that did not happen, so the volume still says what it said before.
"""

from __future__ import annotations

import errno
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from kubescribe_protocol.atomic import TEMP_PREFIX

log = logging.getLogger("kubescribe.core")

#: The first retry after this long, then twice as long each time, up to MAX_BACKOFF.
FIRST_BACKOFF = timedelta(seconds=5)
MAX_BACKOFF = timedelta(minutes=5)

#: What a person should do, by errno.
_ADVICE = {
    errno.EACCES: "give the user kubescribe runs as write access to the folder",
    errno.EPERM: "give the user kubescribe runs as write access to the folder",
    errno.EROFS: "the volume is mounted read-only: mount it read-write",
    errno.ENOSPC: "the volume is full: free space on it",
    errno.EDQUOT: "the disk quota is used up: free space or raise the quota",
    errno.EMFILE: "the process ran out of file descriptors: raise its limit (ulimit -n)",
    errno.ENFILE: "the system ran out of file descriptors",
    errno.EIO: "the volume reports an I/O error: check the storage",
}


@dataclass(frozen=True)
class VolumeFault:
    #: The media file (relative path) or folder the failed operation was for.
    subject: str
    #: The file or folder the operating system refused (absolute, when it said which).
    path: str
    #: ``PermissionError: [Errno 13] Permission denied``, without the path.
    error: str
    errno: int | None
    advice: str
    since: datetime
    failures: int
    retry_at: datetime

    def describe(self) -> str:
        return f"{self.path}: {self.error} ({self.advice})"


def _advice(number: int | None) -> str:
    return _ADVICE.get(number or 0, "check the volume")


class VolumeFaults:
    """The volume faults the controller knows of, by subject."""

    def __init__(self) -> None:
        self._faults: dict[str, VolumeFault] = {}

    def report(self, subject: str, exc: OSError, now: datetime, what: str) -> VolumeFault:
        """Record that ``what`` (a few words: "writing the status") failed for ``subject``."""
        path = exc.filename if isinstance(exc.filename, str) else subject
        if Path(path).name.startswith(TEMP_PREFIX):
            # An atomic write's temporary file (a new name each time): the folder is what
            # cannot be written, and the same fault must not read as a new one.
            path = str(Path(path).parent)
        error = f"{type(exc).__name__}: [Errno {exc.errno}] {exc.strerror or exc}"
        old = self._faults.get(subject)
        failures = 1 if old is None else old.failures + 1
        backoff = min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** (failures - 1))
        fault = VolumeFault(
            subject=subject,
            path=path,
            error=error,
            errno=exc.errno,
            advice=_advice(exc.errno),
            since=now if old is None else old.since,
            failures=failures,
            retry_at=now + backoff,
        )
        if old is None or (old.errno, old.path) != (fault.errno, fault.path):
            log.warning("cannot go on with %s: %s failed: %s; tried again from time to time, "
                        "the other files go on", subject, what, fault.describe())  # fmt: skip
        self._faults[subject] = fault
        return fault

    def clear(self, subject: str) -> None:
        """``subject``'s operation succeeded: its fault is over."""
        fault = self._faults.pop(subject, None)
        if fault is not None:
            log.info("%s: the volume works again (after %d failures)", subject, fault.failures)

    def blocked(self, subject: str, now: datetime) -> bool:
        """Whether ``subject`` waits for its backoff before it is tried again."""
        fault = self._faults.get(subject)
        return fault is not None and now < fault.retry_at

    def current(self) -> dict[str, VolumeFault]:
        """A copy: by subject."""
        return {subject: replace(fault) for subject, fault in self._faults.items()}

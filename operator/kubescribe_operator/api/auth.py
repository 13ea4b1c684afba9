"""Bearer tokens: from ``api_tokens`` (the environment) and ``api_tokens_file`` (a
mounted Kubernetes Secret, one token a line, re-read when it changes), compared in
constant time."""

from __future__ import annotations

import hmac
import logging
import threading
from pathlib import Path

log = logging.getLogger("kubescribe.api")


class TokenSet:
    def __init__(self, tokens: list[str], tokens_file: Path | None) -> None:
        self._fixed = [token for token in (t.strip() for t in tokens) if token]
        self._file = tokens_file
        self._file_key: tuple[int, int] | None = None
        self._from_file: list[str] = []
        self._lock = threading.Lock()

    def _current(self) -> list[str]:
        if self._file is None:
            return self._fixed
        with self._lock:
            try:
                info = self._file.stat()
                key = (info.st_mtime_ns, info.st_size)
                if key != self._file_key:
                    lines = self._file.read_text(encoding="utf-8").splitlines()
                    self._from_file = [line.strip() for line in lines if line.strip()]
                    self._file_key = key
            except OSError as exc:
                # A Secret being re-mounted: keep what was read last.
                log.warning("cannot read api_tokens_file %s: %s", self._file, exc)
            return self._fixed + self._from_file

    def configured(self) -> bool:
        return bool(self._current())

    def accepts(self, presented: str) -> bool:
        """Whether ``presented`` is one of the tokens; looks at every token whatever
        matches, so the time taken says nothing about which matched."""
        given = presented.encode("utf-8")
        matched = False
        for token in self._current():
            matched |= hmac.compare_digest(given, token.encode("utf-8"))
        return matched

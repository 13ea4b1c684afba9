"""What a client is told about a status file that is not one kubescribe will read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kubescribe_operator.volume.file_actions import ActionError, locate
from kubescribe_protocol.atomic import MAX_STATUS_BYTES


def test_a_fifo_status_file_has_its_own_code(tmp_path: Path) -> None:
    (tmp_path / "x.mp3").write_bytes(b"audio")
    os.mkfifo(tmp_path / "x.mp3.in_progress")
    with pytest.raises(ActionError) as caught:
        locate(tmp_path, "x.mp3")
    # The API refuses it before reading (check_status_files), with its own code.
    assert (caught.value.status, caught.value.code) == (409, "unsafe_status_file")


def test_a_huge_status_file_has_its_own_code(tmp_path: Path) -> None:
    (tmp_path / "x.mp3").write_bytes(b"audio")
    with (tmp_path / "x.mp3.in_progress").open("wb") as handle:
        handle.truncate(MAX_STATUS_BYTES + 1)
    with pytest.raises(ActionError) as caught:
        locate(tmp_path, "x.mp3")
    assert (caught.value.status, caught.value.code) == (409, "status_too_large")

"""What the controller does with status files anyone who can write the volume may have
put there: it neither follows them out of the root nor blocks on them."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest

from kubescribe_protocol.names import in_progress_path

from .test_controller import audio, make


@pytest.mark.parametrize("target", ["{outside}/evil.mp3", "../../x.mp3", "manual/other.mp3"])
def test_a_manual_path_out_of_place_is_not_followed(
    tmp_path: Path, target: str, caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    target = target.format(outside=outside)
    audio(root, "a.mp3", b"the user's audio")
    in_progress_path(root / "a.mp3").write_text(
        json.dumps({"filename": "a.mp3", "status": "error", "manual_path": target})
    )
    controller, executor, _ = make(root)
    with caplog.at_level(logging.WARNING, logger="kubescribe.core"):
        controller.recover()
        controller.tick()
    assert (root / "a.mp3").read_bytes() == b"the user's audio"
    assert in_progress_path(root / "a.mp3").is_file()
    assert not outside.exists() and not (tmp_path / "x.mp3").exists()
    assert not (root / "manual").exists()
    assert executor.started_paths() == []
    assert f"manual_path {target!r} of a.mp3" in caplog.text
    assert "it must be manual/a.mp3" in caplog.text


def test_an_orphan_status_file_with_a_manual_path_out_of_place_is_not_followed(
    tmp_path: Path,
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (tmp_path / "evil.mp3").write_bytes(b"not the controller's to move")
    in_progress_path(root / "gone.mp3").write_text(
        json.dumps({"filename": "gone.mp3", "manual_path": str(tmp_path / "evil.mp3")})
    )
    controller, _, _ = make(root)
    controller.recover()
    controller.tick()
    assert in_progress_path(root / "gone.mp3").is_file()
    assert (tmp_path / "evil.mp3").is_file()
    assert not (root / "manual").exists()


def test_a_fifo_as_status_file_does_not_stop_the_others(tmp_path: Path) -> None:
    audio(tmp_path, "x.mp3")
    os.mkfifo(in_progress_path(tmp_path / "x.mp3"))
    audio(tmp_path, "y.mp3")
    controller, executor, _ = make(tmp_path)
    # On the old code recover() blocks for ever opening the FIFO.
    controller.recover()
    controller.tick()
    assert executor.started_paths() == ["y.mp3"]

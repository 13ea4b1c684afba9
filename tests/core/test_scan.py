"""What a scan takes and what it leaves alone."""

from __future__ import annotations

import os
from pathlib import Path

from kubescribe_operator.core.scan import scan


def touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_scan_classifies_by_name_and_skips_what_is_not_ours(tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = touch(tmp_path / "outside.mp3")
    touch(root / "a.mp3", b"abc")
    touch(root / "nested/deeper/Запись встречи.wav")
    touch(root / "done.mp3")
    touch(root / "done.mp3.result")
    touch(root / "busy.flac")
    touch(root / "busy.flac.in_progress")
    touch(root / "manual/failed.mp3")
    touch(root / ".hidden.mp3")
    touch(root / ".cache/inside.mp3")
    touch(root / "download.mp3.part")
    touch(root / "~lock.mp3")
    touch(root / "notes.txt")
    touch(root / "nested/manual/not-top-level.mp3")
    touch(root / "gone.mp3.in_progress")
    (root / "link-out.mp3").symlink_to(outside)
    (root / "link-in.mp3").symlink_to(root / "a.mp3")
    (root / "dir-link").symlink_to(root / "nested", target_is_directory=True)

    result = scan(root)
    by_rel = {seen.rel: seen for seen in result.files}
    assert set(by_rel) == {
        "a.mp3",
        "nested/deeper/Запись встречи.wav",
        "done.mp3",
        "busy.flac",
        "nested/manual/not-top-level.mp3",
        "link-in.mp3",
    }
    assert by_rel["done.mp3"].has_result and by_rel["done.mp3"].size is None
    assert by_rel["busy.flac"].in_progress_mtime_ns is not None
    assert by_rel["busy.flac"].size is None
    assert by_rel["a.mp3"].size == 3
    assert by_rel["a.mp3"].mtime_ns == os.stat(root / "a.mp3").st_mtime_ns
    assert result.orphan_in_progress == ["gone.mp3"]


def test_scan_of_manual_folder_with_prefix(tmp_path: Path) -> None:
    touch(tmp_path / "manual/sub/x.mp3")
    result = scan(tmp_path / "manual", skip_manual=False, prefix="manual/")
    assert [seen.rel for seen in result.files] == ["manual/sub/x.mp3"]


def test_abandoned_temporary_files_are_removed(tmp_path: Path) -> None:
    from kubescribe_operator.core.controller import Controller
    from kubescribe_operator.settings import ControllerSettings
    from kubescribe_protocol.atomic import TEMP_PREFIX

    from .fakes import FakeExecutor

    old = touch(tmp_path / "sub" / f"{TEMP_PREFIX}a.mp3.in_progress.1234")
    os.utime(old, (1, 1))
    fresh = touch(tmp_path / f"{TEMP_PREFIX}b.mp3.result.5678")
    assert scan(tmp_path).files == []
    Controller(ControllerSettings(root=tmp_path), FakeExecutor(tmp_path)).rescan()
    assert not old.exists()
    assert fresh.exists()  # may be a live writer's

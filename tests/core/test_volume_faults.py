"""An OSError on the volume (a folder kubescribe may not write, a read-only mount, a full
disk, no file descriptors left) stops only the file it is about: it is reported, tried
again after a backoff, and the other files go on; nothing is lost.

Root writes anywhere, so the unwritable folder is tested under ``setpriv`` without the
file-permission override; the read-only and the full volume are a small tmpfs mounted in
a user and mount namespace of the test's own (``unshare -rm``)."""

from __future__ import annotations

import json
import os
import resource
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kubescribe_protocol.atomic import write_model
from kubescribe_protocol.models import Attempt, FileStatus, InProgress
from kubescribe_protocol.names import in_progress_path

from .test_controller import audio, make

PROBE = Path(__file__).with_name("volume_probe.py")
WITHOUT_OVERRIDE = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner", "--"]


def probe(command: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    before, after = (json.loads(line) for line in done.stdout.splitlines())
    return before, after


def needs(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")


def test_an_unwritable_folder_stops_only_its_files(tmp_path: Path) -> None:
    needs("setpriv")
    if os.geteuid() != 0:
        pytest.skip("run as root: it drops root's file-permission override")
    audio(tmp_path, "ro/a.mp3")
    audio(tmp_path, "rw/b.mp3")
    (tmp_path / "ro").chmod(0o555)
    try:
        before, after = probe([*WITHOUT_OVERRIDE, sys.executable, str(PROBE), str(tmp_path),
                               f"chmod 755 {shlex.quote(str(tmp_path / 'ro'))}"])  # fmt: skip
    finally:
        (tmp_path / "ro").chmod(0o755)
    assert before["started"] == ["rw/b.mp3"] and before["results"] == ["rw/b.mp3.result"]
    fault = before["faults"]["ro/a.mp3"]
    assert fault["path"] == str(tmp_path / "ro")  # the folder, not the temporary file
    assert "PermissionError: [Errno 13]" in fault["error"]
    assert "write access to the folder" in fault["advice"]
    assert (tmp_path / "ro" / "a.mp3").is_file()
    # Once the folder is writable, the file is done (after its backoff), the fault gone.
    assert after["results"] == ["ro/a.mp3.result", "rw/b.mp3.result"] and after["faults"] == {}


def _processing(root: Path, rel: str) -> None:
    """A file a controller killed mid-attempt left: recover() records the attempt."""
    audio(root, rel)
    status = InProgress(filename=Path(rel).name, path=rel, status=FileStatus.PROCESSING,
                        attempt=1, attempts=[Attempt(attempt_number=1)])  # fmt: skip
    write_model(in_progress_path(root / rel), status)


def in_small_tmpfs(tmp_path: Path, setup: str, *fixes: str) -> list[str]:
    needs("unshare")
    mount = tmp_path / "volume"
    mount.mkdir()
    script = "; ".join([
        f"mount -t tmpfs -o size=1m none {mount}",
        f"{sys.executable} -c {shlex.quote(setup)} {mount}",
        shlex.join([sys.executable, str(PROBE), str(mount), *fixes]),
    ])  # fmt: skip
    return ["unshare", "-rm", "sh", "-ec", script]


SETUP = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from core.test_volume_faults import _processing
from core.test_controller import audio
root = Path(sys.argv[1])
_processing(root, "was/running.mp3")
audio(root, "new.mp3")
{last}
""".replace("{tests!r}", repr(str(Path(__file__).parents[1])))


def test_a_full_disk_stops_no_one_and_nothing_is_lost(tmp_path: Path) -> None:
    fill = "(root / 'filler').write_bytes(b'x' * 4 * 1024 * 1024)  # ENOSPC: tmpfs is 1 MiB"
    fill = "import contextlib\nwith contextlib.suppress(OSError):\n    " + fill
    command = in_small_tmpfs(tmp_path, SETUP.replace("{last}", fill),
                             f"rm {tmp_path / 'volume' / 'filler'}")  # fmt: skip
    before, after = probe(command)
    assert before["started"] == [] and before["results"] == []
    assert {"was/running.mp3", "new.mp3"} <= set(before["faults"])
    assert all("[Errno 28]" in f["error"] for f in before["faults"].values())
    assert "free space" in before["faults"]["new.mp3"]["advice"]
    assert after["results"] == ["new.mp3.result", "was/running.mp3.result"]
    assert after["faults"] == {}


def test_a_read_only_volume_survives_recover_and_ticks(tmp_path: Path) -> None:
    mount = tmp_path / "volume"
    command = in_small_tmpfs(tmp_path, SETUP.replace("{last}", ""),
                             f"mount -o remount,rw {mount}")  # fmt: skip
    # Read-only from before the controller starts: its recover() meets EROFS first.
    command[-1] = command[-1].replace(
        f"; {sys.executable} {PROBE}", f"; mount -o remount,ro {mount}; {sys.executable} {PROBE}"
    )
    before, after = probe(command)
    assert before["started"] == []
    assert "[Errno 30]" in before["faults"]["was/running.mp3"]["error"]
    assert "read-only" in before["faults"]["was/running.mp3"]["advice"]
    assert after["results"] == ["new.mp3.result", "was/running.mp3.result"]


@pytest.fixture
def few_descriptors() -> Iterator[list[int]]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    held: list[int] = []
    resource.setrlimit(resource.RLIMIT_NOFILE, (512, hard))
    try:
        yield held
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_no_file_descriptors_left_in_the_scan_stops_nothing(
    tmp_path: Path, few_descriptors: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    audio(tmp_path, "a.mp3")
    controller, executor, clock = make(tmp_path)
    controller.recover()
    controller.tick()
    assert executor.started_paths() == ["a.mp3"]
    audio(tmp_path, "later.mp3")
    while True:  # use up every descriptor, as held connections would
        try:
            few_descriptors.append(os.open(os.devnull, os.O_RDONLY))
        except OSError:
            break
    for _ in range(5):
        clock.advance(1)
        controller.tick()  # on the old code: OSError [Errno 24] out of scan.py
    assert caplog.text.count("Too many open files") == 1  # said once, not every tick
    assert "[Errno 24]" in controller.view().volume_faults["./"].error
    assert "a.mp3" in controller.view().files  # not listed this time is not gone
    for fd in few_descriptors:
        os.close(fd)
    few_descriptors.clear()
    clock.advance(600)
    (key,) = executor.running
    executor.succeed(key)
    for _ in range(3):
        controller.tick()
        clock.advance(1)
    assert executor.started_paths() == ["a.mp3", "later.mp3"]
    assert "./" not in controller.view().volume_faults

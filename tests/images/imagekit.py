"""Building and running the real images in tests, through scripts/images (docker or podman).

Where no engine is installed, the image tests skip; with ``KUBESCRIBE_REQUIRE_IMAGES=1``
(CI sets it) they fail instead, saying what to install.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts" / "images"
REQUIRE_ENV = "KUBESCRIBE_REQUIRE_IMAGES"
#: A line no CA bundle has: the bundle the tests build with carries it, so any copy of
#: the bundle in a layer shows.
CA_MARKER = "# kubescribe image tests: this bundle must stay out of every layer"


def missing(reason: str) -> None:
    """Skip, or fail where the images are required: the same words either way."""
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{reason} ({REQUIRE_ENV}=1: the image tests must run here)")
    pytest.skip(reason)


def engine_name() -> str:
    """``docker`` or ``podman`` as scripts/images picks it, or a skip (a fail) that says
    what to install."""
    result = subprocess.run(
        [str(SCRIPTS / "engine"), "--name"], capture_output=True, text=True, timeout=60
    )
    if result.returncode != 0:
        missing(result.stderr.strip() or "no container engine (docker or podman)")
    return result.stdout.strip()


def engine(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The engine with this host's settings (scripts/images/engine)."""
    return subprocess.run(
        [str(SCRIPTS / "engine"), *args], capture_output=True, text=True, timeout=timeout
    )


@dataclass(frozen=True)
class Built:
    image: str
    seconds: float
    log: str


def build(which: str, image: str, ca_bundle: Path | None, timeout: float) -> Built:
    """``scripts/images/build --debian-base WHICH`` tagged ``image``: a base from Debian
    packages works where no registry can be reached, as here and in CI."""
    if shutil.which("mmdebstrap") is None:
        missing("mmdebstrap is not installed (it makes the Debian base): scripts/images/install")
    env = {**os.environ, f"KUBESCRIBE_{which.upper()}_IMAGE": image}
    if ca_bundle is not None:
        env["KUBESCRIBE_CA_BUNDLE"] = str(ca_bundle)
    start = time.monotonic()
    result = subprocess.run(
        [str(SCRIPTS / "build"), "--debian-base", which],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"building the {which} image failed:\n{log[-6000:]}"
    return Built(image, time.monotonic() - start, log)


def host_ca_bundle() -> Path | None:
    """The CA bundle scripts/images/build finds on this host (as lib.sh does)."""
    script = f'source "{SCRIPTS / "lib.sh"}"; find_ca_bundle'
    found = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    path = found.stdout.strip()
    return Path(path) if path else None


def local_certificates() -> list[str]:
    """A few lines from the middle of each certificate this host added to its bundle
    (/usr/local/share/ca-certificates): the part of the bundle no image ships by itself,
    unlike the public CAs that ca-certificates and certifi carry."""
    found = []
    folder = Path("/usr/local/share/ca-certificates")
    for path in sorted(folder.rglob("*.crt")) if folder.is_dir() else []:
        for body in re.findall(
            r"-----BEGIN CERTIFICATE-----\n(.*?)-----END CERTIFICATE-----", path.read_text(), re.S
        ):
            lines = body.splitlines()
            found.append("\n".join(lines[len(lines) // 2 - 1 : len(lines) // 2 + 2]))
    return found


def layer_files(archive: Path) -> Iterator[tuple[str, str, bytes]]:
    """(layer, path, content) of every regular file in every layer of a saved image:
    ``podman save --format docker-archive`` names layers ``<digest>.tar``, ``docker save``
    (25 and later) ``blobs/sha256/<digest>``; any member that is itself a tar is one."""
    with tarfile.open(archive) as outer:
        for member in outer.getmembers():
            if not member.isfile() or member.name.endswith((".json", "repositories")):
                continue
            handle = outer.extractfile(member)
            assert handle is not None
            if not _is_tar(handle):
                continue  # a config or manifest blob
            with tarfile.open(fileobj=handle, mode="r:*") as layer:
                for entry in layer:
                    if entry.isfile():
                        content = layer.extractfile(entry)
                        assert content is not None
                        yield member.name, entry.name, content.read()


def _is_tar(handle: IO[bytes]) -> bool:
    try:
        with tarfile.open(fileobj=handle, mode="r:*"):
            pass
    except tarfile.ReadError:
        return False
    finally:
        handle.seek(0)
    return True

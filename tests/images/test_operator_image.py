"""The operator image, built and run: as uid 10001 on a read-only root it starts until
it asks for Kubernetes credentials, ``kubescribe status`` works in it, and the CA bundle
the build used is in no layer.

Built with scripts/images/build from a Debian base (no registry needed); the first build
takes a few minutes, a rebuild seconds (its dependency layer is cached).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from images.imagekit import (
    CA_MARKER,
    Built,
    build,
    engine,
    engine_name,
    host_ca_bundle,
    layer_files,
    local_certificates,
)

IMAGE = "localhost/kubescribe-operator:test"
#: As the chart runs it: its own uid, nothing writable but what is mounted, no network.
AS_THE_CHART_RUNS_IT = ["--rm", "--user", "10001:10001", "--read-only", "--network", "none"]


@pytest.fixture(scope="module")
def ca_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The host's bundle with a marker line added: what the build mounts as its secret."""
    bundle = tmp_path_factory.mktemp("ca") / "ca-bundle.crt"
    host = host_ca_bundle()
    bundle.write_text((host.read_text() if host else "") + f"\n{CA_MARKER}\n")
    return bundle


@pytest.fixture(scope="module")
def operator_image(ca_bundle: Path) -> Built:
    engine_name()
    built = build("operator", IMAGE, ca_bundle, timeout=1800)
    print(f"operator image built in {built.seconds:.0f} s")
    return built


def test_the_operator_starts_as_10001_on_a_read_only_root_until_it_asks_for_credentials(
    operator_image: Built,
) -> None:
    result = engine("run", *AS_THE_CHART_RUNS_IT, operator_image.image, timeout=180)
    output = result.stdout + result.stderr
    # Everything it imports is in the image (a wheel short of a package fails here first).
    assert "ModuleNotFoundError" not in output and "Traceback" not in output, output
    assert result.returncode == 2, output
    assert "no Kubernetes credentials" in output and "KUBECONFIG" in output, output


def test_the_image_runs_as_10001_by_itself(operator_image: Built) -> None:
    result = engine("image", "inspect", operator_image.image)
    assert result.returncode == 0, result.stderr
    (config,) = json.loads(result.stdout)
    assert config["Config"]["User"] == "10001:10001"
    assert config["Config"]["Entrypoint"] == ["kubescribe", "operator"]


def test_kubescribe_status_runs_in_the_image(operator_image: Built, tmp_path: Path) -> None:
    # NOTES.txt and the README tell people to run it in the operator's pod.
    data = tmp_path / "data"
    data.mkdir(mode=0o777)
    data.chmod(0o777)
    audio = data / "talk.mp3"
    audio.write_bytes(b"not yet looked at")
    # Written an hour ago: a file inside the stable window is 'arriving', not 'pending'.
    an_hour_ago = audio.stat().st_mtime - 3600
    os.utime(audio, (an_hour_ago, an_hour_ago))
    result = engine(
        "run", *AS_THE_CHART_RUNS_IT, "-v", f"{data}:/data", "--entrypoint", "kubescribe",
        operator_image.image, "status", "/data",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 pending" in result.stdout and "talk.mp3" in result.stdout, result.stdout


def _save(image: str, archive: Path) -> None:
    saved = engine(
        "save", *(["--format", "docker-archive"] if engine_name() == "podman" else []),
        "-o", str(archive), image, timeout=600,
    )  # fmt: skip
    assert saved.returncode == 0, saved.stderr


def _copies_of_the_bundle(archive: Path) -> tuple[list[str], int]:
    """Files of any layer that hold the test bundle's marker or a certificate this host
    added to its bundle; and how many files were read."""
    needles = [CA_MARKER.encode(), *(cert.encode() for cert in local_certificates())]
    found, files = [], 0
    for layer, path, content in layer_files(archive):
        files += 1
        if any(needle in content for needle in needles):
            found.append(f"{path} (layer {layer})")
    return found, files


def test_the_ca_bundle_is_in_no_layer(
    operator_image: Built, ca_bundle: Path, tmp_path: Path
) -> None:
    # The build mounted it as a secret for the install steps...
    assert f"(CA bundle {ca_bundle})" in operator_image.log
    archive = tmp_path / "image.tar"
    _save(operator_image.image, archive)
    # ...and no file of any layer holds it.
    found, files = _copies_of_the_bundle(archive)
    assert files > 1000, f"only {files} files read: the image was not read"
    assert found == [], f"the build's CA bundle is in the image: {found}"
    # Nor does the image's configuration point anything at it.
    config = json.loads(engine("image", "inspect", operator_image.image).stdout)[0]["Config"]
    assert not [e for e in config.get("Env") or [] if "secrets" in e or "CERT" in e], config
    left = engine(
        "run", "--rm", "--entrypoint", "sh", operator_image.image, "-c", "test -e /run/secrets/ca"
    )
    assert left.returncode == 1, "/run/secrets/ca exists in the image"


def test_the_layer_search_finds_a_bundle_a_step_copied(
    operator_image: Built, ca_bundle: Path, tmp_path: Path
) -> None:
    # The control: a step that copies the secret into its layer is caught, so an empty
    # finding above means no copy, not a search that cannot see one.
    (tmp_path / "Dockerfile").write_text(
        f"FROM {operator_image.image}\n"
        "USER 0\n"
        "RUN --mount=type=secret,id=ca cp /run/secrets/ca /opt/kubescribe/leaked.crt\n"
    )
    leaky = "localhost/kubescribe-operator:test-leaky"
    built = engine(
        "build", "--secret", f"id=ca,src={ca_bundle}", "-t", leaky, str(tmp_path), timeout=600
    )
    assert built.returncode == 0, built.stdout + built.stderr
    try:
        _save(leaky, tmp_path / "leaky.tar")
        found, _files = _copies_of_the_bundle(tmp_path / "leaky.tar")
        assert [path for path in found if "leaked.crt" in path], found
    finally:
        engine("rmi", "-f", leaky)

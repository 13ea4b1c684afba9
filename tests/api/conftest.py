"""One real ``kubescribe run --api`` with the real worker, shared by the API tests."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from speechkit import have_speech_tools, speak

from api.apikit import CallbackReceiver, Server, file_id, start_server, stop_server, until

SPEECH = {
    "fox": "The quick brown fox jumps over the lazy dog.",
    "weather": "The weather today is sunny and warm.",
    "garden": "My garden has red roses and green trees.",
    "music": "She plays music on the piano every evening.",
}


@pytest.fixture(scope="session")
def speech(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    if not have_speech_tools():
        pytest.fail("espeak-ng and ffmpeg are needed")
    folder = tmp_path_factory.mktemp("speech")
    return {name: speak(folder / f"{name}.wav", text) for name, text in SPEECH.items()}


@pytest.fixture(scope="session")
def api(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("api-root")
    log = tmp_path_factory.mktemp("api-log") / "run.log"
    server = start_server(
        root,
        model_dir,
        log,
        KUBESCRIBE_MAX_UPLOAD_MB="3",
        KUBESCRIBE_RETRY_BACKOFF_SECONDS="1",
        # The test's callback receiver listens on loopback, refused by default.
        KUBESCRIBE_CALLBACK_ALLOWED_NETWORKS='["127.0.0.1/32"]',
    )
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def long_speech(speech: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 40 s of speech: an attempt that runs long enough to watch and cancel."""
    target = tmp_path_factory.mktemp("long") / "long.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-stream_loop", "12", "-i", str(speech["fox"]),
                    "-c", "copy", str(target)], check=True, timeout=60)  # fmt: skip
    return target


def _estimate(http: httpx.Client) -> float:
    for line in http.get("/metrics").text.splitlines():
        if line.startswith("kubescribe_realtime_factor_estimate "):
            return float(line.rpartition(" ")[2])
    raise AssertionError("no kubescribe_realtime_factor_estimate in /metrics")


@pytest.fixture(scope="session")
def measured(api: Server, speech: dict[str, Path]) -> float:
    """The realtime factor the server measured (a file is transcribed if none was yet)."""
    with api.client(timeout=300) as http:
        if _estimate(http) == 0:
            files = {"file": ("warmup.wav", speech["fox"].read_bytes())}
            rel = http.post("/v1/transcriptions", files=files).json()["path"]
            answer = http.get(f"/v1/transcriptions/{file_id(rel)}/result", params={"wait": 240})
            assert answer.status_code == 200, answer.text
            until(lambda: _estimate(http) > 0, 10, "the realtime factor")
        return _estimate(http)


@pytest.fixture
def receiver() -> Iterator[CallbackReceiver]:
    hook = CallbackReceiver(fail_first=1)
    yield hook
    hook.close()

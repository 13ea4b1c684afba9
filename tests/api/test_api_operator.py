"""The API inside ``kubescribe operator --api``: the emulated Kubernetes API, the test
kubelet running the real worker for each Job, and requests over real HTTP."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from speechkit import speak

from api.apikit import TOKEN, file_id, free_port, until, words

# The operator tests' emulator, kubelet and process helpers (tests/operator is no package).
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "operator"))
from kube_emulator import EmulatorServer  # type: ignore[import-not-found]
from kubelet import Kubelet  # type: ignore[import-not-found]
from operator_harness import OperatorProcess  # type: ignore[import-not-found]

from kubescribe_operator.k8s.kube_api import load_api_client

pytestmark = pytest.mark.slow

DEFAULTS = {"model_size": "tiny.en", "device": "cpu", "compute_type": "int8", "language": "en"}


@pytest.fixture
def cluster(tmp_path: Path, model_dir: Path) -> Iterator[tuple[Path, str, Kubelet]]:
    root = tmp_path / "data"
    root.mkdir()
    with EmulatorServer() as emulator:
        kubeconfig = emulator.write_kubeconfig(tmp_path / "kubeconfig")
        logs = tmp_path / "pods"
        logs.mkdir()
        with Kubelet(load_api_client(str(kubeconfig)), logs) as kubelet:
            port = free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("KUBESCRIBE_")}
            settings = {
                "root": str(root), "model_dir": str(model_dir), "stable_seconds": "3600",
                "scan_interval_seconds": "0.3", "parallel": "1",
                "worker_image": "kubescribe-worker:test", "defaults": json.dumps(DEFAULTS),
                "api_enabled": "true", "api_host": "127.0.0.1", "api_port": str(port),
                "api_tokens": json.dumps([TOKEN]), "callback_secret": "operator-callback-secret",
            }  # fmt: skip
            env |= {f"KUBESCRIBE_{name.upper()}": value for name, value in settings.items()}
            env["KUBECONFIG"] = str(kubeconfig)
            process = OperatorProcess(env, tmp_path / "operator.log").start()
            url = f"http://127.0.0.1:{port}"

            def ready() -> bool:
                try:
                    return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
                except httpx.HTTPError:
                    return False

            try:
                until(ready, 90, "the operator's API")
                yield root, url, kubelet
            finally:
                process.stop()
            assert "Traceback" not in process.output(), process.output()[-4000:]


def test_operator_api_runs_a_request_as_a_job_and_cancels_one(
    cluster: tuple[Path, str, Kubelet], tmp_path: Path
) -> None:
    root, url, kubelet = cluster
    speak(root / "waiting.wav", "This file waits on the share until someone asks for it.")
    first = speak(tmp_path / "asked.wav", "Please transcribe this request from the cluster.")
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=url, headers=headers, timeout=300) as http:
        # A file on the share that the scan would not take for an hour (stable_seconds):
        # the request queues it, and a Job runs it.
        named = http.post("/v1/transcriptions", data={"path": "waiting.wav"})
        assert named.status_code == 202, named.text
        text = http.get(f"/v1/transcriptions/{file_id('waiting.wav')}/result",
                        params={"format": "txt", "wait": 240})  # fmt: skip
        assert text.status_code == 200, text.text
        assert {"file", "waits", "asks"} <= words(text.text)
        assert [job["metadata"]["annotations"]["kubescribe.io/path"] for job in kubelet.jobs] == [
            "waiting.wav"
        ]

        # An upload, cancelled while its Job runs: the Job stops, the file goes to manual/.
        with first.open("rb") as audio:
            upload = http.post("/v1/transcriptions", files={"file": ("asked.wav", audio)})
        rel = upload.json()["path"]
        until(lambda: http.get(f"/v1/transcriptions/{file_id(rel)}").json()["state"]
              == "processing", 120, "the upload's Job to run")  # fmt: skip
        assert http.delete(f"/v1/transcriptions/{file_id(rel)}").status_code == 200
        until(lambda: http.get(f"/v1/transcriptions/{file_id(rel)}").json()["state"] == "manual",
              120, "the cancel")  # fmt: skip
        view = http.get(f"/v1/transcriptions/{file_id(rel)}").json()
        assert view["error"]["code"] == "cancelled"
        metrics = http.get("/metrics").text
        assert 'kubescribe_attempts_total{outcome="completed",reason="none"} 1.0' in metrics
        assert 'kubescribe_attempts_total{outcome="manual",reason="cancelled"} 1.0' in metrics


def test_operator_api_guards_bodies_callbacks_and_manual_ids(
    cluster: tuple[Path, str, Kubelet],
) -> None:
    """Issue 14's API checks hold in ``kubescribe operator --api`` too (the same server)."""
    from api.rawhttp import RawRequest, post_head

    root, url, _kubelet = cluster
    request = RawRequest(url, post_head(url, "/v1/transcriptions", token=None,
                                        extra={"Transfer-Encoding": "chunked"}))  # fmt: skip
    try:
        assert request.wait_status(30) == 401, request.answer  # before any of the body
    finally:
        request.close()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
        refused = http.post("/v1/transcriptions", data={
            "path": "nothing.wav", "callback_url": "http://kubernetes.default.svc/x"})  # fmt: skip
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["code"] == "callback_target_refused"
        (root / "manual").mkdir(exist_ok=True)
        (root / "manual" / "m.wav").write_bytes(b"RIFF....")
        manual = http.delete(f"/v1/transcriptions/{file_id('manual/m.wav')}")
        assert manual.status_code == 400 and manual.json()["error"]["code"] == "manual_id"
        long = http.post("/v1/transcriptions", data={"path": "a" * 300 + ".mp3"})
        assert long.status_code == 400 and long.json()["error"]["code"] == "name_too_long"
    assert sorted(path.name for path in (root / "manual").iterdir()) == ["m.wav"]

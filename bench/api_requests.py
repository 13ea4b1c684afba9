"""HTTP API latency on a root holding many files: ``POST /v1/transcriptions`` (a file on
the volume; it rescans the root under the core's lock), ``GET /v1/transcriptions/{id}``
and ``GET /v1/queue``, with the core ticking beside it as ``kubescribe run`` does.

The tree holds ``--files`` pending audio files (empty: nothing is transcribed; an
executor that starts nothing stands in for the workers, and ``stable_seconds`` keeps the
scan from queueing them). The API runs in this process on uvicorn, over real HTTP.

    python3 bench/api_requests.py [--files 20000] [--requests 50]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx

TOKEN = "bench-token"


class IdleExecutor:
    """Starts nothing; every attempt stays 'running' (the API's numbers alone)."""

    name = "local"

    def __init__(self) -> None:
        self.started: set[object] = set()

    def planned_handle(self, key: object) -> str | None:
        return None

    def start(self, spec: object) -> str:
        self.started.add(spec.key)  # type: ignore[attr-defined]
        return "idle"

    def stop(self, key: object, reason: object) -> None:
        self.started.discard(key)

    def live(self) -> set[object]:
        return set(self.started)

    def collect(self) -> list[object]:
        return []


def build(root: Path, files: int) -> None:
    for n in range(files):
        folder = root / f"team-{n % 50:02d}" / f"week-{n // 1000:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"recording {n:06d}.mp3").write_bytes(b"")


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(1000 * statistics.median(ordered), 1),
        "p95_ms": round(1000 * ordered[int(0.95 * (len(ordered) - 1))], 1),
        "max_ms": round(1000 * ordered[-1], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()

    from kubescribe_operator.api.server import ApiServer
    from kubescribe_operator.core.controller import Controller
    from kubescribe_operator.settings import ControllerSettings
    from kubescribe_operator.volume.file_actions import transcription_id

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        build(root, args.files)
        settings = ControllerSettings(
            root=root, stable_seconds=1e9, scan_interval_seconds=5, parallel=1_000_000,
            api_host="127.0.0.1", api_port=0, api_tokens=[TOKEN],
        )  # fmt: skip
        controller = Controller(settings, IdleExecutor())  # type: ignore[arg-type]
        lock = threading.Lock()
        stop = threading.Event()
        api = ApiServer(controller, lock, settings)
        api.start()

        def drive() -> None:
            while not stop.is_set():
                with lock:
                    controller.tick()
                time.sleep(settings.tick_seconds)

        driver = threading.Thread(target=drive, daemon=True)
        driver.start()
        rels = sorted(controller.view().files)[: args.requests]
        while len(rels) < args.requests:
            time.sleep(0.1)
            with lock:
                rels = sorted(controller.view().files)[: args.requests]
        timings: dict[str, list[float]] = {"post_path": [], "get_status": [], "get_queue": []}
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=f"http://127.0.0.1:{api.port}", headers=headers) as http:
            for rel in rels:
                calls = {
                    "post_path": ("POST", "/v1/transcriptions", {"path": rel}),
                    "get_status": ("GET", f"/v1/transcriptions/{transcription_id(rel)}", None),
                    "get_queue": ("GET", "/v1/queue", None),
                }
                for name, (method, path, form) in calls.items():
                    began = time.perf_counter()
                    answer = http.request(method, path, data=form)
                    timings[name].append(time.perf_counter() - began)
                    assert answer.status_code < 300, answer.text
        stop.set()
        driver.join()
        api.stop()
        report = {"files": args.files, "requests": args.requests}
        report |= {name: percentiles(samples) for name, samples in timings.items()}
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

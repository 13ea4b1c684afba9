"""The operator's control plane under 1,000 files, against kmock's emulator over HTTP.

The real operator (``kubescribe operator``: kopf, the core, the Kubernetes executor) runs
as its own process against the emulator of ``tests/operator``. The test kubelet plays
every pod with a stand-in worker that does no work (it writes the ``.result`` at once),
so what is measured is the operator, not WhisperX:

- Jobs created per second, from the first Job to the last;
- the time from a file becoming stable (written, with ``stable_seconds`` 0) to its Job
  existing in the API server, per file (p50, p95, max): scan interval + queue + create;
- the operator's Kubernetes API requests per file, by kind, counted at the server from
  the User-Agent (the kubelet's own requests are left out); the leader Lease renewals
  are shown apart, since they depend on time, not on files.

    python3 bench/operator_jobs.py [--files 1000] [--parallel 1000] [--scan-interval 1]

Target: a constant few requests per file, and none of them polling.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "operator"))

from kube_emulator import EmulatorServer  # type: ignore[import-not-found]  # noqa: E402
from kubelet import Fault, Kubelet  # type: ignore[import-not-found]  # noqa: E402

from kubescribe_operator.core.executor import AttemptKey, AttemptSpec  # noqa: E402
from kubescribe_operator.k8s.jobs import build_job, job_name  # noqa: E402
from kubescribe_operator.k8s.kube_api import KubeApi, load_api_client  # noqa: E402
from kubescribe_operator.settings import ControllerSettings  # noqa: E402
from kubescribe_protocol.models import Priority, utc_now  # noqa: E402
from kubescribe_protocol.names import result_path  # noqa: E402

KUBELET_AGENT = "bench-kubelet"


def request_kind(method: str, path: str, query_watch: bool = False) -> str:
    resource = next(
        (name for name in ("jobs", "pods", "events", "leases") if f"/{name}" in path), "other"
    )
    return f"{method} {resource}"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def emulator_ceiling(files: int, workdir: Path) -> float:
    """Jobs per second a fresh emulator takes from one client creating them one after the
    other: what the API server side alone allows on this machine, for comparison."""
    with EmulatorServer() as server:
        api = KubeApi(load_api_client(str(server.write_kubeconfig(workdir / "ceiling"))), "default")
        settings = ControllerSettings(root=workdir)
        start = time.perf_counter()
        for number in range(files):
            spec = AttemptSpec(
                key=AttemptKey(f"file-{number:04d}.wav", 1),
                root=workdir,
                priority=Priority.AUTO_SCAN,
                deadline=utc_now() + timedelta(hours=1),
                wants_gpu=False,
            )
            api.create_job(build_job(spec, settings, utc_now()))
        return files / (time.perf_counter() - start)


def run(files: int, parallel: int, scan_interval: float, workdir: Path) -> dict[str, object]:
    root = workdir / "data"
    root.mkdir()
    with EmulatorServer() as server:
        kubeconfig = server.write_kubeconfig(workdir / "kubeconfig")
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBESCRIBE_")}
        env.update(
            KUBECONFIG=str(kubeconfig),
            KUBESCRIBE_ROOT=str(root),
            KUBESCRIBE_STABLE_SECONDS="0",
            KUBESCRIBE_SCAN_INTERVAL_SECONDS=str(scan_interval),
            KUBESCRIBE_PARALLEL=str(parallel),
            KUBESCRIBE_DEFAULTS=json.dumps({"device": "cpu", "model_size": "tiny.en"}),
            # The stand-in pod sends no heartbeats, and on a loaded machine the emulated
            # kubelet may take minutes to get to a pod: not a lost worker.
            KUBESCRIBE_HEARTBEAT_TIMEOUT_SECONDS="3600",
        )
        log_path = workdir / "operator.log"
        with log_path.open("wb") as log:
            operator = subprocess.Popen(
                [sys.executable, "-m", "kubescribe_cli", "operator", "--namespace", "default"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        try:
            deadline = time.monotonic() + 60
            while "Activity 'startup' succeeded" not in log_path.read_text(errors="replace"):
                if time.monotonic() > deadline or operator.poll() is not None:
                    raise RuntimeError(log_path.read_text(errors="replace")[-3000:])
                time.sleep(0.1)
            time.sleep(1.0)  # the watch is up
            kubelet = Kubelet(
                load_api_client(str(kubeconfig)),
                workdir / "pods",
                fault_rule=lambda path, attempt: Fault("standin"),
                poll_seconds=0.5,
                user_agent=KUBELET_AGENT,
            )
            (workdir / "pods").mkdir()
            with kubelet:
                begin = time.time()
                written: dict[str, float] = {}
                for number in range(files):
                    rel = f"batch/{number // 100:02d}/file-{number:04d}.wav"
                    audio = root / rel
                    audio.parent.mkdir(parents=True, exist_ok=True)
                    audio.write_bytes(b"RIFF")
                    written[rel] = time.time()
                pending = set(written)
                deadline = time.monotonic() + 900
                while pending:
                    pending = {rel for rel in pending if not result_path(root / rel).exists()}
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{len(pending)} files not done")
                    time.sleep(0.2)
                end = time.time()
        finally:
            operator.terminate()
            operator.wait(30)
        emulator = server.emulator
        created = emulator.job_created
        latencies = [created[job_name(AttemptKey(rel, 1))] - t for rel, t in written.items()]
        first, last = min(created.values()), max(created.values())
        calls: Counter[str] = Counter()
        for stamp, method, path, agent in emulator.request_log:
            if begin <= stamp <= end and agent != KUBELET_AGENT:
                calls[request_kind(method, path)] += 1
        lease = sum(count for kind, count in calls.items() if kind.endswith("leases"))
        per_file = {kind: count / files for kind, count in sorted(calls.items())}
        return {
            "files": files,
            "parallel": parallel,
            "scan_interval_seconds": scan_interval,
            "jobs_created": len(created),
            "jobs_per_second": round((len(created) - 1) / (last - first), 1),
            "stable_to_job_seconds": {
                "p50": round(statistics.median(latencies), 3),
                "p95": round(percentile(latencies, 0.95), 3),
                "max": round(max(latencies), 3),
            },
            "all_done_seconds": round(end - begin, 1),
            "operator_requests_per_file": {k: round(v, 3) for k, v in per_file.items()},
            "operator_requests_per_file_without_lease": round(
                (sum(calls.values()) - lease) / files, 3
            ),
            "lease_requests": lease,
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--parallel", type=int, default=1000)
    parser.add_argument("--scan-interval", type=float, default=1.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kubescribe-bench-") as folder:
        report = run(args.files, args.parallel, args.scan_interval, Path(folder))
        report["emulator_alone_creates_per_second"] = round(
            emulator_ceiling(args.files, Path(folder)), 1
        )
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

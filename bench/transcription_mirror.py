"""The Transcription mirror's cost: API requests per file and time per pass, against
kmock's emulator over HTTP (with the chart's CRD registered, as in tests/crd).

The mirror (``TranscriptionMirror`` with a real ``KubeApi``) is driven through a file's
whole life for ``--files`` files at once, one pass per step, the way the operator calls
it once per scan interval:

1. found: every file Queued (first pass: a list, then a create and a status patch each);
2. a pass with nothing changed (the steady state of a large queue);
3. processing: loading_model, then processing_audio at every percent from 0 to 100
   (the worker writes far more often than the mirror shows: steps of 10), then
   generating_text;
4. completed, with a result summary;
5. past the TTL: deleted.

It reports the requests per file by kind, and the seconds each pass took.

    python3 bench/transcription_mirror.py [--files 1000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent / "tests" / "operator"))

from crd.crdkit import CrdEmulatorServer  # noqa: E402

from kubescribe_operator.k8s.kube_api import KubeApi, load_api_client  # noqa: E402
from kubescribe_operator.k8s.transcription_objects import (  # noqa: E402
    status_of_file,
    status_of_result,
)
from kubescribe_operator.k8s.transcriptions import TranscriptionMirror  # noqa: E402
from kubescribe_protocol.models import (  # noqa: E402
    FileStatus,
    InProgress,
    Progress,
    Result,
    ResultMetadata,
    Stage,
    Transcription,
    utc_now,
)

#: When the files were taken: one fixed time, as their .in_progress files keep it.
TAKEN = utc_now()


def processing(rel: str, stage: Stage, percentage: int) -> dict[str, object]:
    status = InProgress(
        filename=rel, path=rel, status=FileStatus.PROCESSING, attempt=1, start_time=TAKEN
    )
    status.progress = Progress(stage=stage, percentage=percentage)
    return status_of_file(status)


def run(files: int) -> dict[str, object]:
    paths = [f"batch/file-{index:05d}.wav" for index in range(files)]
    passes: list[tuple[str, float, int]] = []
    with CrdEmulatorServer() as server, tempfile.TemporaryDirectory() as tmp:
        api = KubeApi(load_api_client(str(server.write_kubeconfig(Path(tmp) / "kc"))), "default")
        mirror = TranscriptionMirror(api, "default")

        def one_pass(label: str, desired: dict[str, dict[str, object]]) -> None:
            before = sum(api.calls.values())
            started = time.perf_counter()
            counts = mirror.sync(desired)
            assert counts.failed == 0, counts
            passes.append((label, time.perf_counter() - started, sum(api.calls.values()) - before))

        one_pass("found (queued)", {p: status_of_file(None) for p in paths})
        one_pass("nothing changed", {p: status_of_file(None) for p in paths})
        one_pass("loading_model", {p: processing(p, Stage.LOADING_MODEL, 0) for p in paths})
        for percentage in range(0, 101):
            desired = {p: processing(p, Stage.PROCESSING_AUDIO, percentage) for p in paths}
            one_pass(f"processing_audio {percentage}%", desired)
        one_pass("generating_text", {p: processing(p, Stage.GENERATING_TEXT, 100) for p in paths})
        now = utc_now()
        result = Result(
            filename="x.wav",
            processing_end=now,
            duration_seconds=12.5,
            transcription=Transcription(text="words " * 40),
            metadata=ResultMetadata(word_count=40, language_detected="en", confidence=0.9),
        )
        one_pass("completed", {p: status_of_result(result, now) for p in paths})
        one_pass("past the TTL", {})
        left = len(server.objects("kubescribe.io/v1alpha1/transcriptions"))
    calls = Counter({kind: count for kind, count in api.calls.items()})
    slowest = max(passes, key=lambda item: item[1])
    changed = [p for p in passes if p[2] == 0 and p[0].startswith("processing_audio")]
    return {
        "files": files,
        "requests_per_file": {kind: round(n / files, 2) for kind, n in sorted(calls.items())},
        "requests_per_file_total": round(sum(calls.values()) / files, 2),
        "passes": len(passes),
        "passes_without_a_request": len(changed)
        + sum(1 for p in passes if p[0] == "nothing changed"),
        "seconds": {
            label: round(seconds, 3)
            for label, seconds, _ in passes
            if not label.startswith("processing_audio")
        },
        "seconds_unchanged_processing_pass_max": round(
            max(
                (s for label, s, n in passes if label.startswith("processing_audio") and n == 0),
                default=0.0,
            ),
            4,
        ),
        "slowest_pass": [slowest[0], round(slowest[1], 3)],
        "objects_left": left,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=1000)
    args = parser.parse_args()
    print(json.dumps(run(args.files), indent=2))


if __name__ == "__main__":
    main()

"""Cold start: from spawning the process to the first transcribed segment.

A short clip (one chunk of speech) makes the time to the first segment mostly start-up:
imports, model load, decoding, VAD and one chunk. The same three contenders as
``worker_speed.py`` (the real ``kubescribe worker``, stock WhisperX with its pyannote
VAD, faster-whisper's batched pipeline), each in a fresh process, rounds alternating;
the table shows medians. For the worker, "first segment" is the moment a reader polling
``.in_progress`` sees the first chunk's progress, and "done" is ``.result`` written and
the process gone.

``--baseline TREE`` adds a fourth contender: the worker of another source tree (say
``git archive main | tar -x -C /tmp/base``), in the same rounds, so that a change to the
worker's start-up is measured before and after on the same machine at the same time.

    python3 bench/worker_cold_start.py [--rounds 3] [--model-size tiny.en] [--baseline TREE]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from worker_speed import (  # noqa: E402
    BATCH_SIZE,
    FW_BATCHED,
    STOCK_WHISPERX,
    Run,
    bundled_model,
    make_speech,
    run_child,
    run_worker,
)

#: About 12 s of speech: one chunk.
CLIP_SECONDS = 12


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model-size", default="tiny.en")
    parser.add_argument("--baseline", type=Path, help="another source tree's worker, to compare")
    args = parser.parse_args()
    baseline_env = None
    if args.baseline is not None:
        tree = args.baseline.resolve()
        if not (tree / "worker" / "kubescribe_worker" / "run.py").is_file():
            print(f"{tree} is not a kubescribe source tree (no worker/kubescribe_worker/run.py)")
            return 1
        packages = ("protocol", "worker", "operator", "cli")
        baseline_env = {"PYTHONPATH": os.pathsep.join(str(tree / name) for name in packages)}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if bundled_model(work / "models", args.model_size) is None:
            return 1
        audio, _ = make_speech(work / "speech", CLIP_SECONDS)
        model = work / "models" / args.model_size
        runs: dict[str, list[Run]] = {"worker": [], "whisperx": [], "fw-batched": []}
        if baseline_env is not None:
            runs["baseline"] = []
        for number in range(args.rounds):
            runs["worker"].append(
                run_worker(audio, work / "models", args.model_size, BATCH_SIZE, work, False)
            )
            if baseline_env is not None:
                runs["baseline"].append(run_worker(
                    audio, work / "models", args.model_size, BATCH_SIZE, work, False, baseline_env
                ))  # fmt: skip
            runs["whisperx"].append(run_child(STOCK_WHISPERX, audio, model, BATCH_SIZE))
            runs["fw-batched"].append(run_child(FW_BATCHED, audio, model, BATCH_SIZE))
            print(f"round {number + 1}: " + ", ".join(
                f"{name} {rs[-1].first:.1f} s" for name, rs in runs.items()))  # fmt: skip
    print(f"\n{args.model_size}, int8, cpu; seconds from spawn (median of {args.rounds})")
    print(f"{'':12} {'ready':>7} {'first segment':>14} {'done':>7} {'worker/this':>12}")
    worker_first = statistics.median(run.first for run in runs["worker"])
    for name, contender_runs in runs.items():
        ready = statistics.median(run.ready for run in contender_runs)
        first = statistics.median(run.first for run in contender_runs)
        total = statistics.median(run.total for run in contender_runs)
        print(f"{name:12} {ready:7.1f} {first:14.1f} {total:7.1f} {worker_first / first:12.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

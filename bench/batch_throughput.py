"""Many short files: ``kubescribe run --once --parallel 2`` against one warm process.

The same clips (espeak-ng speech of 3-5 s each, in mixed formats: mp3, wav, ogg, m4a,
flac) go through both contenders in the same run, with the same model (``tiny.en`` by
default), int8 on the CPU:

- ``kubescribe``: the real controller and its local executor on a fresh root holding
  the clips, ``kubescribe run --once --parallel 2``; the time is the command's, from
  spawn to exit (every file completed);
- ``fw-batched``: one faster-whisper process that loads the model once and runs its
  ``BatchedInferencePipeline`` over the clips one after another; the time is from spawn
  to the last transcript.

The ratio printed is kubescribe's throughput over the warm process's (its time over
ours): issue 12 aims at 0.8. Rounds alternate the contenders and the figures are
medians. The machine is shared: rerun before trusting a ratio.

    python3 bench/batch_throughput.py [--files 40] [--rounds 1] [--model-size tiny.en]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

import speechkit  # noqa: E402
from worker_speed import BATCH_SIZE, SENTENCES, audio_seconds, bundled_model  # noqa: E402

from kubescribe_protocol.names import result_path  # noqa: E402

FORMATS = ("mp3", "wav", "ogg", "m4a", "flac")

#: One process, one model load, every clip: prints one JSON line when done.
FW_WARM = """
import json, sys, time
from faster_whisper import BatchedInferencePipeline, WhisperModel, decode_audio
model = WhisperModel(sys.argv[1], device="cpu", compute_type="int8")
pipeline = BatchedInferencePipeline(model)
words = 0
for name in sys.argv[3:]:
    segments, _ = pipeline.transcribe(decode_audio(name), batch_size=int(sys.argv[2]))
    words += sum(len(segment.text.split()) for segment in segments)
print(json.dumps({"done": time.time(), "words": words}))
"""


def make_clips(folder: Path, count: int) -> list[Path]:
    """``count`` clips of one or two short sentences (3-5 s), formats in turn."""
    folder.mkdir(parents=True, exist_ok=True)
    clips = []
    for n in range(count):
        text = SENTENCES[n % len(SENTENCES)]
        if n % 3 == 2:  # some a little longer: a short sentence more
            text = f"{text} Number {n}."
        clip = speechkit.speak(folder / f"clip-{n:03d}.{FORMATS[n % len(FORMATS)]}", text)
        clips.append(clip)
    return clips


def run_kubescribe(clips: list[Path], model_dir: Path, model_size: str, work: Path) -> float:
    root = work / f"root-{time.monotonic_ns()}"
    root.mkdir(parents=True)
    for clip in clips:
        shutil.copy2(clip, root / clip.name)
    spawned = time.time()
    done = subprocess.run(
        [sys.executable, "-m", "kubescribe_cli", "run", str(root), "--once", "--parallel", "2",
         "--model-dir", str(model_dir), "--model-size", model_size, "--stable-seconds", "0",
         "--scan-interval", "0.5", "--device", "cpu", "--compute-type", "int8",
         "--language", "en"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    elapsed = time.time() - spawned
    missing = [clip.name for clip in clips if not result_path(root / clip.name).is_file()]
    if done.returncode != 0 or missing:
        raise RuntimeError(f"kubescribe run failed (exit {done.returncode}; no result for "
                           f"{missing}): {done.stderr[-3000:]}")  # fmt: skip
    shutil.rmtree(root)
    return elapsed


def run_warm(clips: list[Path], model: Path) -> float:
    spawned = time.time()
    done = subprocess.run(
        [sys.executable, "-c", FW_WARM, str(model), str(BATCH_SIZE), *map(str, clips)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return float(json.loads(done.stdout.strip().splitlines()[-1])["done"]) - spawned


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--model-size", default="tiny.en")
    args = parser.parse_args()
    if not speechkit.have_speech_tools():
        print("espeak-ng and ffmpeg are needed")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = bundled_model(work / "models", args.model_size)
        if model is None:
            return 1
        clips = make_clips(work / "clips", args.files)
        seconds = [audio_seconds(clip) for clip in clips]
        ours: list[float] = []
        warm: list[float] = []
        for number in range(args.rounds):
            ours.append(run_kubescribe(clips, work / "models", args.model_size, work))
            warm.append(run_warm(clips, model))
            print(f"round {number + 1}: kubescribe {ours[-1]:.1f} s, fw-batched {warm[-1]:.1f} s")
    ours_median, warm_median = statistics.median(ours), statistics.median(warm)
    print(f"\n{len(clips)} clips, {min(seconds):.1f}-{max(seconds):.1f} s each "
          f"({sum(seconds):.0f} s of audio), {args.model_size}, int8, cpu; "
          f"median of {args.rounds}")  # fmt: skip
    print(f"{'':12} {'seconds':>8} {'files/min':>10}")
    for name, value in (("kubescribe", ours_median), ("fw-batched", warm_median)):
        print(f"{name:12} {value:8.1f} {60 * len(clips) / value:10.1f}")
    print(f"throughput ratio (kubescribe / warm process): {warm_median / ours_median:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

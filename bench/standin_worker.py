"""A stand-in for ``kubescribe worker`` that follows the protocol and does no work:
it fences on the attempt number, writes a ``.result``, removes the ``.in_progress``
and notes when it exited. ``queue_gap.py`` uses it so that what it measures is the
controller's own delay between attempts, not WhisperX."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from kubescribe_protocol.atomic import read_model, remove_durably, write_model
from kubescribe_protocol.models import InProgress, Result, Transcription, utc_now
from kubescribe_protocol.names import in_progress_path, result_path


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--attempt", type=int, required=True)
    parser.add_argument("--model-dir")
    parser.add_argument("--exits", type=Path, required=True)
    parser.add_argument("path")
    args = parser.parse_args()
    audio = args.root / args.path
    status = read_model(in_progress_path(audio), InProgress)
    if status is None or status.attempt != args.attempt:
        return 13
    start = utc_now()
    write_model(
        result_path(audio),
        Result(
            filename=audio.name,
            path=args.path,
            processing_start=start,
            processing_end=utc_now(),
            transcription=Transcription(text=""),
        ),
    )
    remove_durably(in_progress_path(audio))
    with args.exits.open("a", encoding="utf-8") as log:
        # The controller's own start_time of this attempt, then the moment of exit.
        started = status.attempts[-1].start_time.timestamp()
        log.write(f"{args.path}\t{started:.6f}\t{time.time():.6f}\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())

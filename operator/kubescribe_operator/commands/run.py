"""``kubescribe run``: local mode, its flags over the environment. Imports nothing heavy."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, get_args

from kubescribe_protocol.models import ComputeType, Device

#: ``kubescribe run`` flags that set a LocalSettings field of the same name.
_RUN_FLAGS: dict[str, str] = {
    "parallel": "parallel",
    "stable_seconds": "stable_seconds",
    "max_attempts": "max_attempts",
    "model_dir": "model_dir",
    "scan_interval": "scan_interval_seconds",
    "deadline": "attempt_deadline_seconds",
    "stale_hours": "stale_hours",
    "api": "api_enabled",
    "api_host": "api_host",
    "api_port": "api_port",
}
#: Flags that set a default transcription setting (LocalSettings.defaults).
_DEFAULT_FLAGS = ("model_size", "language", "device", "compute_type")


def register(subparsers: Any) -> None:
    run: argparse.ArgumentParser = subparsers.add_parser(
        "run",
        help="transcribe every audio file under ROOT on this machine (workers as child "
        "processes); flags override KUBESCRIBE_* environment variables",
    )
    run.add_argument("root", type=Path, help="the folder to watch")
    run.add_argument(
        "--once", action="store_true", help="process what is pending; exit when all is terminal"
    )
    run.add_argument("--parallel", type=int, help="attempts running at once")
    run.add_argument("--stable-seconds", type=float,
                     help="take a file once its size and mtime held still this long")  # fmt: skip
    run.add_argument("--max-attempts", type=int, help="attempts per file before manual/")
    run.add_argument("--scan-interval", type=float, help="seconds between scans")
    run.add_argument("--deadline", type=float, help="seconds an attempt may run")
    run.add_argument("--stale-hours", type=float, help="age of an abandoned .in_progress")
    run.add_argument("--model-dir", type=Path, help="folder of models by size")
    run.add_argument("--model-size", help="default model size (tiny.en, base, ...)")
    run.add_argument("--language", help="default language (ISO 639-1); omit to detect")
    run.add_argument("--device", choices=get_args(Device), help="default device")
    run.add_argument("--compute-type", choices=get_args(ComputeType), help="default compute")
    run.add_argument("--debug", action="store_true", help="verbose logs")
    run.add_argument("--api", action="store_true", default=None, help="serve the HTTP API")
    run.add_argument("--api-host", help="address the API listens on")
    run.add_argument("--api-port", type=int, help="port of the API (default 8000)")
    run.add_argument("--api-token", action="append", dest="api_tokens",
                     help="a bearer token the API accepts (repeatable; adds to "
                     "KUBESCRIBE_API_TOKENS)")  # fmt: skip
    run.set_defaults(handler=_run)


def settings_from_args(args: argparse.Namespace) -> Any:
    """LocalSettings from the environment, with the flags given on top."""
    from ..local.settings import LocalSettings

    overrides: dict[str, Any] = {"root": args.root}
    for flag, name in _RUN_FLAGS.items():
        value = getattr(args, flag, None)
        if value is not None:
            overrides[name] = value
    settings = LocalSettings(**overrides)
    if getattr(args, "api_tokens", None):
        overrides["api_tokens"] = [*settings.api_tokens, *args.api_tokens]
        settings = LocalSettings(**overrides)
    defaults = {name: getattr(args, name) for name in _DEFAULT_FLAGS if getattr(args, name, None)}
    if defaults:
        merged = settings.defaults.model_dump() | defaults
        settings = LocalSettings(**overrides, defaults=merged)
    return settings


def _run(args: argparse.Namespace) -> int:
    from ..local.runner import configure_logging, run_local

    configure_logging(args.debug)
    return run_local(settings_from_args(args), once=args.once)

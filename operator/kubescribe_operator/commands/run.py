"""``kubescribe run``: local mode, its flags over the environment. Imports nothing heavy."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, get_args

from kubescribe_protocol.models import ComputeType, Device, OutputFormat

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
_DEFAULT_FLAGS = ("model_size", "language", "device", "compute_type", "output_formats")


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
    run.add_argument("--language",
                     help="default language: an ISO 639-1 code (en) or its English name "
                     "(english); omit to detect")  # fmt: skip
    run.add_argument("--device", choices=get_args(Device), help="default device")
    run.add_argument("--compute-type", choices=get_args(ComputeType), help="default compute")
    run.add_argument("--output-format", action="append", dest="output_formats",
                     choices=get_args(OutputFormat),
                     help="also write the transcript beside the audio (talk.mp3 -> talk.FORMAT) "
                     "(repeatable)")  # fmt: skip
    run.add_argument("--debug", action="store_true", help="verbose logs")
    run.add_argument("--api", action="store_true", default=None, help="serve the HTTP API")
    run.add_argument("--api-host", help="address the API listens on")
    run.add_argument("--api-port", type=int, help="port of the API")
    run.add_argument("--api-token", action="append", dest="api_tokens",
                     help="a bearer token the API accepts (repeatable; adds to "
                     "KUBESCRIBE_API_TOKENS)")  # fmt: skip
    _show_defaults(run)
    run.set_defaults(handler=_run, parser=run)


def _show_defaults(parser: argparse.ArgumentParser) -> None:
    """Append to each setting flag's help the value it has when neither the flag nor its
    KUBESCRIBE_* variable is given (the flags default to None so the environment wins)."""
    from ..local.settings import LocalSettings

    fields = LocalSettings.model_fields
    defaults = LocalSettings.model_fields["defaults"].get_default(call_default_factory=True)
    for action in parser._actions:
        name = _RUN_FLAGS.get(action.dest)
        if name is not None:
            value = fields[name].get_default(call_default_factory=True)
        elif action.dest in _DEFAULT_FLAGS:
            value = getattr(defaults, action.dest)
        else:
            continue
        shown = "detect" if action.dest == "language" and value is None else value
        if isinstance(value, list):
            shown = ",".join(value) or "none"
        if isinstance(value, bool):
            shown = "on" if value else "off"
        action.help = f"{action.help} (default: {'none' if shown is None else shown})"


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


def checked_settings(args: argparse.Namespace) -> Any:
    """:func:`settings_from_args`, its bounds and its transcription settings checked: a
    value that can never work is a usage error (exit 2) that names the valid choices."""
    from pydantic import ValidationError

    from ..volume.settings_check import SettingsRefusedError, check_settings

    parser: argparse.ArgumentParser = args.parser
    try:
        settings = settings_from_args(args)
    except ValidationError as exc:
        parser.error("; ".join(_problem(error) for error in exc.errors()))
    try:
        defaults = check_settings(settings.defaults, settings.model_dir)
    except SettingsRefusedError as exc:
        parser.error(f"{exc.code.value}: {exc.message}")
    return settings.model_copy(update={"defaults": defaults})


def _problem(error: Any) -> str:
    """One pydantic error as the flag (or variable) and what it must be."""
    loc = [str(part) for part in error["loc"]]
    field = loc[0] if loc else ""
    flags = {name: flag for flag, name in _RUN_FLAGS.items()}
    variable = "KUBESCRIBE_" + "__".join(loc[:2]).upper()
    if field in flags:
        where = f"--{flags[field].replace('_', '-')} (or {variable})"
    elif field == "defaults" and len(loc) > 1 and loc[1] in _DEFAULT_FLAGS:
        where = f"--{loc[1].replace('_', '-')} (or {variable})"
    else:
        where = variable
    return f"{where}: {error['msg']} (got {error.get('input')!r})"


def _run(args: argparse.Namespace) -> int:
    from ..local.runner import configure_logging, run_local

    settings = checked_settings(args)
    configure_logging(args.debug)
    return run_local(settings, once=args.once)

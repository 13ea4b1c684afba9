"""``kubescribe operator``: the kopf operator, run as a module (never by file path)."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "operator",
        help="run the Kubernetes operator: one Job per attempt (settings from KUBESCRIBE_*)",
    )
    parser.add_argument(
        "--namespace",
        help="namespace of the Jobs (default: KUBESCRIBE_NAMESPACE, else 'default')",
    )
    parser.add_argument(
        "--liveness",
        metavar="URL",
        help="serve the liveness endpoint here, e.g. http://0.0.0.0:8080/healthz",
    )
    parser.add_argument("--verbose", action="store_true", help="debug logs")
    parser.add_argument("--api", action="store_true",
                        help="serve the HTTP API (as KUBESCRIBE_API_ENABLED=true)")  # fmt: skip
    parser.set_defaults(handler=run_operator)


def run_operator(args: argparse.Namespace) -> int:
    from ..k8s.kopf_run import run_kopf  # kopf loads only when run
    from ..k8s.kube_api import NoCredentialsError, load_api_client

    # Without credentials kopf would retry its start-up every minute with a traceback;
    # a person starting it by hand needs the reason, once, and an exit status.
    try:
        load_api_client()
    except NoCredentialsError as exc:
        print(f"kubescribe operator: {exc}", file=sys.stderr)
        return 2
    namespace = args.namespace or os.environ.get("KUBESCRIBE_NAMESPACE") or "default"
    # The core reads its settings from the environment: one namespace for both.
    os.environ["KUBESCRIBE_NAMESPACE"] = namespace
    if getattr(args, "api", False):
        os.environ["KUBESCRIBE_API_ENABLED"] = "true"
    run_kopf(namespace, args.liveness, args.verbose)
    return 0

"""Starting kopf on the operator's handlers, as a module (never by file path)."""

from __future__ import annotations

HANDLERS_MODULE = "kubescribe_operator.k8s.kopf_handlers"


def kopf_args(namespace: str, liveness: str | None, verbose: bool) -> list[str]:
    args = ["run", "-m", HANDLERS_MODULE, "--namespace", namespace]
    if liveness:
        args += ["--liveness", liveness]
    if verbose:
        args.append("--verbose")
    return args


def run_kopf(namespace: str, liveness: str | None, verbose: bool) -> None:
    from kopf.cli import main as kopf_main

    kopf_main(args=kopf_args(namespace, liveness, verbose), standalone_mode=True)

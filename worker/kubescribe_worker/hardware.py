"""What ``device: auto`` and ``compute_type: auto`` mean on this machine."""

from __future__ import annotations

import os

from kubescribe_protocol.codes import ErrorCode

from .errors import WorkerError


def cuda_devices() -> int:
    import ctranslate2  # light, and what actually runs the model

    return int(ctranslate2.get_cuda_device_count())


def resolve_device(device: str) -> str:
    """``auto``: cuda when CTranslate2 sees a GPU, else cpu. Asking for cuda where there
    is none is an error of the environment (retried later, maybe on another node)."""
    if device == "auto":
        return "cuda" if cuda_devices() > 0 else "cpu"
    if device == "cuda" and cuda_devices() == 0:
        raise WorkerError(ErrorCode.WHISPERX_FAILED, "device cuda was asked for; none is visible")
    return device


def resolve_compute_type(compute_type: str, device: str) -> str:
    """``auto``: float16 on CUDA, int8 on CPU (the fastest types that keep accuracy)."""
    if compute_type != "auto":
        return compute_type
    return "float16" if device == "cuda" else "int8"


def cpu_threads() -> int:
    """The cores this process may run on (a container's CPU set, not the host's)."""
    return len(os.sched_getaffinity(0))

"""Import WhisperX's pipeline in a background thread while the worker probes and decodes
the audio.

Those imports (torch, transformers, CTranslate2) are most of a cold start; decoding runs
in FFmpeg's C code and the heartbeat's writes wait on the disk, so the two overlap even
under the GIL. Whoever needs the pipeline imports it as usual: Python's per-module import
lock makes that wait for the background import, or do it, if the thread failed (its
error is then raised where the import is written, as before).
"""

from __future__ import annotations

import importlib
import threading

_MODULE = "kubescribe_worker.pipeline"


def _import() -> None:
    try:
        importlib.import_module(_MODULE)
    except BaseException:  # the main thread's own import raises it again
        return


def start() -> threading.Thread:
    """Begin importing the pipeline; a daemon thread, so a worker that fails early (a bad
    input) exits without waiting for it."""
    thread = threading.Thread(target=_import, name="import-whisperx", daemon=True)
    thread.start()
    return thread

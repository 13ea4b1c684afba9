"""Lines for a reader that may leave: ``kubescribe run 2>&1 | tee log``, then Ctrl-C.

The terminal sends SIGINT to the whole pipeline, so ``tee`` is often gone before the runner
says "stopping": a write then raises ``BrokenPipeError``, and a runner that died of it would
leave its workers killed with their parent (``PR_SET_PDEATHSIG``) and their files
``processing``, the interruption unrecorded. A line nobody can read is not worth that: the
stream is pointed at ``/dev/null`` instead, and the runner stops its workers as it would
with a reader.
"""

from __future__ import annotations

import contextlib
import os
from typing import TextIO


def say(out: TextIO, line: str) -> None:
    """Print ``line`` to ``out`` at once; if its reader left, send this line and every later
    write to the stream (logging's too, when it is stderr) to ``/dev/null``."""
    try:
        print(line, file=out, flush=True)
    except BrokenPipeError:
        reader_left(out)


def reader_left(out: TextIO) -> None:
    """Point ``out``'s file descriptor at ``/dev/null`` (a stream with none is left alone:
    a test's ``StringIO`` never breaks)."""
    try:
        descriptor = out.fileno()
    except (OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, descriptor)
    finally:
        os.close(devnull)
    with contextlib.suppress(OSError, ValueError):
        out.flush()  # what was buffered for the reader now goes to /dev/null

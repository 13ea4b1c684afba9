"""Test switches the worker honours, read from its environment.

They exist for the controller's tests, which need workers that fail or hang on demand:

- ``KUBESCRIBE_TEST_FAIL_ATTEMPTS="1,2"``: attempts 1 and 2 fail at once, right after the
  worker read ``.in_progress``, with ``injected_failure`` (exit 1, retry_after 1 s).
- ``KUBESCRIBE_TEST_STALL_SECONDS=S``: after the fence check, sleep S seconds without any
  heartbeat, as a hung worker would (for the controller's stuck-worker detection).
- ``KUBESCRIBE_TEST_HOLD_BEFORE_PUBLISH=PATH``: once the transcript is made (stage
  ``generating_text`` written), wait, heartbeating, until PATH exists, then check the
  audio and publish: a test changes the audio at that point without racing the model.

And one tuning knob: ``KUBESCRIBE_BATCH_SIZE`` (default 8), the chunks WhisperX decodes at
once; smaller batches report progress more often.
"""

from __future__ import annotations

import os
from pathlib import Path

FAIL_ATTEMPTS_ENV = "KUBESCRIBE_TEST_FAIL_ATTEMPTS"
STALL_SECONDS_ENV = "KUBESCRIBE_TEST_STALL_SECONDS"
HOLD_BEFORE_PUBLISH_ENV = "KUBESCRIBE_TEST_HOLD_BEFORE_PUBLISH"
BATCH_SIZE_ENV = "KUBESCRIBE_BATCH_SIZE"
DEFAULT_BATCH_SIZE = 8


def failing_attempts() -> set[int]:
    raw = os.environ.get(FAIL_ATTEMPTS_ENV, "")
    return {int(part) for part in raw.replace(" ", "").split(",") if part}


def stall_seconds() -> float:
    return float(os.environ.get(STALL_SECONDS_ENV) or 0)


def hold_before_publish() -> Path | None:
    raw = os.environ.get(HOLD_BEFORE_PUBLISH_ENV)
    return Path(raw) if raw else None


def batch_size() -> int:
    return max(1, int(os.environ.get(BATCH_SIZE_ENV) or DEFAULT_BATCH_SIZE))

"""The worker image, built and run by scripts/images/check-worker: the model fill, then a
transcription as uid 10001 with no network, a read-only root and a tmpfs /tmp.

Not in every run: the image is 9 GB and its first build takes many minutes. Run it when
worker/Dockerfile or the worker's dependencies change:

    KUBESCRIBE_CHECK_WORKER_IMAGE=1 pytest tests/images/test_worker_image.py
"""

from __future__ import annotations

import os
import subprocess

import pytest

from images.imagekit import SCRIPTS, build, engine_name

CHECK_ENV = "KUBESCRIBE_CHECK_WORKER_IMAGE"

pytestmark = pytest.mark.skipif(
    os.environ.get(CHECK_ENV) != "1", reason=f"the 9 GB worker image: set {CHECK_ENV}=1"
)


def test_the_worker_image_fills_its_models_and_transcribes_offline() -> None:
    engine_name()
    image = os.environ.get("KUBESCRIBE_WORKER_IMAGE", "localhost/kubescribe-worker:test")
    built = build("worker", image, None, timeout=3600)
    print(f"worker image built in {built.seconds:.0f} s")
    result = subprocess.run(
        [str(SCRIPTS / "check-worker"), image], capture_output=True, text=True, timeout=900
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "check-worker: heard" in output and "garden" in output, output[-3000:]

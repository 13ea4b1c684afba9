"""``settings.initial_prompt`` reaches the decoder (WhisperX's ``initial_prompt`` option)."""

from __future__ import annotations

from pathlib import Path

from kubescribe_worker.pipeline import load_transcriber


def test_initial_prompt_becomes_the_decoders_prompt(model_dir: Path) -> None:
    def load(prompt: str | None) -> object:
        transcriber = load_transcriber(
            model_dir / "tiny.en", device="cpu", compute_type="int8", language=None,
            temperature=0.0, batch_size=1, cpu_threads=1, initial_prompt=prompt,
        )  # fmt: skip
        return transcriber.pipeline.options.initial_prompt

    assert load("Kubescribe, WhisperX.") == "Kubescribe, WhisperX."
    assert load(None) is None

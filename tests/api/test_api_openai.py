"""``POST /v1/audio/transcriptions`` driven by the official ``openai`` Python client."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from api.apikit import TOKEN, Server, words

pytestmark = pytest.mark.slow


def test_openai_client_transcribes_in_every_format(api: Server, speech: dict[str, Path]) -> None:
    client = openai.OpenAI(base_url=f"{api.url}/v1", api_key=TOKEN, timeout=300, max_retries=0)
    with speech["weather"].open("rb") as audio:
        plain = client.audio.transcriptions.create(model="whisper-1", file=audio)
    assert {"today", "sunny", "warm"} <= words(plain.text)

    with speech["garden"].open("rb") as audio:
        verbose = client.audio.transcriptions.create(
            model="tiny.en",
            file=audio,
            language="en",
            temperature=0.0,
            prompt="gardening",
            response_format="verbose_json",
        )
    assert {"garden", "roses"} <= words(verbose.text)
    assert verbose.language == "en" and verbose.duration is not None and verbose.duration > 1
    assert verbose.segments and verbose.segments[0].end > verbose.segments[0].start

    with speech["music"].open("rb") as audio:
        srt = client.audio.transcriptions.create(model="whisper-1", file=audio,
                                                 response_format="srt")  # fmt: skip
    assert isinstance(srt, str) and srt.startswith("1\n00:00:00") and "piano" in srt.lower()


def test_openai_client_sees_errors(api: Server, tmp_path: Path) -> None:
    client = openai.OpenAI(base_url=f"{api.url}/v1", api_key=TOKEN, timeout=60, max_retries=0)
    text = tmp_path / "notes.wav"
    text.write_text("not audio at all\n" * 10)
    with text.open("rb") as audio, pytest.raises(openai.APIStatusError) as caught:
        client.audio.transcriptions.create(model="whisper-1", file=audio)
    assert caught.value.status_code == 415
    assert "not audio" in caught.value.message

    with text.open("rb") as audio, pytest.raises(openai.BadRequestError):
        client.audio.transcriptions.create(model="dall-e-3", file=audio)

    wrong = openai.OpenAI(base_url=f"{api.url}/v1", api_key="nope", max_retries=0)
    with text.open("rb") as audio, pytest.raises(openai.AuthenticationError):
        wrong.audio.transcriptions.create(model="whisper-1", file=audio)

"""``POST /v1/audio/transcriptions`` driven by the official ``openai`` Python client."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from api.apikit import TOKEN, Server, file_id, words

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


def test_openai_client_gets_word_times_and_its_prompt_is_used(
    api: Server, speech: dict[str, Path], tmp_path: Path
) -> None:
    client = openai.OpenAI(base_url=f"{api.url}/v1", api_key=TOKEN, timeout=300, max_retries=0)
    upload = tmp_path / "fox-words.wav"
    upload.write_bytes(speech["fox"].read_bytes())
    with upload.open("rb") as audio:
        answer = client.audio.transcriptions.create(
            model="tiny.en",
            file=audio,
            prompt="Foxes and dogs.",
            response_format="verbose_json",
            timestamp_granularities=["word", "segment"],
        )
    assert answer.words and answer.segments
    assert {"quick", "fox", "dog"} <= words(" ".join(w.word for w in answer.words))
    starts = [w.start for w in answer.words]
    assert starts == sorted(starts)
    assert all(w.end >= w.start for w in answer.words)
    assert answer.segments[0].start <= answer.words[0].start <= answer.words[-1].end

    with upload.open("rb") as audio:
        only_words = client.audio.transcriptions.create(
            model="tiny.en", file=audio, response_format="verbose_json",
            timestamp_granularities=["word"],
        )  # fmt: skip
    assert only_words.words and only_words.segments is None

    with upload.open("rb") as audio, pytest.raises(openai.BadRequestError) as caught:
        client.audio.transcriptions.create(
            model="tiny.en", file=audio, response_format="json", timestamp_granularities=["word"]
        )
    assert "verbose_json" in caught.value.message

    # GET of the json result gives the same words, and the settings the prompt went in as
    results = sorted(api.root.rglob("fox-words.wav.result"))  # the first of the three
    assert results, list(api.root.rglob("*.result"))
    rel = results[0].relative_to(api.root).as_posix().removesuffix(".result")
    with api.client(timeout=60) as http:
        body = http.get(f"/v1/transcriptions/{file_id(rel)}/result").json()
    assert body["settings"]["initial_prompt"] == "Foxes and dogs."
    stored = [w["word"] for seg in body["transcription"]["segments"] for w in seg["words"]]
    assert stored == [w.word for w in answer.words]

"""Settings that can never work are refused before anything is queued: a 400 whose code
says which setting and whose message names the valid choices (issue 15)."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import openai
import pytest

from api.apikit import TOKEN, Server, file_id
from kubescribe_protocol.atomic import read_model
from kubescribe_protocol.models import InProgress
from kubescribe_protocol.names import in_progress_path

# The server runs with the model directory of tests/conftest.py (tiny.en and base) and
# tiny.en as its default size.
REFUSED = [
    ({"model_size": "huge"}, "unknown_model_size", ["base", "tiny.en"]),
    ({"model_size": "small"}, "unknown_model_size", ["base", "tiny.en"]),
    ({"language": "fr"}, "unsupported_language", ["English-only", "speaks en"]),
    ({"model_size": "base", "language": "xx"}, "unsupported_language", ["de", "fr", "yue"]),
    ({"model_size": "base", "language": "klingon"}, "unsupported_language", ["english"]),
]


def uploads(root: Path) -> set[str]:
    """The uploaded audio files. The module's server goes on with what earlier tests left
    (their results and subtitles appear, cancelled uploads go), so only audio counts."""
    return {str(p) for p in (root / "uploads").rglob("*.wav")}


@pytest.mark.parametrize(("data", "code", "named"), REFUSED)
def test_impossible_settings_are_refused_and_nothing_is_queued(
    api: Server, speech: dict[str, Path], data: dict[str, str], code: str, named: list[str]
) -> None:
    shutil.copy(speech["fox"], api.root / "named.wav")
    before = uploads(api.root)
    with api.client() as http:
        for request in (
            {"files": {"file": ("refused.wav", speech["fox"].read_bytes())}, "data": data},
            {"data": {**data, "path": "named.wav"}},
        ):
            answer = http.post("/v1/transcriptions", **request)
            assert answer.status_code == 400, answer.text
            error = answer.json()["error"]
            assert error["code"] == code
            assert all(choice in error["message"] for choice in named), error["message"]
    assert uploads(api.root) <= before  # none stored
    # The scan takes named.wav as any file, but no refused request asked for it.
    scanned = read_model(in_progress_path(api.root / "named.wav"), InProgress)
    assert scanned is None or not scanned.api_clients, scanned


def test_a_language_by_its_english_name_is_taken_as_its_code(
    api: Server, speech: dict[str, Path]
) -> None:
    with api.client() as http:
        answer = http.post(
            "/v1/transcriptions",
            files={"file": ("english-name.wav", speech["garden"].read_bytes())},
            data={"language": "English"},
        )
        assert answer.status_code == 202, answer.text
        rel = answer.json()["path"]
        status = read_model(in_progress_path(api.root / rel), InProgress)
        assert status is not None and status.settings.language == "en"
        http.delete(f"/v1/transcriptions/{file_id(rel)}")


def test_openai_route_refuses_impossible_settings(api: Server, speech: dict[str, Path]) -> None:
    client = openai.OpenAI(base_url=f"{api.url}/v1", api_key=TOKEN, timeout=60, max_retries=0)
    before = uploads(api.root)
    for model, language, code in (("huge", None, "unknown_model_size"),
                                  ("base", "xx", "unsupported_language"),
                                  ("tiny.en", "de", "unsupported_language")):  # fmt: skip
        with speech["fox"].open("rb") as audio, pytest.raises(openai.BadRequestError) as caught:
            if language is None:
                client.audio.transcriptions.create(model=model, file=audio)
            else:
                client.audio.transcriptions.create(model=model, file=audio, language=language)
        body = caught.value.body
        assert isinstance(body, dict), body
        assert body["code"] == code, body
    assert uploads(api.root) <= before  # none stored
    # The same through plain HTTP: the code and the choices in the message.
    answer = httpx.post(
        f"{api.url}/v1/audio/transcriptions",
        headers={"Authorization": f"Bearer {TOKEN}"},
        files={"file": ("x.wav", speech["fox"].read_bytes())},
        data={"model": "huge"},
        timeout=60,
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "unknown_model_size"
    assert "tiny.en" in answer.json()["error"]["message"]

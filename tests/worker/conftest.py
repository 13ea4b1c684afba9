"""Speech made once per session for the worker's tests (espeak-ng, ffmpeg)."""

from __future__ import annotations

from pathlib import Path

import pytest
import speechkit

from .workerkit import RUSSIAN_TEXT, english_text


@pytest.fixture(scope="session")
def speech_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not speechkit.have_speech_tools():
        pytest.fail("espeak-ng and ffmpeg are needed: apt-get install espeak-ng ffmpeg")
    return tmp_path_factory.mktemp("speech")


@pytest.fixture(scope="session")
def english_long(speech_dir: Path) -> Path:
    return speechkit.speak(speech_dir / "english-long.mp3", english_text())


@pytest.fixture(scope="session")
def english_short(speech_dir: Path) -> Path:
    return speechkit.speak(speech_dir / "english-short.wav", " ".join(speechkit.ENGLISH_SENTENCES))


@pytest.fixture(scope="session")
def russian_short(speech_dir: Path) -> Path:
    return speechkit.speak(speech_dir / "russian.wav", RUSSIAN_TEXT, voice="ru")

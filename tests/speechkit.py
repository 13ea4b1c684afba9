"""Real speech for tests: espeak-ng speaks a text, ffmpeg encodes it.

Tests check transcripts against the text they spoke, so every fixture's ground truth
is the string that made it.
"""

from __future__ import annotations

import shutil
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ENGLISH_SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "Please send the quarterly report to the finance team before Friday.",
    "We will meet at the station at nine o'clock tomorrow morning.",
)

#: Sentences that do not repeat within a 30 s window: Whisper skips text it has just
#: heard, so longer speech made of these gives every word a fair chance.
DISTINCT_ENGLISH_SENTENCES = (
    *ENGLISH_SENTENCES,
    "The library opens at eight and closes early on Sundays.",
    "My brother planted tomatoes and peppers in the garden last spring.",
    "The train to the airport leaves every twenty minutes.",
    "She painted the kitchen walls a bright shade of yellow.",
    "Our neighbors adopted a small dog from the animal shelter.",
    "The museum has a new exhibit about ancient ships and sailors.",
    "Please remember to turn off the lights when you leave the office.",
    "The children built a sandcastle near the edge of the water.",
    "He forgot his umbrella and walked home in the heavy rain.",
    "The bakery on the corner sells fresh bread every morning.",
    "A strong wind knocked over the old fence behind the barn.",
    "The doctor asked him to drink more water and sleep longer.",
    "We watched the sunset from the top of the hill.",
    "The teacher handed out the results of the history test.",
    "Her grandmother tells wonderful stories about the old village.",
)

#: Eight more, for a passage of 24 sentences (about 105 s).
MORE_ENGLISH_SENTENCES = (
    "The pilot announced a short delay because of fog.",
    "Fresh snow covered the mountain road overnight.",
    "The orchestra rehearsed the final movement twice.",
    "A young fox crossed the meadow at dawn.",
    "The printer in the hallway has run out of paper.",
    "They sailed along the coast for three quiet days.",
    "The farmer sold apples and honey at the market.",
    "Nobody noticed the clock had stopped at noon.",
)


def have_speech_tools() -> bool:
    return shutil.which("espeak-ng") is not None and shutil.which("ffmpeg") is not None


def speak(dest: Path, text: str, *, voice: str = "en-us", speed: int = 150) -> Path:
    """Write ``text`` spoken by espeak-ng to ``dest``; the extension picks the format."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    wav = dest.with_name(f".{dest.name}.speech.wav")
    subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(wav), text],
        check=True,
        capture_output=True,
    )
    if dest.suffix.lower() == ".wav":
        wav.replace(dest)
        return dest
    encode(wav, dest)
    wav.unlink()
    return dest


def encode(src: Path, dest: Path, *extra: str) -> Path:
    """Re-encode ``src`` to ``dest`` with ffmpeg (16 kHz mono unless ``extra`` says more)."""
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(src), "-ac", "1",
         "-ar", "16000", *extra, str(dest)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return dest


def silence(dest: Path, seconds: float) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         "anullsrc=r=16000:cl=mono", "-t", str(seconds), str(dest)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return dest


def video_without_audio(dest: Path, seconds: float = 2.0) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
         f"testsrc=size=64x64:rate=5:duration={seconds}", "-an", str(dest)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return dest


@dataclass(frozen=True)
class Passage:
    """Sentences spoken one by one and joined with known pauses: the ground truth of
    where each sentence's speech starts and ends (seconds from the passage's start)."""

    path: Path
    sentences: tuple[str, ...]
    starts: tuple[float, ...]
    ends: tuple[float, ...]
    duration: float


def _samples(wav: Path) -> np.ndarray:
    with wave.open(str(wav)) as reader:
        return np.frombuffer(reader.readframes(reader.getnframes()), dtype=np.int16)


def passage(dest: Path, sentences: tuple[str, ...], pauses: tuple[float, ...]) -> Passage:
    """Speak each sentence apart, cut its leading and trailing silence, and join them with
    ``pauses[i % len(pauses)]`` seconds of silence after sentence i (and 0.5 s before the
    first); ``dest``'s extension picks the format."""
    rate = 16000
    pieces = [np.zeros(rate // 2, dtype=np.int16)]
    at = 0.5
    starts, ends = [], []
    for index, sentence in enumerate(sentences):
        raw = speak(dest.with_name(f".{dest.name}.{index}.wav"), sentence)
        wav = encode(raw, dest.with_name(f".{dest.name}.{index}.16k.wav"))
        raw.unlink()
        samples = _samples(wav)
        wav.unlink()
        loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > 0.02 * np.abs(samples).max())
        speech = samples[loud[0] : loud[-1] + 1]
        starts.append(at)
        at += len(speech) / rate
        ends.append(at)
        pause = pauses[index % len(pauses)]
        pieces += [speech, np.zeros(int(pause * rate), dtype=np.int16)]
        at += int(pause * rate) / rate
    joined = dest.with_name(f".{dest.name}.joined.wav")
    with wave.open(str(joined), "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(np.concatenate(pieces).tobytes())
    if dest.suffix.lower() == ".wav":
        joined.replace(dest)
    else:
        encode(joined, dest)
        joined.unlink()
    return Passage(dest, sentences, tuple(starts), tuple(ends), at)

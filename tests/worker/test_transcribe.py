"""The worker end to end on real speech with real models, as a real subprocess."""

from __future__ import annotations

import hashlib
import itertools
import re
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import jiwer
import pytest

from kubescribe_protocol.codes import ExitCode
from kubescribe_protocol.models import Result
from kubescribe_protocol.names import in_progress_path, output_path, result_path

from .workerkit import (
    RUN_TIMEOUT,
    StatusWatcher,
    claim,
    english_text,
    place,
    read_result,
    run_worker,
    start_worker,
)

pytestmark = pytest.mark.slow

#: tiny.en on espeak-ng's synthetic voice: about 0.1 here (it hears "jumps" as
#: "jumped", "bakery" as "maker"). A transcript of the wrong language, or of nothing, scores
#: near 1.0, and one that lost a sentence of the thirteen about 0.08 more: 0.25 leaves
#: room for another model build's bad day and still catches those.
MAX_WER = 0.25

#: Spaces, non-Latin letters and nested folders in one name.
ODD_REL = "talks/вложенная папка/2024 04/my talk — запись №1.mp3"


def normalize(text: str) -> str:
    # Whisper writes numbers as digits; the script spells them.
    numbers = {"8": "eight", "9": "nine", "20": "twenty"}
    words = re.sub(r"[^\w\s']", " ", text.lower()).split()
    return " ".join(numbers.get(word, word) for word in words)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class EnglishRun:
    root: Path
    rel: str
    source: Path
    done: subprocess.CompletedProcess[str]
    watcher: StatusWatcher
    wall_seconds: float


@pytest.fixture(scope="module")
def english_run(
    tmp_path_factory: pytest.TempPathFactory, english_long: Path, model_dir: Path
) -> EnglishRun:
    root = tmp_path_factory.mktemp("root")
    rel = place(english_long, root, ODD_REL)
    claim(root, rel, output_formats=["txt", "srt", "vtt"])
    started = time.monotonic()
    # Batches of one chunk, so the percentage has steps to show within a minute of audio.
    with StatusWatcher(in_progress_path(root / rel)) as watcher:
        process = start_worker(root, rel, model_dir, KUBESCRIBE_BATCH_SIZE="1")
        stdout, stderr = process.communicate(timeout=RUN_TIMEOUT)
    done = subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
    return EnglishRun(root, rel, english_long, done, watcher, time.monotonic() - started)


def test_english_speech_becomes_its_words(english_run: EnglishRun) -> None:
    assert english_run.done.returncode == ExitCode.OK, english_run.done.stderr[-3000:]
    result = read_result(english_run.root, english_run.rel)
    error = jiwer.wer(normalize(english_text()), normalize(result.transcription.text))
    assert error < MAX_WER, (error, result.transcription.text)


def test_result_has_every_field_measured_and_consistent(english_run: EnglishRun) -> None:
    assert english_run.done.returncode == ExitCode.OK, english_run.done.stderr[-3000:]
    raw = result_path(english_run.root / english_run.rel).read_text(encoding="utf-8")
    result = Result.model_validate_json(raw)
    for name in ("processing_start", "processing_end", "duration_seconds",
                 "processing_time_seconds", "processing_stats"):  # fmt: skip
        assert getattr(result, name) is not None, name
    assert result.filename == Path(ODD_REL).name and result.path == ODD_REL
    segments = result.transcription.segments
    meta = result.metadata
    assert segments and meta.segment_count == len(segments)
    assert [seg.id for seg in segments] == list(range(len(segments)))
    assert result.transcription.text == " ".join(seg.text for seg in segments)
    assert meta.word_count == len(result.transcription.text.split()) > 80
    # About 45 s of speech; the segments lie inside it, in order.
    assert result.duration_seconds is not None and 30 < result.duration_seconds < 90
    assert meta.duration_seconds == result.duration_seconds
    ends = [0.0] + [seg.end for seg in segments]
    for seg, previous_end in zip(segments, ends, strict=False):
        assert previous_end <= seg.start < seg.end <= result.duration_seconds + 0.5
        assert seg.confidence is not None and 0.3 < seg.confidence <= 1.0
    # The overall confidence is the duration-weighted mean of the segments', and every
    # confidence is rounded to four decimals.
    weights = [seg.end - seg.start for seg in segments]
    mean = sum(w * (seg.confidence or 0) for w, seg in zip(weights, segments, strict=True))
    assert meta.confidence == pytest.approx(mean / sum(weights), abs=1e-4)
    assert meta.language_detected == "en"
    assert meta.whisperx_version == "3.8.6"
    assert meta.model_info is not None
    assert meta.model_info.name == "faster-whisper-tiny.en"
    assert 60 < meta.model_info.size_mb < 100  # tiny.en's model.bin is about 75 MB
    assert 0 < meta.model_info.load_time_seconds < english_run.wall_seconds
    # Times: the attempt's start (written by the "controller" just before) to the end.
    assert result.processing_start is not None and result.processing_end is not None
    elapsed = (result.processing_end - result.processing_start).total_seconds()
    assert result.processing_time_seconds == pytest.approx(elapsed, abs=0.01)
    assert 0 < elapsed < english_run.wall_seconds + 5
    stats = result.processing_stats
    assert stats is not None and stats.total_attempts == 1
    assert 200 < stats.memory_peak_mb < 8000  # a Python with torch and a model loaded
    assert stats.cpu_time_seconds > 0.5
    assert result.settings.device == "cpu" and result.settings.compute_type == "int8"
    assert isinstance(result.processing_start, datetime)


def test_progress_rises_and_readers_never_see_half_a_file(english_run: EnglishRun) -> None:
    assert english_run.done.returncode == ExitCode.OK, english_run.done.stderr[-3000:]
    watcher = english_run.watcher
    assert watcher.reads > 50 and not watcher.bad_reads, watcher.bad_reads[:3]
    stages = ["loading_model", "processing_audio", "generating_text"]
    seen = watcher.seen
    # generating_text lasts milliseconds before .in_progress goes away; a poller may miss
    # it (test_status.py checks that a new stage is written at once).
    assert {"loading_model", "processing_audio"} <= {stage for stage, _ in seen}, seen
    ranks = [(stages.index(stage), pct) for stage, pct in seen]
    assert ranks == sorted(ranks), f"progress went back: {seen}"
    pcts = [pct for _, pct in seen]
    assert pcts == sorted(pcts), seen
    # The percentage followed the audio: some step inside transcription was seen.
    inside = [pct for stage, pct in seen if stage == "processing_audio" and 10 < pct < 95]
    assert inside, seen
    # Heartbeats: never 15 s without one (loading WhisperX alone takes several seconds).
    times = [datetime.fromisoformat(beat.replace("Z", "+00:00")) for beat in watcher.heartbeats]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    assert len(times) >= 3 and max(gaps) <= 15, gaps


def test_success_leaves_result_outputs_and_the_audio_untouched(english_run: EnglishRun) -> None:
    assert english_run.done.returncode == ExitCode.OK, english_run.done.stderr[-3000:]
    audio = english_run.root / english_run.rel
    assert digest(audio) == digest(english_run.source)
    assert not in_progress_path(audio).exists()
    srt = output_path(audio, "srt").read_text(encoding="utf-8")
    vtt = output_path(audio, "vtt").read_text(encoding="utf-8")
    txt = output_path(audio, "txt").read_text(encoding="utf-8")
    assert output_path(audio, "srt").name == "my talk — запись №1.srt"
    assert re.match(r"1\n00:00:\d\d,\d{3} --> 00:00:\d\d,\d{3}\n\S", srt), srt[:200]
    assert vtt.startswith("WEBVTT\n\n00:00:") and " --> " in vtt
    result = read_result(english_run.root, english_run.rel)
    assert txt.split() == result.transcription.text.split()
    leftovers = [p.name for p in audio.parent.iterdir() if p.name.startswith(".")]
    assert not leftovers, leftovers


def test_russian_with_base_and_language_ru_gives_cyrillic(
    tmp_path: Path, russian_short: Path, model_dir: Path
) -> None:
    rel = place(russian_short, tmp_path, "ru/привет.wav")
    claim(tmp_path, rel, model_size="base", language="ru")
    done = run_worker(tmp_path, rel, model_dir)
    assert done.returncode == ExitCode.OK, done.stderr[-3000:]
    result = read_result(tmp_path, rel)
    text = result.transcription.text
    letters = [ch for ch in text if ch.isalpha()]
    cyrillic = [ch for ch in letters if "\u0400" <= ch <= "\u04ff"]
    assert letters and len(cyrillic) / len(letters) > 0.9, text
    assert result.metadata.language_detected == "ru"
    assert result.metadata.model_info is not None
    assert result.metadata.model_info.name == "faster-whisper-base"


def test_language_unset_is_detected_by_the_model(
    tmp_path: Path, english_short: Path, model_dir: Path
) -> None:
    rel = place(english_short, tmp_path, "detect me.wav")
    claim(tmp_path, rel, model_size="base", language=None)
    done = run_worker(tmp_path, rel, model_dir)
    assert done.returncode == ExitCode.OK, done.stderr[-3000:]
    result = read_result(tmp_path, rel)
    assert result.settings.language is None
    assert result.metadata.language_detected == "en"
    assert "fox" in result.transcription.text.lower()


def test_silence_is_a_success_with_an_empty_transcript(tmp_path: Path, model_dir: Path) -> None:
    import speechkit

    rel = place(speechkit.silence(tmp_path / "src" / "quiet.wav", 4.0), tmp_path, "quiet.wav")
    claim(tmp_path, rel)
    done = run_worker(tmp_path, rel, model_dir)
    assert done.returncode == ExitCode.OK, done.stderr[-3000:]
    result = read_result(tmp_path, rel)
    assert result.transcription.text == "" and result.transcription.segments == []
    assert result.metadata.word_count == 0 and result.metadata.segment_count == 0
    assert result.metadata.confidence is None
    assert result.duration_seconds == pytest.approx(4.0, abs=0.1)
    assert not in_progress_path(tmp_path / rel).exists()


def test_truncated_mp3_transcribes_what_still_decodes(
    tmp_path: Path, english_long: Path, model_dir: Path
) -> None:
    data = english_long.read_bytes()
    audio = tmp_path / "cut off.mp3"
    audio.write_bytes(data[: len(data) // 3])
    claim(tmp_path, audio.name)
    done = run_worker(tmp_path, audio.name, model_dir)
    assert done.returncode == ExitCode.OK, done.stderr[-3000:]
    result = read_result(tmp_path, audio.name)
    assert result.duration_seconds is not None and 10 < result.duration_seconds < 40
    assert "quick brown fox" in result.transcription.text.lower()
    assert audio.read_bytes() == data[: len(data) // 3]

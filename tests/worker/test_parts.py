"""The worker's parts on their own: status writes, confidence, outputs, model lookup,
and the light VAD import."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kubescribe_protocol.codes import ErrorCode
from kubescribe_protocol.models import Result, Segment, Stage, TranscriptionSettings
from kubescribe_protocol.names import in_progress_path
from kubescribe_protocol.render import render_srt, render_txt, render_vtt
from kubescribe_worker import status as status_module
from kubescribe_worker.errors import Superseded, WorkerError
from kubescribe_worker.models import resolve_model
from kubescribe_worker.result import (
    Measurements,
    build_result,
    overall_confidence,
    segment_confidence,
)
from kubescribe_worker.status import FencedStatus
from kubescribe_worker.transcript import TranscribedSegment, Transcript

from .workerkit import claim


def progress_of(path: Path) -> tuple[str, int]:
    data = json.loads(in_progress_path(path).read_text(encoding="utf-8"))
    assert data["progress"] == data["attempts"][-1]["progress_info"]
    return data["progress"]["stage"], data["progress"]["percentage"]


def test_progress_is_throttled_never_goes_back_and_new_stages_are_written_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    audio = tmp_path / "a.wav"
    claim(tmp_path, audio.name)
    status = FencedStatus(audio, 1)
    status.progress(Stage.LOADING_MODEL, 0, force=True)
    status.progress(Stage.PROCESSING_AUDIO, 10)
    assert progress_of(audio) == ("processing_audio", 10)  # a new stage: at once
    status.progress(Stage.PROCESSING_AUDIO, 40)
    assert progress_of(audio) == ("processing_audio", 10)  # under a second later: held
    status.progress(Stage.PROCESSING_AUDIO, 30)  # a step back is ignored
    monkeypatch.setattr(status_module, "MIN_WRITE_SECONDS", 0.0)
    status.beat()  # the heartbeat writes what was held
    assert progress_of(audio) == ("processing_audio", 40)
    status.progress(Stage.LOADING_MODEL, 99)  # an earlier stage never comes back
    assert progress_of(audio) == ("processing_audio", 99)
    status.progress(Stage.GENERATING_TEXT, 95)
    assert progress_of(audio) == ("generating_text", 99)


def test_heartbeat_is_written_when_nothing_else_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    audio = tmp_path / "a.wav"
    claim(tmp_path, audio.name)
    status = FencedStatus(audio, 1)
    status.progress(Stage.LOADING_MODEL, 0, force=True)
    first = json.loads(in_progress_path(audio).read_text())["attempts"][-1]["heartbeat"]
    monkeypatch.setattr(status_module, "HEARTBEAT_SECONDS", 0.0)
    time.sleep(0.01)
    status.beat()
    second = json.loads(in_progress_path(audio).read_text())["attempts"][-1]["heartbeat"]
    assert first and second and second > first


def test_every_write_checks_the_fence(tmp_path: Path) -> None:
    audio = tmp_path / "a.wav"
    claim(tmp_path, audio.name)
    status = FencedStatus(audio, 1)
    status.progress(Stage.LOADING_MODEL, 0, force=True)
    claim(tmp_path, audio.name, attempt=2)
    before = in_progress_path(audio).read_bytes()
    with pytest.raises(Superseded):
        status.progress(Stage.PROCESSING_AUDIO, 50)
    with pytest.raises(Superseded):
        status.fail(ErrorCode.WHISPERX_FAILED, "boom", None, 1)
    assert in_progress_path(audio).read_bytes() == before


def test_the_result_says_whether_its_language_was_forced_or_detected() -> None:
    start = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    measured = Measurements(
        processing_start=start, processing_end=start + timedelta(seconds=2), duration_seconds=1.0,
        model_name="tiny", model_size_mb=75, model_load_seconds=1.0, attempt=1,
        memory_peak_mb=100.0, cpu_time_seconds=1.0,
    )  # fmt: skip
    transcript = Transcript([TranscribedSegment(0.0, 1.0, "Hello.", math.log(0.9))], "en")

    def metadata_for(settings: TranscriptionSettings, said: Transcript) -> dict[str, object]:
        result = build_result(filename="a.wav", rel="a.wav", settings=settings,
                              transcript=said, measured=measured)  # fmt: skip
        metadata: dict[str, object] = json.loads(result.model_dump_json())["metadata"]
        return metadata

    forced = metadata_for(TranscriptionSettings(language="en"), transcript)
    assert (forced["language_detected"], forced["language_source"]) == ("en", "forced")
    detected = metadata_for(TranscriptionSettings(), transcript)
    assert (detected["language_detected"], detected["language_source"]) == ("en", "detected")
    nothing = metadata_for(TranscriptionSettings(), Transcript([], ""))
    assert (nothing["language_detected"], nothing["language_source"]) == (None, None)
    # An older result, written before language_source, still reads (as null).
    older = json.loads(
        build_result(
            filename="a.wav", rel="a.wav", settings=TranscriptionSettings(),
            transcript=transcript, measured=measured,
        ).model_dump_json()
    )  # fmt: skip
    del older["metadata"]["language_source"]
    assert Result.model_validate(older).metadata.language_source is None


def test_confidence_is_the_mean_token_probability_weighted_by_duration() -> None:
    assert segment_confidence(0.0) == 1.0
    assert segment_confidence(math.log(0.8)) == pytest.approx(0.8)
    assert segment_confidence(-1e9) == 0.0
    segments = [
        Segment(id=0, start=0.0, end=3.0, text="a", confidence=0.9),
        Segment(id=1, start=3.0, end=4.0, text="b", confidence=0.5),
    ]
    assert overall_confidence(segments) == pytest.approx((3 * 0.9 + 1 * 0.5) / 4)
    assert overall_confidence([]) is None


def test_measured_figures_are_rounded_and_one_segment_shows_one_confidence() -> None:
    start = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    measured = Measurements(
        processing_start=start, processing_end=start + timedelta(seconds=20.123456789),
        duration_seconds=3.3000000000000003, model_name="tiny", model_size_mb=75,
        model_load_seconds=1.2345678, attempt=1, memory_peak_mb=812.33333333,
        cpu_time_seconds=17.150000000000002,
    )  # fmt: skip
    transcript = Transcript([TranscribedSegment(0.031, 1.7, "Hello.", math.log(0.81234567))], "en")
    result = build_result(filename="a.wav", rel="a.wav", settings=TranscriptionSettings(),
                          transcript=transcript, measured=measured)  # fmt: skip
    data = json.loads(result.model_dump_json())
    assert data["processing_stats"]["cpu_time_seconds"] == 17.15
    assert data["processing_stats"]["memory_peak_mb"] == 812.3
    assert data["processing_time_seconds"] == 20.123
    assert data["duration_seconds"] == data["metadata"]["duration_seconds"] == 3.3
    assert data["metadata"]["model_info"]["load_time_seconds"] == 1.235
    segment = data["transcription"]["segments"][0]["confidence"]
    assert segment == data["metadata"]["confidence"] == 0.8123


def test_subtitle_formats() -> None:
    segments = [
        Segment(id=0, start=0.0, end=2.5, text="Hello there."),
        Segment(id=1, start=3661.25, end=3662.0, text="Привет."),
    ]
    assert render_srt(segments) == (
        "1\n00:00:00,000 --> 00:00:02,500\nHello there.\n\n"
        "2\n01:01:01,250 --> 01:01:02,000\nПривет.\n"
    )
    assert render_vtt(segments) == (
        "WEBVTT\n\n00:00:00.000 --> 00:00:02.500\nHello there.\n\n"
        "01:01:01.250 --> 01:01:02.000\nПривет.\n"
    )
    assert render_txt(segments) == "Hello there.\nПривет.\n"


def test_model_lookup_order(tmp_path: Path) -> None:
    one = tmp_path / "one"
    one.mkdir()
    (one / "model.bin").write_bytes(b"x")
    assert resolve_model("base", one, use_hub=False).path == one  # a model given directly
    by_size = tmp_path / "by-size"
    (by_size / "small").mkdir(parents=True)
    (by_size / "small" / "model.bin").write_bytes(b"x")
    assert resolve_model("small", by_size, use_hub=False).path == by_size / "small"
    # Not in the folder: the model a package carries.
    found = resolve_model("tiny.en", by_size, use_hub=False)
    assert found.source == "bundled" and (found.path / "model.bin").is_file()
    (by_size / "medium").mkdir()
    with pytest.raises(WorkerError) as broken:
        resolve_model("medium", by_size, use_hub=False)
    assert broken.value.code is ErrorCode.MODEL_BROKEN
    with pytest.raises(WorkerError) as missing:
        resolve_model("large-v3", by_size, cache_dir=tmp_path / "cache", use_hub=False)
    assert missing.value.code is ErrorCode.MODEL_MISSING
    assert str(by_size / "large-v3" / "model.bin") in (missing.value.details or "")


def test_whisperx_pipeline_loads_without_pyannote() -> None:
    probe = (
        "import sys, kubescribe_worker.pipeline as p, whisperx.asr as asr\n"
        "assert 'pyannote.audio' not in sys.modules, 'pyannote imported'\n"
        "assert issubclass(p.SileroOnnxVad, asr.Vad)\n"
        "from whisperx.vads.pyannote import Pyannote\n"  # the real one still imports
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=180, check=False)  # fmt: skip
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-3000:]


def test_whisperx_pipeline_loads_without_pyannote_core_or_matplotlib() -> None:
    # WhisperX's vads/vad.py imports pyannote.core (and so matplotlib) for names it never
    # uses: half a second of every worker's start, so the worker carries a copy of it.
    probe = (
        "import sys, kubescribe_worker.pipeline\n"
        "heavy = sorted(m for m in ('pyannote.core', 'matplotlib') if m in sys.modules)\n"
        "assert not heavy, f'imported {heavy}'\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=180, check=False)  # fmt: skip
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-3000:]


def test_copied_vad_merges_chunks_as_whisperx_does() -> None:
    import importlib.util
    import random

    import whisperx

    from kubescribe_worker.light_vads import Vad
    from kubescribe_worker.vad import SpeechRegion

    # WhisperX's own file, loaded under another name (the light package stands in for it).
    source = Path(whisperx.__file__).parent / "vads" / "vad.py"
    spec = importlib.util.spec_from_file_location("whisperx_real_vad_for_test", source)
    assert spec is not None and spec.loader is not None
    real = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(real)
    rng = random.Random(12)
    for _ in range(50):
        regions, at = [], 0.0
        for _ in range(rng.randint(1, 40)):
            at += rng.uniform(0.0, 3.0)
            length = rng.uniform(0.1, 35.0)
            regions.append(SpeechRegion(round(at, 3), round(at + length, 3)))
            at += length
        chunk = rng.choice([5.0, 15.0, 30.0])
        assert Vad.merge_chunks(regions, chunk, 0.5, None) == real.Vad.merge_chunks(
            regions, chunk, 0.5, None
        )
    with pytest.raises(ValueError, match="vad_onset"):
        Vad(1.5)

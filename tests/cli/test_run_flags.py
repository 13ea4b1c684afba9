"""``kubescribe run``'s flags through the real entry point: values that can never work are
usage errors (exit 2) naming the valid choices, before anything is queued; ``--help``
shows every default; ``--output-format`` writes transcripts beside the audio (issue 15)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from speechkit import ENGLISH_SENTENCES, have_speech_tools, speak

from kubescribe_protocol.atomic import read_model
from kubescribe_protocol.models import Result
from kubescribe_protocol.names import result_path


def kubescribe_run(root: Path, *flags: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KUBESCRIBE_")}
    return subprocess.run(
        [sys.executable, "-m", "kubescribe_cli", "run", str(root), *flags],
        capture_output=True, text=True, timeout=300, check=False, env={**clean, **env},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("flags", "env", "said"),
    [
        (["--parallel", "0"], {}, "--parallel (or KUBESCRIBE_PARALLEL): Input should be "
                                  "greater than or equal to 1 (got 0)"),
        ([], {"KUBESCRIBE_PARALLEL": "0"}, "KUBESCRIBE_PARALLEL"),
        (["--stable-seconds", "-1"], {}, "--stable-seconds"),
        (["--max-attempts", "0"], {}, "--max-attempts"),
        (["--model-size", "huge"], {}, "unknown_model_size: unknown model size 'huge': the "
                                       "model directory MODELS has base, tiny.en"),
        (["--model-size", "small"], {}, "the model directory MODELS has base, tiny.en"),
        (["--model-size", "tiny.en", "--language", "de"], {},
         "unsupported_language: model tiny.en does not speak 'de': an English-only model "
         "speaks en"),
        (["--model-size", "base", "--language", "xx"], {}, "Whisper speaks en, zh, de, es"),
        ([], {"KUBESCRIBE_DEFAULTS__LANGUAGE": "xx"}, "unsupported_language"),
    ],
)  # fmt: skip
def test_impossible_values_are_usage_errors_and_nothing_is_written(
    tmp_path: Path, model_dir: Path, flags: list[str], env: dict[str, str], said: str
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "waiting.wav").write_bytes(b"RIFF")  # would be taken by a run that started
    done = kubescribe_run(root, "--once", "--model-dir", str(model_dir), *flags, **env)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("usage: kubescribe run"), done.stderr
    assert said.replace("MODELS", str(model_dir)) in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert sorted(p.name for p in root.iterdir()) == ["waiting.wav"]


def test_help_shows_the_default_of_every_option() -> None:
    done = subprocess.run([sys.executable, "-m", "kubescribe_cli", "run", "--help"],
                          capture_output=True, text=True, timeout=60, check=True,
                          env={**os.environ, "COLUMNS": "500"})  # fmt: skip
    # One entry per option: its line, and the help argparse may wrap onto the next ones.
    entries = re.split(r"\n(?=  --)", done.stdout.split("options:", 1)[1])
    options = [" ".join(entry.split()) for entry in entries if entry.startswith("  --")]
    switches = {"--once", "--debug", "--api-token"}  # no setting behind them
    assert len(options) == 18, done.stdout
    for line in options:
        flag = line.split()[0].rstrip(",")
        if flag not in switches:
            assert "(default: " in line, line
    expected = {"--parallel": "(default: 1)", "--stable-seconds": "(default: 90.0)",
                "--model-size": "(default: base)", "--language": "(default: detect)",
                "--output-format": "(default: none)", "--api-port": "(default: 8000)"}  # fmt: skip
    for flag, default in expected.items():
        assert any(line.startswith(flag + " ") and default in line for line in options), flag
    assert not re.search(r"\(default [^:]", done.stdout)


@pytest.mark.slow
@pytest.mark.skipif(not have_speech_tools(), reason="needs espeak-ng and ffmpeg")
def test_output_formats_and_a_language_by_name(tmp_path: Path, model_dir: Path) -> None:
    root = tmp_path / "root"
    speak(root / "talk.mp3", ENGLISH_SENTENCES[0])
    done = kubescribe_run(
        root, "--once", "--model-dir", str(model_dir), "--model-size", "tiny.en",
        "--device", "cpu", "--compute-type", "int8", "--stable-seconds", "0",
        "--scan-interval", "0.2", "--language", "english",
        "--output-format", "txt", "--output-format", "vtt",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = read_model(result_path(root / "talk.mp3"), Result)
    assert result is not None, done.stderr[-3000:]
    assert result.settings.language == "en"
    assert result.settings.output_formats == ["txt", "vtt"]
    text = (root / "talk.txt").read_text()
    assert text.strip() and text.strip() in result.transcription.text
    assert (root / "talk.vtt").read_text().startswith("WEBVTT")
    assert not (root / "talk.srt").exists()

"""``settings.alignment: whisperx``: word times from a wav2vec2 alignment model in the
model directory, and a clear error naming where it looked when there is none."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubescribe_protocol.codes import ErrorCode, ExitCode
from kubescribe_protocol.names import result_path

from .alignkit import make_alignment_model
from .workerkit import claim, place, read_result, read_status, run_worker

pytestmark = pytest.mark.slow


def models_with_tiny(tmp_path: Path, model_dir: Path) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "tiny.en").symlink_to(model_dir / "tiny.en", target_is_directory=True)
    return folder


def test_alignment_asked_for_and_absent_names_the_folder(
    tmp_path: Path, english_short: Path, model_dir: Path
) -> None:
    models = models_with_tiny(tmp_path, model_dir)
    root = tmp_path / "root"
    rel = place(english_short, root, "talk.wav")
    claim(root, rel, alignment="whisperx", language="en")
    done = run_worker(root, rel, models)
    assert done.returncode == ExitCode.MODEL_ERROR, done.stderr[-3000:]
    error = read_status(root, rel).error
    assert error is not None and error.code == ErrorCode.MODEL_MISSING.value
    assert str(models / "alignment" / "en") in error.message, error.message
    assert not result_path(root / rel).exists()
    assert (root / rel).read_bytes() == english_short.read_bytes()


def test_alignment_model_in_the_model_directory_times_the_words(
    tmp_path: Path, english_short: Path, model_dir: Path
) -> None:
    models = models_with_tiny(tmp_path, model_dir)
    make_alignment_model(models / "alignment" / "en")
    root = tmp_path / "root"
    rel = place(english_short, root, "talk.wav")
    # no language given: the check comes after transcription, with the one it used
    claim(root, rel, alignment="whisperx")
    done = run_worker(root, rel, models)
    assert done.returncode == ExitCode.OK, done.stderr[-3000:]
    result = read_result(root, rel)
    assert result.settings.alignment == "whisperx"
    segments = result.transcription.segments
    assert segments and all(seg.words for seg in segments)
    for seg in segments:
        assert seg.start == seg.words[0].start and seg.end == seg.words[-1].end
        starts = [w.start for w in seg.words]
        assert starts == sorted(starts)
    assert {"quick", "fox"} <= {w.word.strip(".,").lower() for s in segments for w in s.words}

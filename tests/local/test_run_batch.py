"""``kubescribe run --once`` end to end with the real worker and the bundled tiny.en model:
good and bad files, nested folders, names with spaces and Cyrillic letters; retries
through the worker's own test switch; and ``kubescribe status``."""

from __future__ import annotations

from pathlib import Path

import pytest
from speechkit import ENGLISH_SENTENCES, have_speech_tools, speak, video_without_audio

from kubescribe_protocol.atomic import read_model
from kubescribe_protocol.codes import PERMANENT_ERRORS
from kubescribe_protocol.models import Result
from kubescribe_protocol.names import in_progress_path, result_path
from kubescribe_protocol.state import FileState, file_state

from .helpers import assert_all_json_valid, manual_status, run_once, status_json, temp_files

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not have_speech_tools(), reason="needs espeak-ng and ffmpeg"),
]

GOOD = {
    "top level.mp3": ENGLISH_SENTENCES[0],
    "team/weekly/Запись встречи.wav": ENGLISH_SENTENCES[1],
    "team/интервью один.ogg": ENGLISH_SENTENCES[2],
}


def _words(text: str) -> set[str]:
    return {word.strip(".,!?'").lower() for word in text.split()}


def test_batch_of_good_and_bad_files(tmp_path: Path, model_dir: Path) -> None:
    root = tmp_path / "root"
    for rel, text in GOOD.items():
        speak(root / rel, text)
    (root / "docs").mkdir()
    (root / "docs/not audio.mp3").write_text("this is a text file, not audio\n")
    (root / "empty.wav").write_bytes(b"")
    video_without_audio(root / "team/silent video.mp4")
    (root / "ignored.txt").write_text("not media")
    (root / "manual").mkdir()
    (root / "manual/left alone.mp3").write_bytes(b"a person's file")

    done = run_once(root, model_dir, "--parallel", "2")

    for rel, text in GOOD.items():
        assert file_state(root, rel) is FileState.COMPLETED, done.stderr[-3000:]
        result = read_model(result_path(root / rel), Result)
        assert result is not None
        heard = _words(result.transcription.text)
        spoken = _words(text)
        assert len(heard & spoken) >= len(spoken) * 0.6, (rel, result.transcription.text)
        assert not in_progress_path(root / rel).exists()
    for rel in ("docs/not audio.mp3", "empty.wav", "team/silent video.mp4"):
        assert file_state(root, rel) is FileState.MANUAL, done.stderr[-3000:]
        status = manual_status(root, rel)
        assert status.error is not None and status.error.code in PERMANENT_ERRORS, status.error
        assert len(status.attempts) == 1  # bad input: no retry
    assert (root / "manual/left alone.mp3").read_bytes() == b"a person's file"
    assert not in_progress_path(root / "manual/left alone.mp3").exists()
    assert_all_json_valid(root)
    assert temp_files(root) == []

    report = status_json(root)
    assert report["counts"] == {
        "pending": 0, "processing": 0, "error": 0, "completed": 3, "manual": 4,
    }  # fmt: skip
    manual_rows = {row["path"]: row for row in report["files"] if row["state"] == "manual"}
    assert manual_rows["manual/empty.wav"]["error_code"] in PERMANENT_ERRORS


def test_a_failed_first_attempt_is_retried(tmp_path: Path, model_dir: Path) -> None:
    root = tmp_path / "root"
    rel = "retry me.mp3"
    speak(root / rel, ENGLISH_SENTENCES[0])
    # The worker itself fails attempt 1 (injected_failure, exit 1, retry_after 1 s).
    done = run_once(root, model_dir, KUBESCRIBE_TEST_FAIL_ATTEMPTS="1")
    assert file_state(root, rel) is FileState.COMPLETED, done.stderr[-3000:]
    assert "attempt 1 failed (injected_failure)" in done.stderr
    assert "starting retry me.mp3 (attempt 2)" in done.stderr
    result = read_model(result_path(root / rel), Result)
    assert result is not None and "fox" in result.transcription.text.lower()

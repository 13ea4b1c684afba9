"""Extra outputs never replace a file kubescribe did not write, and two audio files of
one stem get outputs that cannot collide (issue 14, item 11): with the real worker."""

from __future__ import annotations

from pathlib import Path

import speechkit

from kubescribe_protocol.codes import ExitCode
from kubescribe_protocol.names import result_path

from .workerkit import claim, place, read_result, run_worker

FORMATS = ["srt", "txt"]


def _transcribe(root: Path, rel: str, model_dir: Path, attempt: int = 1) -> None:
    claim(root, rel, attempt=attempt, output_formats=FORMATS)
    done = run_worker(root, rel, model_dir, attempt=attempt)
    assert done.returncode == ExitCode.OK, done.stderr[-3000:]


def test_two_audio_files_of_one_stem_and_a_users_srt_all_survive(
    tmp_path: Path, english_short: Path, model_dir: Path
) -> None:
    library = " ".join(speechkit.DISTINCT_ENGLISH_SENTENCES[3:6])  # no fox in it
    spoken = speechkit.speak(tmp_path / "speech" / "library.mp3", library)
    root = tmp_path / "root"
    place(spoken, root, "talk.mp3")
    place(english_short, root, "talk.wav")
    users = root / "talk.srt"
    users.write_text("1\n00:00:00,000 --> 00:00:01,000\nmy own subtitles\n", encoding="utf-8")
    before = users.read_bytes()

    _transcribe(root, "talk.mp3", model_dir)
    _transcribe(root, "talk.wav", model_dir)

    assert users.read_bytes() == before
    mp3_srt = (root / "talk.mp3.srt").read_text(encoding="utf-8").lower()
    wav_srt = (root / "talk.wav.srt").read_text(encoding="utf-8").lower()
    assert "library" in mp3_srt and "fox" not in mp3_srt
    assert "fox" in wav_srt and "library" not in wav_srt
    assert "library" in (root / "talk.mp3.txt").read_text(encoding="utf-8").lower()
    assert "fox" in (root / "talk.wav.txt").read_text(encoding="utf-8").lower()
    recorded = {o.name for o in read_result(root, "talk.mp3").outputs}
    assert recorded == {"talk.mp3.srt", "talk.mp3.txt"}
    assert not (root / "talk.txt").exists()


def test_a_second_run_replaces_its_own_outputs_but_not_ones_a_person_edited(
    tmp_path: Path, english_short: Path, model_dir: Path
) -> None:
    root = tmp_path / "root"
    rel = place(english_short, root, "talk.wav")
    _transcribe(root, rel, model_dir)
    assert {o.name for o in read_result(root, rel).outputs} == {"talk.srt", "talk.txt"}
    edited = root / "talk.txt"
    edited.write_text("a person's corrected transcript\n", encoding="utf-8")
    # The audio changed and is done again: the old result is kept as history (as the
    # controller keeps it), and still says which outputs were kubescribe's.
    result_path(root / rel).rename(root / "talk.wav.result.replaced-20261202T120000Z")
    (root / "talk.srt").write_text((root / "talk.srt").read_text(encoding="utf-8"))  # same bytes

    _transcribe(root, rel, model_dir, attempt=2)

    assert edited.read_text(encoding="utf-8") == "a person's corrected transcript\n"
    names = {o.name for o in read_result(root, rel).outputs}
    assert names == {"talk.srt", "talk.wav.txt"}
    assert "fox" in (root / "talk.wav.txt").read_text(encoding="utf-8").lower()
    assert sorted(p.name for p in root.iterdir() if p.suffix in (".srt", ".txt")) == [
        "talk.srt", "talk.txt", "talk.wav.txt"
    ]  # fmt: skip

"""Subtitle layout: cues cut at word boundaries by the words' times, within the widths."""

from __future__ import annotations

import pytest

from kubescribe_protocol.models import Result, Segment, TranscriptionSettings, Word
from kubescribe_protocol.render import render_srt, render_txt, render_vtt
from kubescribe_protocol.subtitles import SubtitleLayout, cues

TEXT = "The quick brown fox jumps over the lazy dog and runs far away into the dark green woods."


def timed(text: str, start: float, seconds_a_word: float) -> Segment:
    words = [
        Word(word=w, start=start + i * seconds_a_word, end=start + (i + 0.8) * seconds_a_word)
        for i, w in enumerate(text.split())
    ]
    return Segment(start=words[0].start, end=words[-1].end, text=text, words=words)


@pytest.mark.parametrize(("width", "count"), [(42, 2), (20, 1), (16, 3)])
def test_cues_fit_the_layout_and_keep_every_word(width: int, count: int) -> None:
    layout = SubtitleLayout(line_width=width, line_count=count)
    made = cues([timed(TEXT, 1.0, 0.5)], layout)
    assert len(made) > 1
    for cue in made:
        assert 1 <= len(cue.lines) <= count
        assert all(len(line) <= width for line in cue.lines)
        assert cue.end - cue.start <= 7.0
    assert " ".join(" ".join(cue.lines) for cue in made) == TEXT
    # timed by the words: each cue starts at its first word
    starts = {w.word: w.start for w in timed(TEXT, 1.0, 0.5).words}
    assert all(cue.start in starts.values() for cue in made)
    assert made[1].start == starts[made[1].lines[0].split()[0]]


def test_slow_speech_is_cut_at_seven_seconds() -> None:
    made = cues([timed("one two three four five six", 0.0, 2.0)])
    assert [cue.lines for cue in made] == [("one two three",), ("four five six",)]
    assert all(cue.end - cue.start <= 7.0 for cue in made)


def test_a_cue_never_spans_two_segments() -> None:
    made = cues([timed("Hello.", 0.0, 0.4), timed("Goodbye.", 0.5, 0.4)])
    assert [cue.lines for cue in made] == [("Hello.",), ("Goodbye.",)]


def test_an_older_result_without_words_is_cut_by_its_characters() -> None:
    old = Segment(start=0.0, end=29.3, text=TEXT * 2)
    made = cues([old])
    assert all(len(line) <= 42 for cue in made for line in cue.lines)
    assert all(cue.end - cue.start <= 7.0 + 1e-9 for cue in made)
    assert made[0].start == 0.0 and made[-1].end == pytest.approx(29.3)
    srt = render_srt([old])
    assert srt.startswith("1\n00:00:00,000 --> ")


def test_txt_stays_one_plain_line_a_segment() -> None:
    segments = [timed(TEXT, 0.0, 0.5), timed("Bye.", 30.0, 0.5)]
    assert render_txt(segments) == f"{TEXT}\nBye.\n"
    assert render_vtt(segments).startswith("WEBVTT\n\n00:00:00.000 --> ")


def test_layout_comes_from_the_settings() -> None:
    settings = TranscriptionSettings(subtitle_line_width=30, subtitle_line_count=1)
    assert SubtitleLayout.of(settings) == SubtitleLayout(line_width=30, line_count=1)


def test_a_result_written_before_word_times_still_reads() -> None:
    old = {
        "filename": "a.mp3",
        "path": "a.mp3",
        "transcription": {
            "text": "Hi.",
            "segments": [{"id": 0, "start": 0, "end": 1, "text": "Hi."}],
        },
        "settings": {"model_size": "base"},
    }
    result = Result.model_validate(old)
    assert result.transcription.segments[0].words == []
    assert result.settings.word_timestamps is True
    assert result.settings.subtitle_line_width == 42

"""Cut a chunk's timed words into segments at sentences, and long sentences at pauses.

A segment starts at its first word and ends at its last, so it covers speech only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .transcript import TimedWord, TranscribedSegment

#: A word ending with one of these (before closing quotes or brackets) ends a sentence.
SENTENCE_ENDS = ".!?。！？…"
CLOSERS = "\"'”’)]}»"
CLAUSE_ENDS = ",;:，、；："
#: A silence this long between two words ends a segment even inside a sentence.
PAUSE_SECONDS = 1.5
#: A comma (or colon, semicolon) followed by this much silence ends a phrase: a small model
#: often writes a comma where one sentence ends and the next begins.
COMMA_PAUSE_SECONDS = 0.2
#: A sentence longer than this is cut at its longest pause (a comma's pause first).
LONGEST_SEGMENT_SECONDS = 12.0


def ends_sentence(word: str) -> bool:
    stripped = word.strip().rstrip(CLOSERS)
    return bool(stripped) and stripped[-1] in SENTENCE_ENDS


def ends_clause(word: str) -> bool:
    return word.strip().rstrip(CLOSERS)[-1:] in CLAUSE_ENDS


def split_words(words: Sequence[TimedWord]) -> list[list[TimedWord]]:
    """Runs of words, one a sentence or a phrase of one, in order."""
    runs: list[list[TimedWord]] = []
    current: list[TimedWord] = []
    for word in words:
        pause = word.start - current[-1].end if current else 0.0
        if pause >= PAUSE_SECONDS or (
            pause >= COMMA_PAUSE_SECONDS and ends_clause(current[-1].word)
        ):
            runs.append(current)
            current = []
        current.append(word)
        if ends_sentence(word.word):
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return [piece for run in runs for piece in _cut_long(run)]


def _cut_long(run: list[TimedWord]) -> list[list[TimedWord]]:
    if len(run) < 2 or run[-1].end - run[0].start <= LONGEST_SEGMENT_SECONDS:
        return [run]

    def weight(i: int) -> float:
        # the pause after word i; a comma or a colon counts as a pause of a quarter second
        gap = max(0.0, run[i + 1].start - run[i].end)
        return gap + (0.25 if ends_clause(run[i].word) else 0.0)

    candidates = range(len(run) - 1)
    cut = max(candidates, key=lambda i: (weight(i), -abs(i - len(run) / 2)))
    return _cut_long(run[: cut + 1]) + _cut_long(run[cut + 1 :])


def segments_from_words(words: Sequence[TimedWord], offset: float) -> list[TranscribedSegment]:
    """Segments of one chunk; ``offset`` is where the chunk starts in the audio."""
    segments = []
    for run in split_words(words):
        moved = tuple(
            TimedWord(
                word=w.word,
                start=round(offset + w.start, 3),
                end=round(offset + w.end, 3),
                probability=w.probability,
            )
            for w in run
        )
        text = "".join(w.word for w in moved).strip()
        if not text:
            continue
        # the geometric mean of the word probabilities, as avg_logprob is of the tokens'
        logprob = sum(math.log(max(w.probability, 1e-6)) for w in moved) / len(moved)
        segments.append(
            TranscribedSegment(
                start=moved[0].start, end=moved[-1].end, text=text, avg_logprob=logprob, words=moved
            )
        )
    return segments


def by_sentence(
    chunks: list[TranscribedSegment], chunk_words: Sequence[Sequence[TimedWord]]
) -> list[TranscribedSegment]:
    """Each chunk cut at its sentences by its words' times; a chunk without words (the
    alignment found none) stays whole."""
    if len(chunk_words) != len(chunks):
        return chunks  # never: WhisperX generates each chunk once, in order
    segments: list[TranscribedSegment] = []
    for chunk, words in zip(chunks, chunk_words, strict=True):
        segments.extend(segments_from_words(words, chunk.start) if words else [chunk])
    return segments

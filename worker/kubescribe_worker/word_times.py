"""Word times from the Whisper model's own cross-attention (CTranslate2's ``align``), the
way faster-whisper's ``word_timestamps=True`` gets them: no extra model, offline.

The difference from faster-whisper: a batch of chunks of different lengths is aligned in
one call, each over its own frames (faster-whisper passes one length for the batch).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from faster_whisper.transcribe import merge_punctuations

from .transcript import TimedWord

#: Whisper's encoder: 50 positions a second (two mel frames each).
TOKENS_PER_SECOND = 50
#: faster-whisper's defaults for which punctuation joins the word beside it.
PREPEND_PUNCTUATIONS = "\"'“¿([{-"
APPEND_PUNCTUATIONS = "\"'.。,，!！?？:：”)]}、"
SENTENCE_END_MARKS = ".。!！?？"
#: faster-whisper splits these at characters, not spaces.
UNSPACED_LANGUAGES = {"zh", "ja", "th", "lo", "my", "yue"}


def align_words(
    ctranslate2_model: Any,
    tokenizer: Any,
    encoder_output: Any,
    text_tokens: Sequence[list[int]],
    num_frames: Sequence[int],
) -> list[list[TimedWord]]:
    """The words of each item of a batch, with times in seconds from the chunk's start.

    ``text_tokens[i]`` are chunk i's text tokens (no special tokens); ``num_frames[i]``
    its mel frames before padding.
    """
    to_align = [i for i, tokens in enumerate(text_tokens) if tokens]
    words: list[list[TimedWord]] = [[] for _ in text_tokens]
    if not to_align:
        return words
    if len(to_align) < len(text_tokens):
        # CTranslate2 aligns the whole batch; an empty item gets one end-of-text token.
        text_tokens = [tokens or [tokenizer.eot] for tokens in text_tokens]
    results = ctranslate2_model.align(
        encoder_output,
        tokenizer.sot_sequence,
        [list(tokens) for tokens in text_tokens],
        [max(1, int(frames)) for frames in num_frames],
    )
    for index in to_align:
        seconds = num_frames[index] / (2 * TOKENS_PER_SECOND)
        words[index] = _words_of(results[index], tokenizer, text_tokens[index], seconds)
    return words


def _words_of(result: Any, tokenizer: Any, tokens: list[int], seconds: float) -> list[TimedWord]:
    alignments = result.alignments
    text_indices = np.array([pair[0] for pair in alignments])
    time_indices = np.array([pair[1] for pair in alignments])
    words, word_tokens = tokenizer.split_to_word_tokens([*tokens, tokenizer.eot])
    if len(word_tokens) <= 1:
        return []
    boundaries = np.pad(np.cumsum([len(t) for t in word_tokens[:-1]]), (1, 0))
    jumps = np.pad(np.diff(text_indices), (1, 0), constant_values=1).astype(bool)
    jump_times = time_indices[jumps] / TOKENS_PER_SECOND
    starts = jump_times[boundaries[:-1]]
    ends = jump_times[boundaries[1:]]
    probs = result.text_token_probs
    timing = [
        {
            "word": word,
            "tokens": toks,
            "start": float(start),
            "end": float(end),
            "probability": float(np.mean(probs[i:j])) if j > i else 0.0,
        }
        for word, toks, start, end, i, j in zip(
            words, word_tokens, starts, ends, boundaries[:-1], boundaries[1:], strict=False
        )
    ]
    _shorten_sentence_marks(timing)
    merge_punctuations(timing, PREPEND_PUNCTUATIONS, APPEND_PUNCTUATIONS)
    if tokenizer.language_code not in UNSPACED_LANGUAGES:
        timing = _join_pieces(timing)
    return [
        TimedWord(
            word=item["word"],
            start=round(min(max(0.0, item["start"]), seconds), 3),
            end=round(min(max(item["start"], item["end"]), seconds), 3),
            probability=min(1.0, max(0.0, item["probability"])),
        )
        for item in timing
        if item["word"].strip()
    ]


def _join_pieces(timing: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One word per space-separated word: the tokenizer splits "o'clock" into "o" and
    "'clock" (an apostrophe starts a word of its own), which no reader would call two."""
    joined: list[dict[str, Any]] = []
    for item in timing:
        if not item["word"]:
            continue
        if joined and not item["word"].startswith(" "):
            last = joined[-1]
            count = len(last["tokens"]) + len(item["tokens"])
            last["probability"] = (
                last["probability"] * len(last["tokens"])
                + item["probability"] * len(item["tokens"])
            ) / max(1, count)
            last["word"] += item["word"]
            last["tokens"] = last["tokens"] + item["tokens"]
            last["end"] = item["end"]
        else:
            joined.append(dict(item))
    return joined


def _shorten_sentence_marks(timing: list[dict[str, Any]]) -> None:
    """faster-whisper's rule: a sentence mark (or the word after one, or the first word)
    that the attention stretched over a pause is cut to twice the median word's length, so
    the pause falls between sentences rather than inside a word."""
    durations = np.array([item["end"] - item["start"] for item in timing])
    durations = durations[durations.nonzero()]
    if len(durations) == 0:
        return
    longest = min(0.7, float(np.median(durations))) * 2
    # The chunk's first word takes the silence before it (a VAD chunk starts early).
    if timing[0]["end"] - timing[0]["start"] > longest:
        timing[0]["start"] = timing[0]["end"] - longest
    for i in range(1, len(timing)):
        item = timing[i]
        if item["end"] - item["start"] > longest:
            if item["word"] in SENTENCE_END_MARKS:
                item["end"] = item["start"] + longest
            elif timing[i - 1]["word"] in SENTENCE_END_MARKS:
                item["start"] = item["end"] - longest


#: Mel frames a second (a hop of 160 samples at 16 kHz).
FRAMES_PER_SECOND = 100
SAMPLE_RATE = 16000


class _Recording:
    """The CTranslate2 model, keeping what ``generate`` was given and gave back."""

    def __init__(self, model: Any) -> None:
        self._model = model
        self.encoder_output: Any = None
        self.results: list[Any] = []

    def generate(self, encoder_output: Any, *args: Any, **kwargs: Any) -> Any:
        self.encoder_output = encoder_output
        self.results = self._model.generate(encoder_output, *args, **kwargs)
        return self.results

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


class WordTimer:
    """Aligns each batch WhisperX generates, right after it is generated (while its encoder
    output is at hand), and keeps the words of every chunk in order.

    ``chunk_bounds()`` gives the VAD chunks (``start``/``end`` seconds) of the audio being
    transcribed; WhisperX feeds them to the model in that order.
    """

    def __init__(self, chunk_bounds: Any) -> None:
        self._chunk_bounds = chunk_bounds
        self.chunk_words: list[list[TimedWord]] = []

    def reset(self) -> None:
        self.chunk_words = []

    def recording(self, model: Any) -> _Recording:
        return _Recording(model)

    def align_batch(self, recording: _Recording, ctranslate2_model: Any, tokenizer: Any) -> None:
        tokens = [
            [token for token in result.sequences_ids[0] if token < tokenizer.eot]
            for result in recording.results
        ]
        first = len(self.chunk_words)
        chunks = list(self._chunk_bounds())[first : first + len(tokens)]
        frames = [
            (int(c["end"] * SAMPLE_RATE) - int(c["start"] * SAMPLE_RATE))
            * FRAMES_PER_SECOND
            // SAMPLE_RATE
            for c in chunks
        ]
        frames += [30 * FRAMES_PER_SECOND] * (len(tokens) - len(frames))  # never: one per chunk
        self.chunk_words.extend(
            align_words(ctranslate2_model, tokenizer, recording.encoder_output, tokens, frames)
        )

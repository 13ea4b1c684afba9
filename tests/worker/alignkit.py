"""A tiny wav2vec2 CTC alignment model made on the spot (random weights): no alignment
model can be downloaded here, and none ships in a package. It exercises the WhisperX
alignment path end to end; its word times are not meant to be right."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

LETTERS = "abcdefghijklmnopqrstuvwxyz'"


def make_alignment_model(folder: Path) -> Path:
    import torch

    hf: Any = importlib.import_module("transformers")  # untyped; imported only here

    folder.mkdir(parents=True, exist_ok=True)
    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, "|": 4}
    vocab.update({letter: 5 + i for i, letter in enumerate(LETTERS)})
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    tokenizer = hf.Wav2Vec2CTCTokenizer(str(folder / "vocab.json"), word_delimiter_token="|")
    extractor = hf.Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True
    )
    hf.Wav2Vec2Processor(feature_extractor=extractor, tokenizer=tokenizer).save_pretrained(folder)
    config = hf.Wav2Vec2Config(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=64, conv_dim=(32, 32, 32), conv_stride=(5, 4, 16),
        conv_kernel=(10, 4, 16), num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
        pad_token_id=0,
    )  # fmt: skip
    torch.manual_seed(0)
    hf.Wav2Vec2ForCTC(config).save_pretrained(folder)
    return folder

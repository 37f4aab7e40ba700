"""A deterministic stand-in for ``UnifiedModel``: no GGUF, no threads, microseconds per call.

Embeddings are a hashed bag of words, so texts that share words are close and search tests
behave like a (very plain) semantic search. Replies are scripted or echo the question.

>>> model = FakeModel(reply="Sixty days [1].")
>>> "".join(model.chat_stream([]))
'Sixty days [1].'
>>> float(model.embed_query("notice period") @ model.embed_query("the notice period"))  > 0.8
True
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence

import numpy as np

from core.cancel import Cancelled, CancelToken
from core.models.interface import ChatMessage, GenerationSettings, ModelProfile, TextModel

_WORD = re.compile(r"\w+")
_TOKEN = re.compile(r"\w+|[^\w\s]")
_PIECE = re.compile(r"\S+\s*|\s+")

# Words too common to say what a text is about; hashing them would make everything alike.
_STOPWORDS = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in", "is",
    "it", "its", "of", "on", "or", "that", "the", "this", "to", "was", "were", "will", "with",
))

# Texts with no word in common meet only through hash collisions (|cosine| about 0.2 at 64
# dimensions); the floor keeps those out of meaning-only results, as a real profile would.
FAKE_PROFILE = ModelProfile(name="fake", pooling="mean", causal=True, dense_weight=1.0,
                            min_similarity=0.35)


class FakeModel(TextModel):
    """``reply`` is what chat answers; None echoes the last user message."""

    def __init__(self, reply: str | None = None, *, dim: int = 64, n_ctx: int = 2048,
                 embed_max_tokens: int = 512) -> None:
        self.reply = reply
        self.dim = dim
        self.n_ctx = n_ctx
        self.embed_max_tokens = embed_max_tokens
        self.model_id = f"fake-bow-{dim}"
        self.profile = FAKE_PROFILE
        #: How many document texts were embedded so far (tests check reuse of vectors).
        self.embedded_texts = 0
        #: How many (prompt, continuation) pairs were scored so far.
        self.scored_pairs = 0
        #: What ``complete_line`` names as the answer (None: "not stated"), and its prompts.
        self.named: str | None = None
        self.completed_prompts: list[str] = []
        self.closed = False

    def count_tokens(self, text: str) -> int:
        return len(_TOKEN.findall(text))

    def embed_batch(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        if not query:
            self.embedded_texts += len(texts)
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            vectors[row] = self._bag_of_words(text)
        return vectors

    def chat_stream(
        self,
        messages: Sequence[ChatMessage],
        settings: GenerationSettings | None = None,
        cancel: CancelToken | None = None,
    ) -> Iterator[str]:
        settings = settings or GenerationSettings()
        text = self.reply if self.reply is not None else _last_user_message(messages)
        for stop in settings.stop:
            if stop and stop in text:
                text = text[: text.index(stop)]
        for piece in _PIECE.findall(text)[: settings.max_tokens]:
            if cancel is not None and cancel.cancelled:
                return
            yield piece

    can_score = True

    def continuation_logprobs(
        self, pairs: Sequence[tuple[str, str]], cancel: CancelToken | None = None
    ) -> list[np.ndarray]:
        """A token the prompt already holds is likely (-1), any other unlikely (-4): a prompt
        that shares the continuation's words explains it, as a real model's reading does."""
        self.scored_pairs += len(pairs)
        if cancel is not None and cancel.cancelled:
            raise Cancelled()
        rows = []
        for prompt, continuation in pairs:
            seen = {w.lower() for w in _TOKEN.findall(prompt)}
            rows.append(np.array([-1.0 if t.lower() in seen else -4.0
                                  for t in _TOKEN.findall(continuation)] or [-4.0],
                                 dtype=np.float32))
        return rows

    def complete_line(self, prompt: str, max_tokens: int = 16,
                      cancel: CancelToken | None = None) -> str:
        """``named``, or "not stated": the fake cannot tell what answers."""
        self.completed_prompts.append(prompt)
        return f" {self.named}" if self.named is not None else " not stated"

    def close(self) -> None:
        self.closed = True

    def _bag_of_words(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dim, dtype=np.float32)
        words = _WORD.findall(text.lower())[: self.embed_max_tokens]
        for word in (w for w in words if w not in _STOPWORDS):
            digest = hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest()
            # A signed bucket: two words that collide cancel as often as they add up.
            sign = 1.0 if digest[4] & 1 else -1.0
            vector[int.from_bytes(digest[:4], "little") % self.dim] += sign
        norm = float(np.linalg.norm(vector))
        if norm == 0.0:  # nothing to hash: a fixed unit vector, never NaN
            vector[0] = 1.0
            return vector
        return vector / norm


def _last_user_message(messages: Sequence[ChatMessage]) -> str:
    return next((m.content for m in reversed(messages) if m.role == "user"), "")

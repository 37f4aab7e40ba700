"""``PairedModel``: one model embeds, another writes answers.

For machines where the unified model is too weak for search, a small sentence encoder
(all-MiniLM-L6-v2 and friends, run by llama.cpp) can take the embed role while the unified
model keeps chat. Everything search and indexing see comes from the embedder: vectors,
``model_id`` (so its vectors go into a table of their own and never mix with another
model's), ``dim``, ``profile`` and the token counts that size chunks. Answers come from the
chat model, within its context ``n_ctx``.

    paired = PairedModel(embedder=UnifiedModel.load(minilm), chat=UnifiedModel.load(gemma))
    vectors = paired.embed_documents(["first chunk"])          # MiniLM (its embed_batch)
    reply = "".join(paired.chat_stream(messages))              # gemma
    paired.close()                                             # frees both
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager

import numpy as np

from core.cancel import CancelToken, PassInterrupt
from core.models.interface import (
    ChatMessage,
    ChatModel,
    Embedder,
    GenerationSettings,
    TextModel,
)


class PairedModel(TextModel):
    """Embeds with ``embedder`` and chats with ``chat``; owns both and closes both."""

    def __init__(self, embedder: Embedder, chat: ChatModel) -> None:
        self.embedder = embedder
        self.chat = chat
        self.model_id = embedder.model_id
        self.dim = embedder.dim
        self.profile = embedder.profile
        self.embed_max_tokens = embedder.embed_max_tokens
        self.vector_source = embedder.vector_source
        self.n_ctx = chat.n_ctx
        self.can_score = chat.can_score
        self.n_params = chat.n_params
        self.reader_head = chat.reader_head

    def count_tokens(self, text: str) -> int:
        # Chunks are sized by this and read by the embedder, so they must fit its window.
        # Answer sources are trimmed by it too; the chat model checks its own prompt length.
        return self.embedder.count_tokens(text)

    def embed_batch(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        return self.embedder.embed_batch(texts, query=query)

    def embed_in_context(self, pieces: Sequence[str]) -> np.ndarray:
        return self.embedder.embed_in_context(pieces)

    def preemptible(self, interrupt: PassInterrupt) -> AbstractContextManager[None]:
        return self.embedder.preemptible(interrupt)

    def chat_stream(
        self,
        messages: Sequence[ChatMessage],
        settings: GenerationSettings | None = None,
        cancel: CancelToken | None = None,
    ) -> Iterator[str]:
        return self.chat.chat_stream(messages, settings, cancel)

    def continuation_logprobs(
        self, pairs: Sequence[tuple[str, str]], cancel: CancelToken | None = None
    ) -> list[np.ndarray]:
        return self.chat.continuation_logprobs(pairs, cancel)

    def read_continuations(
        self, pairs: Sequence[tuple[str, str]], cancel: CancelToken | None = None
    ) -> tuple[list[np.ndarray], np.ndarray | None]:
        return self.chat.read_continuations(pairs, cancel)

    def complete_line(self, prompt: str, max_tokens: int = 16,
                      cancel: CancelToken | None = None) -> str:
        return self.chat.complete_line(prompt, max_tokens, cancel)

    def close(self) -> None:
        try:
            self.embedder.close()
        finally:
            self.chat.close()

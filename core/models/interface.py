"""The model interfaces every part of core talks to, one per role.

One GGUF, two modes: *embed mode* (``Embedder``) turns text into L2-normalised vectors;
*chat mode* (``ChatModel``) streams a reply. ``TextModel`` is both, which
``UnifiedModel`` (in ``core.models.llama.unified``) implements with llama.cpp; tests use a
deterministic fake with the same interface.

Usage::

    model = UnifiedModel.load(path)
    vectors = model.embed_documents(["first chunk", "second chunk"])   # (2, dim) float32
    query = model.embed_query("what is due in 60 days?")               # (dim,) float32
    for piece in model.chat_stream([ChatMessage("user", "Hello")]):
        print(piece, end="")
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from core.cancel import CancelToken, PassInterrupt
from core.models.reader_head import ReaderHead

Item = TypeVar("Item")


@dataclass(frozen=True)
class ChatMessage:
    role: str  # "system", "user" or "assistant"
    content: str


@dataclass(frozen=True)
class ModelProfile:
    """How a model family is used in each mode; chosen from the GGUF's metadata and vocabulary.

    ``dense_weight`` is the weight of the meaning-based ranking in hybrid search relative to
    keyword ranking (1.0 = equal). It follows measurement: a weak embedder gets a small weight
    so hybrid is never worse than keywords alone (a trained embed head brings its own,
    ``HeadSpec.fusion``). ``min_similarity`` is
    the floor for passages only the meaning side found.
    """

    name: str  # "grit", "generic" or "encoder"
    pooling: str = "mean"  # "mean", "last" or "model" (the model's own, in llama.cpp)
    causal: bool = True  # attention in embed mode
    query_instruction: str = ""
    document_prefix: str = ""
    query_prefix: str = ""
    dense_weight: float = 1.0
    #: Cosine similarity below which a passage found only by meaning is not shown.
    min_similarity: float = 0.0
    #: Where the vector comes from, as a fraction of the model's blocks: 1.0 is the final
    #: norm; less takes the output of an inner block (an untrained decoder's late-middle
    #: layers hold more meaning than its last ones). Resolved at load into ``embed_layer``.
    embed_depth: float = 1.0
    #: The block whose output is pooled (-1: the final norm); set at load from
    #: ``embed_depth`` unless given.
    embed_layer: int = -1
    #: Subtract the model's common direction (estimated at load from built-in reference text
    #: embedded the same way) before normalising: raw decoder vectors all point one way.
    centred: bool = False
    #: The tag of a trained head (``core.models.embed_head``) that maps the pooled block to the
    #: vector instead of centring; set at load for a model Kenning has trained one for.
    embed_head: str = ""
    #: At most this many passages found only by meaning join a hybrid result.
    dense_only: int = 10
    #: Scale ``dense_weight`` per query by how far the meaning side agrees with the keywords
    #: (``core.search.fusion.query_dense_weight``): for an embedder that is good on some queries and
    #: lost on others, which the agreement tells apart.
    weight_by_agreement: bool = False
    #: Writes text too (chat mode and the reader's scoring); False for an embedding-only
    #: model such as a sentence encoder.
    chats: bool = True
    #: Pool over the text's tokens only, never the format tokens around it (a model trained to
    #: embed that way; recipes reading an inner block do so too, see ``pools_text_only``).
    text_tokens_only: bool = False

    @property
    def pools_in_model(self) -> bool:
        """llama.cpp pools with the model's own rule (``pooling="model"``): no hidden rows are
        read, so no inner block or text-only span applies."""
        return self.pooling == "model"


@dataclass(frozen=True)
class GenerationSettings:
    max_tokens: int = 256
    temperature: float = 0.2
    top_p: float = 0.9
    repeat_penalty: float = 1.15
    stop: tuple[str, ...] = ()


class Embedder(ABC):
    """A model in embed mode: text in, L2-normalised vectors out. One abstract batch method,
    ``embed_batch``; documents, queries and pieces read in context are built on it. Not
    thread-safe: one thread owns it."""

    #: Stable identifier of the weights and embedding recipe; vectors carry it.
    model_id: str
    #: Embedding dimension.
    dim: int
    #: Longest text ``embed_documents`` reads whole (tokens); longer text is cut to this.
    #: Chunkers size chunks by it.
    embed_max_tokens: int
    profile: ModelProfile
    #: The GGUF file that makes this model's vectors, recorded beside them so a later run
    #: can load it again to search them (empty: no file can).
    vector_source: str = ""

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """How many model tokens ``text`` takes (no special tokens)."""

    @abstractmethod
    def embed_batch(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        """Vectors for ``texts``: shape (len(texts), dim), float32, L2-normalised; ``query``
        embeds them as search queries (with the profile's query instruction), else as
        document chunks."""

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for document chunks: shape (len(texts), dim)."""
        return self.embed_batch(texts)

    def embed_query(self, text: str) -> np.ndarray:
        """The vector of one search query: shape (dim,)."""
        return self.embed_batch([text], query=True)[0]

    def embed_in_context(self, pieces: Sequence[str]) -> np.ndarray:
        """Vectors for consecutive pieces of one document, like ``embed_documents``, but each
        piece read after the pieces before it (late chunking): neighbouring pieces run as one
        text up to ``embed_max_tokens`` and each vector is pooled over its own piece's tokens.
        Models that cannot pool a span of a longer text embed each piece alone."""
        return self.embed_documents(pieces)

    def preemptible(self, interrupt: PassInterrupt) -> AbstractContextManager[None]:
        """Within this, an embedding pass stops with ``Preempted`` soon after ``interrupt``
        is set (the caller runs it again later). Models that cannot stop a pass part-way
        finish it."""
        return nullcontext()

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free native resources. The default holds none."""


class ChatModel(ABC):
    """A model in chat mode: writes replies and, when ``can_score``, scores continuations
    (how the reader reads). Not thread-safe: one thread owns it."""

    #: Context length the model runs with (tokens).
    n_ctx: int
    #: Whether ``continuation_logprobs`` works (the reader needs it).
    can_score: bool = False
    #: Parameters of the model that writes and reads (0: unknown).
    n_params: int = 0
    #: The reader Kenning trained on this model's inner states (``core.models.reader_head``);
    #: None: the reader uses its own weights.
    reader_head: ReaderHead | None = None

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """How many model tokens ``text`` takes (no special tokens)."""

    @abstractmethod
    def chat_stream(
        self,
        messages: Sequence[ChatMessage],
        settings: GenerationSettings | None = None,
        cancel: CancelToken | None = None,
    ) -> Iterator[str]:
        """Stream the reply to ``messages`` piece by piece; stops at a stop string, the token
        limit, end of generation or when ``cancel`` is set."""

    def continuation_logprobs(
        self, pairs: Sequence[tuple[str, str]], cancel: CancelToken | None = None
    ) -> list[np.ndarray]:
        """For each (prompt, continuation), the log-probability of each continuation token
        given the prompt and the tokens of the continuation before it: how the reader scores
        candidate sentences. Raises ``Cancelled`` when ``cancel`` is set part-way."""
        raise NotImplementedError(f"{type(self).__name__} cannot score text")

    def read_continuations(
        self, pairs: Sequence[tuple[str, str]], cancel: CancelToken | None = None
    ) -> tuple[list[np.ndarray], np.ndarray | None]:
        """``continuation_logprobs``, and with a ``reader_head`` each pair's inner states for
        it from the same passes (pairs × the head's state width); None without one."""
        return self.continuation_logprobs(pairs, cancel), None

    def complete_line(self, prompt: str, max_tokens: int = 16,
                      cancel: CancelToken | None = None) -> str:
        """The most likely continuation of the plain text ``prompt`` (no chat turns) up to the
        end of its line, at most ``max_tokens`` tokens: how the reader asks a base model to
        name the answer in a quote, after a few worked examples. Works when ``can_score``."""
        raise NotImplementedError(f"{type(self).__name__} cannot continue text")

    def close(self) -> None:  # noqa: B027 - optional hook
        """Free native resources. The default holds none."""


class TextModel(Embedder, ChatModel):
    """Both roles in one object: the unified model (one GGUF in its two modes), and what
    stands for one (a separate embedder paired with a chat model, a worker's client). Search
    and indexing need only the ``Embedder`` side; answers use both."""


def runs_within(items: Iterable[Item], cost: Callable[[Item], int],
                budget: int) -> Iterator[list[Item]]:
    """Consecutive runs of ``items`` whose costs add up to at most ``budget`` (an item that
    alone exceeds it is a run of its own): how texts are packed into model passes."""
    run: list[Item] = []
    used = 0
    for item in items:
        size = cost(item)
        if run and used + size > budget:
            yield run
            run, used = [], 0
        run.append(item)
        used += size
    if run:
        yield run

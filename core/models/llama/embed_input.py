"""The token sequences ``UnifiedModel`` embeds: special tokens, task prefix, text, and the span
of them each vector is pooled over.

Split from ``core.models.llama.unified`` to keep modules small. What goes into a sequence needs only
the vocabulary and the embed window, not a context or the weights, so it is a plain builder
that the model calls; whether the specials are pooled depends on the model's recipe, which can
change while the model is loading, so the model says so on each call.

    inputs = EmbedInputBuilder(vocab, max_tokens=512)
    item = inputs.single("first chunk", prefix, text_only=False)
    runs = inputs.context_runs(["first piece", "second piece"], prefix, text_only=False)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import llama_cpp

from core.models.interface import ModelProfile
from core.models.llama.bindings import tokenize


@dataclass(frozen=True)
class EmbedInput:
    tokens: list[int]
    start: int  # pooled span [start, end) inside tokens
    end: int
    #: Late chunking: the pooled span of each piece inside tokens, one vector per piece
    #: (empty: one vector, pooled over [start, end)).
    pieces: tuple[tuple[int, int], ...] = ()

    @property
    def spans(self) -> tuple[tuple[int, int], ...]:
        return self.pieces or ((self.start, self.end),)


def pools_text_only(profile: ModelProfile, reads_inner_layer: bool) -> bool:
    """Whether a vector is pooled over the text alone rather than every token."""
    # GRIT and inner-layer recipes pool the text only: BOS rows inside the model are
    # huge outliers that every text shares. The generic recipe (as measured) and
    # encoders pool every token, specials included.
    return profile.text_tokens_only or reads_inner_layer


def special_wrapping(vocab: llama_cpp.llama_vocab_p) -> tuple[list[int], list[int]]:
    """The special tokens the vocabulary puts before and after a text (BOS; CLS/SEP)."""
    plain = tokenize(vocab, "a", add_special=False, parse_special=False)
    full = tokenize(vocab, "a", add_special=True, parse_special=False)
    for start in range(len(full) - len(plain) + 1):
        if full[start: start + len(plain)] == plain:
            return full[:start], full[start + len(plain):]
    return full[:1], []


class EmbedInputBuilder:
    """Builds :class:`EmbedInput` sequences no longer than ``max_tokens`` (the embed window)."""

    def __init__(self, vocab: llama_cpp.llama_vocab_p, max_tokens: int) -> None:
        self._vocab = vocab
        self.max_tokens = max_tokens
        self.special_head, self.special_tail = special_wrapping(vocab)

    def single(self, text: str, prefix: str, text_only: bool) -> EmbedInput:
        """One text as one sequence, cut to the window; one vector."""
        head, tail = self._head(prefix), list(self.special_tail)
        body = self._body(text, self.max_tokens - len(head) - len(tail))
        tokens = (head + body + tail)[: self.max_tokens]
        if text_only:
            return EmbedInput(tokens, len(head), min(len(head) + len(body), len(tokens)))
        return EmbedInput(tokens, 0, len(tokens))

    def context_runs(self, pieces: Sequence[str], prefix: str,
                     text_only: bool) -> list[EmbedInput]:
        """Consecutive ``pieces`` as few sequences as fit the embed window, each piece's span
        marked; a piece that does not fit after the others starts the next sequence."""
        head, tail = self._head(prefix), list(self.special_tail)
        room = self.max_tokens - len(head) - len(tail)
        gap = tokenize(self._vocab, "\n\n", add_special=False, parse_special=False)
        runs: list[EmbedInput] = []
        body: list[int] = []
        spans: list[tuple[int, int]] = []

        def close_run() -> None:
            tokens = head + body + tail
            marked = [(len(head) + start, len(head) + end) for start, end in spans]
            if not text_only:  # as single(): the specials join the ends
                marked[0] = (0, marked[0][1])
                marked[-1] = (marked[-1][0], len(tokens))
            runs.append(EmbedInput(tokens, marked[0][0], marked[-1][1], tuple(marked)))

        for text in pieces:
            piece = self._body(text, room)
            if spans and len(body) + len(gap) + len(piece) > room:
                close_run()
                body, spans = [], []
            if spans:
                body += gap  # read between pieces, pooled by neither
            spans.append((len(body), len(body) + len(piece)))
            body += piece
        if spans:
            close_run()
        return runs

    def _head(self, prefix: str) -> list[int]:
        head = list(self.special_head)
        if prefix:
            head += tokenize(self._vocab, prefix, add_special=False, parse_special=True)
        return head

    def _body(self, text: str, room: int) -> list[int]:
        # Document text is never parsed for special tokens: a file cannot inject markers.
        body = tokenize(self._vocab, text, add_special=False, parse_special=False)
        body = body or tokenize(self._vocab, " ", add_special=False, parse_special=False)
        return body[: max(1, room)]

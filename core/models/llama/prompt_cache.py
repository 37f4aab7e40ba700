"""The KV state of the opening that answer prompts share, kept between answers.

Every answer prompt starts the same way (the instructions, and in a follow-up the earlier
turns), so evaluating that opening again for each question is wasted time before the first
token. After two prompts have shown what they share, its state is saved once
(``llama_state_seq_get_data``) and restored for every later prompt that starts with it.
A saved state rather than a trimmed cache: a sliding-window model (gemma-3) keeps only its
window of positions, so a cache cannot be cut back to an opening it has already forgotten.

    cache = PromptPrefixCache()
    start = cache.restore(ctx, prompt)      # tokens already in the context (0: none)
    if not start and (shared := cache.shared_opening(prompt)):
        feed(prompt[:shared]); cache.save(ctx, prompt[:shared]); start = shared
    cache.remember(prompt)
    feed(prompt[start:], position=start)
"""

from __future__ import annotations

from typing import Any

import llama_cpp

from core.models.llama.bindings import sequence_state

#: Shorter openings are not worth a saved state.
MIN_SHARED_TOKENS = 32
_SEQUENCE = 0


class PromptPrefixCache:
    def __init__(self) -> None:
        self._previous: list[int] = []
        self._tokens: list[int] = []
        self._state: Any = None

    def restore(self, context: Any, prompt: list[int]) -> int:
        """Load the saved opening into the (cleared) ``context`` when ``prompt`` starts with it
        and goes on past it; returns how many prompt tokens are then in the context."""
        size = len(self._tokens)
        if not size or len(prompt) <= size or prompt[:size] != self._tokens:
            return 0
        loaded = llama_cpp.llama_state_seq_set_data(
            context, self._state, len(self._state), _SEQUENCE)
        if loaded == 0:  # refused (another model or build): evaluate from the start
            self._tokens, self._state = [], None
            return 0
        return size

    def shared_opening(self, prompt: list[int]) -> int:
        """How many leading tokens ``prompt`` shares with the one before (0 when too few to
        be worth saving); at least one token is always left to evaluate."""
        shared = 0
        for mine, theirs in zip(prompt, self._previous, strict=False):
            if mine != theirs:
                break
            shared += 1
        shared = min(shared, len(prompt) - 1)
        return shared if shared >= MIN_SHARED_TOKENS else 0

    def save(self, context: Any, opening: list[int]) -> None:
        """Keep the state of ``context``, which holds exactly ``opening``."""
        state = sequence_state(context, _SEQUENCE)
        if state is None:
            return
        self._tokens, self._state = list(opening), state

    def remember(self, prompt: list[int]) -> None:
        self._previous = list(prompt)

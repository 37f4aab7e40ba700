"""``ChatRunner``: the chat half of ``UnifiedModel``, a chat context and the loop that writes
a reply in it.

Split from ``unified`` to keep modules small. Composition rather than a mixin: chat
shares only the loaded weights with embedding, and nothing else (not the preemption flag, which
stops background embedding passes only; not a lock, since one worker thread owns the model).
The runner therefore takes the vocabulary and the model's facts, and two callables from
``UnifiedModel`` that build a context the way embedding does (thread counts, and the error that
says what to do when llama.cpp cannot make one), so both contexts fail alike.

    runner = ChatRunner(vocab=vocab, facts=facts, n_ctx=4096,
                        context_params=model._context_params, new_context=model._new_context)
    for piece in runner.stream([ChatMessage("user", "Hello")]):
        print(piece, end="")
    runner.close()  # before the weights are freed
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import llama_cpp

from core.cancel import CancelToken
from core.models.interface import ChatMessage, GenerationSettings
from core.models.llama.bindings import TokenBatch, clear_memory, new_sampler, token_piece, tokenize
from core.models.llama.gguf_info import ModelFacts, StopScanner, chat_prompt, default_stops
from core.models.llama.prompt_cache import PromptPrefixCache

_CHAT_BATCH = 512


class ChatRunner:
    """Replies from one loaded GGUF; frees its context on :meth:`close`, not its weights."""

    def __init__(self, *, vocab: Any, facts: ModelFacts, n_ctx: int,
                 context_params: Callable[[int, int], Any],
                 new_context: Callable[[Any, str], Any]) -> None:
        self.facts = facts
        self.n_ctx = n_ctx
        self._vocab = vocab
        self._prompt_cache = PromptPrefixCache()
        self._batch = TokenBatch(min(_CHAT_BATCH, n_ctx))
        self._ctx: Any = self._new_chat_context(context_params, new_context)

    def stream(self, messages: Sequence[ChatMessage],
               settings: GenerationSettings | None = None,
               cancel: CancelToken | None = None) -> Iterator[str]:
        """The reply to ``messages``, piece by piece. Not a generator itself, so a prompt too
        long for the context raises here rather than at the first piece."""
        settings = settings or GenerationSettings()
        prompt = self._prompt_tokens(messages)
        room = self.n_ctx - len(prompt)
        if room < 1:
            raise ValueError(f"The prompt takes {len(prompt)} tokens but the model's context "
                             f"holds {self.n_ctx}. Use fewer or shorter sources.")
        stops = tuple(s for s in (*settings.stop, *default_stops(self.facts)) if s)
        return self._generate(prompt, min(settings.max_tokens, room), settings, stops, cancel)

    def complete_line(self, prompt: str, max_tokens: int,
                      cancel: CancelToken | None = None) -> str:
        """The greedy continuation of the plain text ``prompt`` up to the end of its line (no
        chat template: a base model continues a pattern of worked examples)."""
        tokens = tokenize(self._vocab, prompt, add_special=True, parse_special=False)
        room = self.n_ctx - len(tokens)
        if room < 1:
            raise ValueError(f"The prompt takes {len(tokens)} tokens but the model's context "
                             f"holds {self.n_ctx}.")
        greedy = GenerationSettings(max_tokens=max_tokens, temperature=0.0, repeat_penalty=1.0)
        return "".join(self._generate(tokens, min(max_tokens, room), greedy, ("\n",), cancel))

    def close(self) -> None:
        if self._ctx is not None:
            llama_cpp.llama_free(self._ctx)
            self._ctx = None

    def _prompt_tokens(self, messages: Sequence[ChatMessage]) -> list[int]:
        text = chat_prompt(self.facts, messages)
        # Only turn formats need their markers read as special tokens; the plain format never
        # does, so there a source quoting "<start_of_turn>" stays plain text.
        turn_markers = self.facts.chat_format != "plain"
        tokens = tokenize(self._vocab, text, add_special=True, parse_special=turn_markers)
        bos = llama_cpp.llama_vocab_bos(self._vocab)
        if len(tokens) > 1 and tokens[0] == tokens[1] == bos:
            tokens = tokens[1:]  # the template wrote BOS and so did the tokenizer
        return tokens

    def _generate(self, prompt: list[int], budget: int, settings: GenerationSettings,
                  stops: tuple[str, ...], cancel: CancelToken | None) -> Iterator[str]:
        sampler = new_sampler(self._vocab, settings)
        try:
            clear_memory(self._ctx)
            start = self._prompt_cache.restore(self._ctx, prompt)
            if not start and (shared := self._prompt_cache.shared_opening(prompt)):
                if not self._feed(prompt[:shared], 0, cancel):
                    return
                self._prompt_cache.save(self._ctx, prompt[:shared])
                start = shared
            self._prompt_cache.remember(prompt)
            if not self._feed(prompt[start:], start, cancel):
                return
            text = StopScanner(stops)
            utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")
            position = len(prompt)
            for _ in range(budget):
                if cancel is not None and cancel.cancelled:
                    return
                token = llama_cpp.llama_sampler_sample(sampler, self._ctx, -1)
                if self._ends_reply(token):
                    break
                ready, stopped = text.push(utf8.decode(token_piece(self._vocab, token)))
                if ready:
                    yield ready
                if stopped:
                    return
                if not self._feed([token], position, cancel):
                    return
                position += 1
            rest, _ = text.push(utf8.decode(b"", final=True))
            rest += text.flush()
            if rest:
                yield rest
        finally:
            llama_cpp.llama_sampler_free(sampler)

    def _feed(self, tokens: list[int], position: int, cancel: CancelToken | None) -> bool:
        """Decode ``tokens`` into the chat context; False when cancelled first."""
        step = self._batch.capacity
        for start in range(0, len(tokens), step):
            if cancel is not None and cancel.cancelled:
                return False
            piece = tokens[start: start + step]
            last = start + step >= len(tokens)
            self._batch.fill_run(piece, position + start, last_is_output=last)
            status = llama_cpp.llama_decode(self._ctx, self._batch.batch)
            if status != 0:
                raise RuntimeError(f"llama.cpp could not read the prompt (status {status}).")
        return True

    def _ends_reply(self, token: int) -> bool:
        # Control tokens never belong in an answer; a base model emitting one has left the turn.
        attributes = llama_cpp.llama_vocab_get_attr(self._vocab, token)
        return bool(llama_cpp.llama_vocab_is_eog(self._vocab, token)
                    or attributes & llama_cpp.LLAMA_TOKEN_ATTR_CONTROL)

    def _new_chat_context(self, context_params: Callable[[int, int], Any],
                          new_context: Callable[[Any, str], Any]) -> Any:
        batch = self._batch.capacity
        params = context_params(self.n_ctx, batch)
        params.n_ubatch = batch
        params.n_seq_max = 1
        params.embeddings = False  # logits for the last prompt token only
        # Each answer starts from an empty cache, so sliding-window layers need only their
        # window, not the whole context (saves most of gemma-3's KV memory).
        params.swa_full = False
        return new_context(params, "chat")

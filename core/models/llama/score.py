"""``ContinuationScorer``: how likely a model finds each continuation after its prompt.

The reader (``core.answer.reader``) asks "how well does this sentence answer the question?" as
"how likely is the question after this sentence?", so it needs the log-probability of every
token of a short continuation given a prompt, for a dozen (prompt, continuation) pairs at a
time. Each pair is its own sequence, several go into one ``llama_decode``, and only the rows
that predict a continuation token ask for logits (a logits row is the size of the vocabulary:
1 MB for gemma-3's 262k tokens).

The context is made on first use, so a model that never reads pays nothing for it.

With ``taps`` (a trained reader's, ``core.models.reader_head``), the same passes also keep
those blocks' rows of each continuation's tokens, pooled: what the model's state was while it
read the question after the sentence. The rows are copied as llama.cpp computes them, so the
states cost no pass of their own.

With ``adapter`` (a LoRA loaded by ``bindings.load_lora``, a trained reader's), the scoring
context computes with it; the model's other contexts keep the base weights.

    scorer = ScoreRunner(vocab=vocab, context_params=model._context_params,
                         new_context=model._new_context)
    [row] = scorer.logprobs([("Notice is 60 days.\\nQuestion:", " How much notice?")])
    scorer.close()  # before the weights are freed
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import llama_cpp
import numpy as np

from core.cancel import Cancelled, CancelToken
from core.models.embed_recipe import rms_rows
from core.models.llama.bindings import (
    TokenBatch,
    clear_memory,
    copy_tensor,
    output_logits,
    tensor_name,
    tokenize,
    use_lora,
)
from core.models.reader_head import StateTap, pool_states

#: Tokens (prompt and continuation) read in one pass; a pass is the step at which a cancel is
#: seen, so it is kept short enough to stop within a fraction of a second.
_PASS_TOKENS = 512
_SEQUENCES = 16


class ScoreRunner:
    """Log-probabilities of continuations; owns a context of its own, not the weights."""

    def __init__(self, *, vocab: Any, context_params: Callable[[int, int], Any],
                 new_context: Callable[[Any, str], Any], width: int = 0,
                 taps: Sequence[StateTap] = (), adapter: Any = None) -> None:
        self._vocab = vocab
        self._adapter = adapter
        self._context_params = context_params
        self._new_context = new_context
        self._ctx: Any = None
        self._batch = TokenBatch(_PASS_TOKENS)
        self._n_vocab = int(llama_cpp.llama_vocab_n_tokens(vocab))
        self.taps = tuple(taps) if copy_tensor is not None else ()
        self._width = width
        self._tapped = {f"l_out-{t.layer}".encode(): t.layer for t in self.taps}
        self._tap_rows = {t.layer: np.zeros(_PASS_TOKENS * width, dtype=np.float32)
                          for t in self.taps}
        self._tap_values = dict.fromkeys(self._tap_rows, 0)
        # Only a tapped context has llama.cpp call back into Python at each graph node.
        self._node_callback = (llama_cpp.ggml_backend_sched_eval_callback(self._on_graph_node)
                               if self.taps else None)

    def logprobs(self, pairs: Sequence[tuple[str, str]],
                 cancel: CancelToken | None = None) -> list[np.ndarray]:
        """For each (prompt, continuation), the log-probability of each continuation token
        given the prompt and the continuation tokens before it. A pair too long for one pass
        keeps the end of its prompt (the words nearest the continuation)."""
        return self.read(pairs, cancel)[0]

    def read(self, pairs: Sequence[tuple[str, str]], cancel: CancelToken | None = None
             ) -> tuple[list[np.ndarray], np.ndarray | None]:
        """``logprobs``, and with ``taps`` each pair's pooled states (pairs × the taps' width;
        None without taps)."""
        sequences: list[tuple[list[int], int]] = []
        for prompt, continuation in pairs:
            head = tokenize(self._vocab, prompt, add_special=True, parse_special=False)
            tail = tokenize(self._vocab, continuation, add_special=False, parse_special=False)
            tail = tail[: _PASS_TOKENS // 2] or [llama_cpp.llama_vocab_eos(self._vocab)]
            head = head[-(_PASS_TOKENS - len(tail)):]
            sequences.append((head + tail, len(head)))
        results: list[np.ndarray] = [np.zeros(0, dtype=np.float32)] * len(sequences)
        states = (np.zeros((len(sequences), self._width * len(self.taps)), dtype=np.float32)
                  if self.taps else None)
        group: list[int] = []
        used = 0
        for index, (tokens, _) in enumerate(sequences):
            if group and (used + len(tokens) > _PASS_TOKENS or len(group) == _SEQUENCES):
                self._score_group(sequences, group, results, states, cancel)
                group, used = [], 0
            group.append(index)
            used += len(tokens)
        if group:
            self._score_group(sequences, group, results, states, cancel)
        return results, states

    def _score_group(self, sequences: list[tuple[list[int], int]], group: list[int],
                     results: list[np.ndarray], states: np.ndarray | None,
                     cancel: CancelToken | None) -> None:
        if cancel is not None and cancel.cancelled:
            raise Cancelled()
        if self._ctx is None:
            self._ctx = self._new_score_context()
        chosen = [sequences[i] for i in group]
        total = self._batch.fill_sequences([tokens for tokens, _ in chosen])
        # The row at position p predicts the token at p + 1: the rows from the last prompt
        # token to the one before the last continuation token.
        self._batch.outputs[:total] = 0
        offset = 0
        for tokens, prompt_length in chosen:
            self._batch.outputs[offset + prompt_length - 1: offset + len(tokens) - 1] = 1
            offset += len(tokens)
        clear_memory(self._ctx)
        for layer in self._tap_values:
            self._tap_values[layer] = 0
        status = llama_cpp.llama_decode(self._ctx, self._batch.batch)
        if status != 0:
            raise RuntimeError(f"llama.cpp could not read {total} tokens to score them "
                               f"(status {status}).")
        if states is not None:
            states[group] = self._pooled_states(chosen, total)
        rows = int(self._batch.outputs[:total].sum())
        logits = output_logits(self._ctx, rows, self._n_vocab)
        targets = np.concatenate([np.asarray(tokens[length:], dtype=np.int64)
                                  for tokens, length in chosen])
        top = logits.max(axis=1)
        normaliser = top + np.log(np.exp(logits - top[:, None]).sum(axis=1))
        picked = logits[np.arange(rows), targets] - normaliser
        row = 0
        for index, (tokens, length) in zip(group, chosen, strict=True):
            count = len(tokens) - length
            results[index] = picked[row: row + count].astype(np.float32)
            row += count

    def _pooled_states(self, chosen: list[tuple[list[int], int]], total: int) -> np.ndarray:
        if any(values < total * self._width for values in self._tap_values.values()):
            raise RuntimeError("llama.cpp did not hand over the reader's inner rows.")
        rows = {layer: rms_rows(buffer[: total * self._width].reshape(total, self._width))
                for layer, buffer in self._tap_rows.items()}
        spans = []
        offset = 0
        for tokens, prompt_length in chosen:
            spans.append((offset + prompt_length, offset + len(tokens)))
            offset += len(tokens)
        return pool_states(rows, spans, self.taps)

    def _on_graph_node(self, tensor: int, ask: bool, _user_data: int) -> bool:
        # ask=True: "do you want to see this node?"; ask=False: "it is computed; go on?"
        if ask:
            return tensor_name(tensor) in self._tapped
        layer = self._tapped[tensor_name(tensor)]
        if copy_tensor is not None:
            self._tap_values[layer] = copy_tensor(tensor, self._tap_rows[layer])
        return True  # the later blocks and the logits are still to come

    def _new_score_context(self) -> Any:
        params = self._context_params(_PASS_TOKENS, _PASS_TOKENS)
        params.n_ubatch = _PASS_TOKENS
        params.n_seq_max = _SEQUENCES
        params.kv_unified = True  # sequences differ in length
        params.embeddings = False
        params.swa_full = False
        if self._node_callback is not None:
            params.cb_eval = self._node_callback
        context = self._new_context(params, "reading")
        try:
            if self._adapter is not None:
                use_lora(context, self._adapter)
        except BaseException:
            llama_cpp.llama_free(context)
            raise
        return context

    def close(self) -> None:
        if self._ctx is not None:
            llama_cpp.llama_free(self._ctx)
            self._ctx = None

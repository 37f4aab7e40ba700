"""``UnifiedModel``: one GGUF loaded once through llama.cpp, used to embed and to chat.

The weights are loaded a single time (``llama_model_load_from_file``). Two contexts share
them: an *embed* context (embeddings on, several texts per ``llama_decode``) and a *chat*
context (embeddings off, so a prompt computes logits for its last token only). The chat
context and the loop that writes a reply live in ``chat``, and the token sequences
the embed context is given are built by ``embed_input``; this class owns the weights and
the contexts.

Why the embed context pools by itself instead of asking llama.cpp for MEAN pooling: in
embedding mode llama.cpp runs the vocabulary projection (lm_head) on every token, and for
gemma-3-270m (262k vocabulary) that is more work than the rest of the model. The embed
context therefore asks for per-token rows (pooling NONE) and stops the graph right after the
final norm through the scheduler's eval callback; a self-check at load proves the rows match
a full run, and turns the shortcut off if they ever do not.

    model = UnifiedModel.load(path)
    vectors = model.embed_documents(["first chunk", "second chunk"])
    for piece in model.chat_stream([ChatMessage("user", "Hello")]):
        print(piece, end="")
    model.close()
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import llama_cpp
import numpy as np

from core.cancel import CancelToken, PassInterrupt, Preempted
from core.models.embed_head import EmbedHead, EmbedHeadError, head_by_tag
from core.models.embed_recipe import (
    CENTRE_REFERENCE,
    cached_centre,
    normalise_rows,
    resolve_layer,
    rms_rows,
)
from core.models.interface import ChatMessage, GenerationSettings, ModelProfile, TextModel
from core.models.llama.bindings import (
    CAN_READ_TENSOR_NAMES,
    DECODE_ABORTED,
    TokenBatch,
    clear_memory,
    copy_tensor,
    default_thread_count,
    load_lora,
    model_params,
    output_embeddings,
    route_llama_logs,
    sequence_embedding,
    stop_passes_when,
    tensor_name,
    tokenize,
    use_lora,
)
from core.models.llama.chat import ChatRunner
from core.models.llama.embed_input import EmbedInput, EmbedInputBuilder, pools_text_only
from core.models.llama.gguf_info import ModelFacts, detect_profile, read_facts
from core.models.llama.prepared_weights import discard, prepared_weights
from core.models.llama.score import ScoreRunner
from core.models.profiles import without_trained_head
from core.models.reader_head import ReaderHead, reader_head_for

log = logging.getLogger(__name__)

# llama.cpp names the pooled output so; with pooling NONE it is the final-norm token rows.
_EMBED_NODE = b"result_embd_pooled"
_MAX_SEQUENCES = 64


class ModelLoadError(RuntimeError):
    """The GGUF could not be loaded; the message says why and what to do."""


def _load_head(tag: str, path: Path) -> EmbedHead:
    """The trained head ``tag``; ``EmbedHeadError`` (a broken install, not a bad model file)
    when Kenning has none of that name or its file is missing or changed."""
    spec = head_by_tag(tag)
    if spec is None:
        raise EmbedHeadError(f"Kenning has no trained search head named {tag} for "
                             f"{path.name}. Reinstall Kenning to restore it.")
    return EmbedHead.load(spec)


class UnifiedModel(TextModel):
    """A GGUF in its two modes. Build it with :meth:`load`; one thread owns it."""

    def __init__(self, *, path: Path, llama_model: Any, facts: ModelFacts,
                 profile: ModelProfile, n_threads: int, n_ctx: int,
                 embed_batch_tokens: int, cache_dir: Path | None = None,
                 trained_reader: bool | None = None,
                 reader_adapter: Path | None = None) -> None:
        self.path = path
        self.vector_source = str(path)
        self.facts = facts
        profile = resolve_layer(profile, int(llama_cpp.llama_model_n_layer(llama_model)))
        if profile.embed_layer >= 0 and copy_tensor is None:
            log.warning("This llama.cpp build cannot read inner layers; embedding from the "
                        "last layer of %s instead", path.name)
            profile = without_trained_head(profile)
        self._head: EmbedHead | None = None
        self.profile = profile
        self.model_id = facts.model_id(profile)
        self.n_threads = n_threads
        self._model = llama_model
        self._vocab = llama_cpp.llama_model_get_vocab(llama_model)
        self.dim = int(llama_cpp.llama_model_n_embd_out(llama_model))
        self.n_params = int(llama_cpp.llama_model_n_params(llama_model))
        self.n_ctx = n_ctx
        self.embed_max_tokens = embed_batch_tokens
        self._inputs = EmbedInputBuilder(self._vocab, embed_batch_tokens)
        self._special_head = self._inputs.special_head  # bench/embed_tricks.py reads it
        self._stop_after_embd = False  # switched on once the self-check passes
        self._layer_node = (f"l_out-{profile.embed_layer}".encode()
                            if profile.embed_layer >= 0 and not profile.pools_in_model else None)
        self._layer_rows = np.zeros(embed_batch_tokens * self.dim, dtype=np.float32)
        self._layer_values = 0  # how many values the tap copied in the last decode
        self._centre: np.ndarray | None = None
        self._embed_ctx: Any = None
        self._chat: ChatRunner | None = None
        self._scorer: ScoreRunner | None = None
        self._node_callback = llama_cpp.ggml_backend_sched_eval_callback(self._on_graph_node)
        try:  # from here on this object owns the weights and frees them if it fails
            if profile.embed_head:
                self._head = _load_head(profile.embed_head, path)
            self._embed_ctx = self._new_embed_context(embed_batch_tokens)
            self._pooled_by_llama = (llama_cpp.llama_pooling_type(self._embed_ctx)
                                     != llama_cpp.LLAMA_POOLING_TYPE_NONE)
            self._embed_batch = TokenBatch(embed_batch_tokens)
            if profile.chats:
                self._chat = ChatRunner(vocab=self._vocab, facts=facts, n_ctx=n_ctx,
                                        context_params=self._context_params,
                                        new_context=self._new_context)
                reader_spec = (None if trained_reader is False else
                               reader_head_for(facts.fingerprint, asked=bool(trained_reader)))
                head = ReaderHead.load(reader_spec) if reader_spec is not None else None
                self._scorer = ScoreRunner(vocab=self._vocab,
                                           context_params=self._context_params,
                                           new_context=self._new_context, width=self.dim,
                                           taps=head.spec.taps if head is not None else (),
                                           adapter=self._reader_adapter(reader_adapter))
                # Without a way to read inner blocks the head has nothing to read.
                self.reader_head = head if self._scorer.taps else None
                self.can_score = True
                self._stop_after_embd = self._early_stop_matches_full_run()
            if self._layer_node is not None and not self._layer_tap_works():
                log.warning("Block %d of %s could not be read; embedding from its last layer",
                            profile.embed_layer, path.name)
                self._layer_node = None
                self._head = None  # it was trained on that block's output
                self.profile = without_trained_head(profile)
                self.model_id = facts.model_id(self.profile)
            if self._head is not None and self._head.adapter is not None:
                self._use_embed_adapter(self._head.adapter)
            if profile.centred:
                # One sentence per decode: a load touches no more of the embed context's
                # buffers than a short text does (the memory arrives with real work).
                self._centre = cached_centre(
                    cache_dir, self.model_id, self.dim,
                    lambda: np.concatenate([
                        self._embed([self._embed_input(text, profile.document_prefix)])
                        for text in CENTRE_REFERENCE]).mean(axis=0))
        except BaseException:
            self.close()
            raise

    @classmethod
    def load(cls, path: Path | str, n_threads: int | None = None, n_ctx: int = 4096,
             embed_batch_tokens: int = 512,
             profile: ModelProfile | None = None,
             cache_dir: Path | None = None,
             trained_head: bool | None = None,
             trained_reader: bool | None = None,
             reader_adapter: Path | None = None) -> UnifiedModel:
        """Load ``path`` once; ``profile`` overrides the one detected from the GGUF.
        ``cache_dir`` keeps what a load works out about the model (its embedding centre, and
        for a small model its weights prepared for the CPU: ``prepared_weights``), so the
        next load of the same model skips that work. A detected profile takes the trained
        embed head Kenning ships for this file if it is on by default
        (``core.models.embed_head``); ``trained_head`` True takes it even when off, False never.
        ``trained_reader`` does the same for the reader Kenning trained for the file
        (``core.models.reader_head``). ``reader_adapter``: a LoRA adapter (GGUF) the reader
        scores with, on its own context only (the benches measure one with it).

        ``embed_batch_tokens`` bounds the tokens of one embedding pass, and so the longest text
        embedded whole; a decoder's embed context takes about 1 MB per batch token for a
        262k vocabulary (llama.cpp keeps a logits row per output token).
        """
        path = Path(path)
        if not path.is_file():
            raise ModelLoadError(f"The model file {path} does not exist. Choose an existing "
                                 ".gguf file in Settings, or reinstall Kenning.")
        route_llama_logs()
        llama_cpp.llama_backend_init()
        params = model_params()
        # The facts (and so the model's identity) are the chosen file's; only the weights
        # may come from its prepared copy.
        weights = prepared_weights(path, cache_dir) if cache_dir is not None else path
        llama_model = llama_cpp.llama_model_load_from_file(str(weights).encode(), params)
        if not llama_model and weights != path:
            discard(weights)
            llama_model = llama_cpp.llama_model_load_from_file(str(path).encode(), params)
        if not llama_model:
            raise ModelLoadError(f"llama.cpp could not load {path.name}: the file is damaged "
                                 "or not a GGUF model this version supports. Choose another "
                                 "model, or reinstall Kenning to restore the default one.")
        try:
            facts = read_facts(llama_model, path)
        except BaseException:
            llama_cpp.llama_model_free(llama_model)
            raise
        context = min(n_ctx, facts.n_ctx_train) if facts.n_ctx_train > 0 else n_ctx
        return cls(path=path, llama_model=llama_model, facts=facts,
                   profile=profile or detect_profile(facts, trained_head=trained_head),
                   n_threads=n_threads or default_thread_count(), n_ctx=context,
                   embed_batch_tokens=min(embed_batch_tokens, context), cache_dir=cache_dir,
                   trained_reader=trained_reader, reader_adapter=reader_adapter)

    # --- embed mode -------------------------------------------------------------------------

    def count_tokens(self, text: str) -> int:
        return len(tokenize(self._vocab, text, add_special=False, parse_special=False))

    def embed_batch(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        prefix = (self.profile.query_prefix.format(instruction=self.profile.query_instruction)
                  if query else self.profile.document_prefix)
        return self._embed([self._embed_input(text, prefix) for text in texts])

    def embed_in_context(self, pieces: Sequence[str]) -> np.ndarray:
        if self._pooled_by_llama:  # llama.cpp pools whole sequences only
            return self.embed_documents(pieces)
        return self._embed(self._inputs.context_runs(pieces, self.profile.document_prefix,
                                                     self._pools_text_only))

    def _embed_input(self, text: str, prefix: str) -> EmbedInput:
        # Kept as a method: bench/throughput_limit.py times tokenizing under this name.
        return self._inputs.single(text, prefix, self._pools_text_only)

    @property
    def _pools_text_only(self) -> bool:
        # Asked on each call: a failed layer tap at load falls back to pooling every token.
        return pools_text_only(self.profile, self._layer_node is not None)

    def _embed(self, inputs: list[EmbedInput]) -> np.ndarray:
        vectors = np.zeros((sum(len(i.spans) for i in inputs), self.dim), dtype=np.float32)
        group: list[tuple[int, EmbedInput]] = []  # each input with its first vector's row
        used = row = 0
        for item in inputs:
            full = used + len(item.tokens) > self.embed_max_tokens
            if group and (full or len(group) == self._embed_sequences):
                self._decode_group(group, vectors)
                group, used = [], 0
            group.append((row, item))
            used += len(item.tokens)
            row += len(item.spans)
        if group:
            self._decode_group(group, vectors)
        if self._head is not None:
            return self._head.apply(vectors)
        if self._centre is None:
            return normalise_rows(vectors)
        return normalise_rows(normalise_rows(vectors) - self._centre)

    def _decode_group(self, group: list[tuple[int, EmbedInput]], vectors: np.ndarray) -> None:
        total = self._embed_batch.fill_sequences([item.tokens for _, item in group])
        clear_memory(self._embed_ctx)
        self._layer_values = 0
        status = llama_cpp.llama_decode(self._embed_ctx, self._embed_batch.batch)
        if status == DECODE_ABORTED:
            raise Preempted()
        if status != 0:
            raise RuntimeError(f"llama.cpp could not embed a batch of {total} tokens "
                               f"(status {status}). Try a smaller embed batch size.")
        if self._pooled_by_llama:
            for sequence, (index, _) in enumerate(group):
                vectors[index] = sequence_embedding(self._embed_ctx, sequence, self.dim)
            return
        if self._layer_node is not None:
            if self._layer_values < total * self.dim:
                raise RuntimeError("llama.cpp did not hand over the embedding layer's rows.")
            rows = rms_rows(self._layer_rows[: total * self.dim].reshape(total, self.dim))
        else:
            rows = output_embeddings(self._embed_ctx, total, self.dim)
        offset = 0
        for first_row, item in group:
            for row, (start, end) in enumerate(item.spans, first_row):
                vectors[row] = rows[offset + start: offset + end].mean(axis=0, dtype=np.float64)
            offset += len(item.tokens)

    @contextmanager
    def preemptible(self, interrupt: PassInterrupt) -> Iterator[None]:
        stop_passes_when(self._embed_ctx, interrupt.cell)
        try:
            yield
        finally:
            stop_passes_when(self._embed_ctx, None)

    def _on_graph_node(self, tensor: int, ask: bool, _user_data: int) -> bool:
        # ask=True: "do you want to see this node?"; ask=False: "it is computed; go on?"
        if ask:
            if self._layer_node is not None:
                return tensor_name(tensor) == self._layer_node
            return self._stop_after_embd and tensor_name(tensor) == _EMBED_NODE
        if self._layer_node is not None and copy_tensor is not None:
            # The later layers are never computed.
            self._layer_values = copy_tensor(tensor, self._layer_rows)
        return False  # the rows we pool are done: skip the vocabulary projection after them

    def _layer_tap_works(self) -> bool:
        try:
            self._embed([self._embed_input("Kenning checks its embedding layer.", "")])
        except RuntimeError:
            return False
        return True

    def _early_stop_matches_full_run(self) -> bool:
        if not CAN_READ_TENSOR_NAMES or self._layer_node is not None:
            return False  # an inner layer stops the graph earlier still
        probe = [self._embed_input("Kenning checks the embedding shortcut on this line.", "")]
        full = self._embed(probe)
        self._stop_after_embd = True
        try:
            early = self._embed(probe)
        finally:
            self._stop_after_embd = False
        matches = bool(np.isfinite(early).all() and float(full[0] @ early[0]) > 0.9999)
        if not matches:
            log.warning("Embedding shortcut disabled for %s: its rows differ from a full run",
                        self.path.name)
        return matches

    # --- chat mode (core.models.llama.chat) -------------------------------------------------------

    def chat_stream(self, messages: Sequence[ChatMessage],
                    settings: GenerationSettings | None = None,
                    cancel: CancelToken | None = None) -> Iterator[str]:
        if self._chat is None:
            raise RuntimeError(f"{self.path.name} is an embedding-only model and cannot write "
                               "answers. Choose a chat-capable GGUF in Settings to use Ask.")
        return self._chat.stream(messages, settings, cancel)

    def complete_line(self, prompt: str, max_tokens: int = 16,
                      cancel: CancelToken | None = None) -> str:
        if self._chat is None:
            raise RuntimeError(f"{self.path.name} is an embedding-only model and cannot read "
                               "answers. Choose a chat-capable GGUF in Settings to use Ask.")
        return self._chat.complete_line(prompt, max_tokens, cancel)

    def continuation_logprobs(self, pairs: Sequence[tuple[str, str]],
                              cancel: CancelToken | None = None) -> list[np.ndarray]:
        if self._scorer is None:
            raise RuntimeError(f"{self.path.name} is an embedding-only model and cannot read "
                               "answers. Choose a chat-capable GGUF in Settings to use Ask.")
        return self._scorer.logprobs(pairs, cancel)

    def read_continuations(
        self, pairs: Sequence[tuple[str, str]], cancel: CancelToken | None = None
    ) -> tuple[list[np.ndarray], np.ndarray | None]:
        if self._scorer is None:
            return self.continuation_logprobs(pairs, cancel), None
        return self._scorer.read(pairs, cancel)

    # --- lifecycle --------------------------------------------------------------------------

    def close(self) -> None:
        # Both contexts go before the weights they were made from.
        if getattr(self, "_embed_ctx", None) is not None:
            llama_cpp.llama_free(self._embed_ctx)
            self._embed_ctx = None
        scorer = getattr(self, "_scorer", None)
        if scorer is not None:
            scorer.close()
            self._scorer = None
        chat = getattr(self, "_chat", None)
        if chat is not None:
            chat.close()
            self._chat = None
        if getattr(self, "_model", None) is not None:
            llama_cpp.llama_model_free(self._model)
            self._model = None

    def __enter__(self) -> UnifiedModel:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- construction helpers ---------------------------------------------------------------

    def _new_embed_context(self, batch_tokens: int) -> Any:
        self._embed_sequences = min(_MAX_SEQUENCES, batch_tokens)
        params = self._context_params(n_ctx=batch_tokens, n_batch=batch_tokens)
        params.n_seq_max = self._embed_sequences
        params.embeddings = True
        # Non-causal attention needs the whole batch in one micro-batch; pooling does too.
        params.n_ubatch = batch_tokens
        params.kv_unified = True  # sequences may differ in length; see bench/embed_throughput
        if self.profile.pools_in_model:
            params.pooling_type = llama_cpp.LLAMA_POOLING_TYPE_UNSPECIFIED  # the model's own
        else:
            params.pooling_type = llama_cpp.LLAMA_POOLING_TYPE_NONE
            params.attention_type = (llama_cpp.LLAMA_ATTENTION_TYPE_CAUSAL if self.profile.causal
                                     else llama_cpp.LLAMA_ATTENTION_TYPE_NON_CAUSAL)
            params.cb_eval = self._node_callback
        return self._new_context(params, "embedding")

    def _use_embed_adapter(self, path: Path) -> None:
        """The trained head's adapter on the embed context only."""
        adapter = load_lora(self._model, path)
        if adapter is None:
            raise EmbedHeadError(f"Kenning's trained search adapter {path.name} does not fit "
                                 f"{self.path.name}. Reinstall Kenning to restore it; your "
                                 "index is kept as it is.")
        use_lora(self._embed_ctx, adapter)

    def _reader_adapter(self, path: Path | None) -> Any:
        if path is None:
            return None
        adapter = load_lora(self._model, path) if path.is_file() else None
        if adapter is None:
            raise ModelLoadError(f"{path.name} is not a LoRA adapter llama.cpp can apply to "
                                 f"{self.path.name}. Choose an adapter trained for this model.")
        return adapter

    def _context_params(self, n_ctx: int, n_batch: int) -> Any:
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = n_ctx
        params.n_batch = n_batch
        params.n_threads = self.n_threads
        params.n_threads_batch = self.n_threads
        params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_AUTO
        params.no_perf = True
        return params

    def _new_context(self, params: Any, purpose: str) -> Any:
        context = llama_cpp.llama_init_from_model(self._model, params)
        if not context:
            raise ModelLoadError(f"llama.cpp could not create the {purpose} context for "
                                 f"{self.path.name} (out of memory?). Close other programs, "
                                 "or choose a smaller context size in Settings.")
        return context

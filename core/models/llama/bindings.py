"""Thin typed helpers over llama-cpp-python's ctypes API, shared by the model modules.

Nothing here holds state between calls except ``TokenBatch``, whose buffers are allocated
once and reused for every decode.
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
import sys
from collections.abc import Sequence
from typing import Any

import llama_cpp
import numpy as np

from core.models.interface import GenerationSettings

_SAMPLING_SEED = 0  # a fixed seed: the same question over the same sources answers the same
_TOP_K = 40
_PENALTY_LAST_N = 64


def default_thread_count() -> int:
    """Every core this process may use (llama.cpp is compute-bound)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def model_params() -> Any:
    """llama.cpp's model parameters as Kenning loads every model.

    On CPUs with AMX, llama.cpp builds that include its AMX kernels crash in their first
    matrix multiply on K-quant models such as the bundled one (ggml-org/llama.cpp#20824, open
    upstream). There the extra weight layouts (AMX and the repacked CPU kernels) are left
    off: slower, but a model that runs. Kenning's own install builds llama.cpp without AMX
    (tests/run.sh, packaging), which keeps the repacked kernels.
    """
    params = llama_cpp.llama_model_default_params()
    if b"AMX_INT8 = 1" in llama_cpp.llama_print_system_info():
        params.use_extra_bufts = False
    return params


def tokenize(vocab: llama_cpp.llama_vocab_p, text: str, *, add_special: bool,
             parse_special: bool) -> list[int]:
    """Token ids of ``text``; ``parse_special`` reads ``<|embed|>``-style markers as tokens."""
    data = text.encode("utf-8")
    capacity = len(data) + 8
    while True:
        buffer = (llama_cpp.llama_token * capacity)()
        count = llama_cpp.llama_tokenize(vocab, data, len(data), buffer, capacity,
                                         add_special, parse_special)
        if count >= 0:
            return list(buffer[:count])
        capacity = -count  # too small: llama.cpp says how many it needs


def token_piece(vocab: llama_cpp.llama_vocab_p, token: int) -> bytes:
    """The bytes one token stands for (special tokens render as nothing)."""
    buffer = ctypes.create_string_buffer(64)
    length = llama_cpp.llama_token_to_piece(vocab, token, buffer, len(buffer), 0, False)
    if length < 0:
        buffer = ctypes.create_string_buffer(-length)
        length = llama_cpp.llama_token_to_piece(vocab, token, buffer, len(buffer), 0, False)
    return buffer.raw[:length]


class TokenBatch:
    """A ``llama_batch`` whose arrays are numpy buffers allocated once and reused."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.tokens = np.zeros(capacity, dtype=np.int32)
        self.positions = np.zeros(capacity, dtype=np.int32)
        self.seq_counts = np.ones(capacity, dtype=np.int32)
        self.seq_ids = np.zeros(capacity, dtype=np.int32)
        self.outputs = np.zeros(capacity, dtype=np.int8)
        seq_id_pointer = ctypes.POINTER(llama_cpp.llama_seq_id)
        self._seq_id_rows = (seq_id_pointer * capacity)(
            *[ctypes.cast(self.seq_ids.ctypes.data + 4 * i, seq_id_pointer)
              for i in range(capacity)]
        )
        self.batch = llama_cpp.llama_batch(
            n_tokens=0,
            token=self.tokens.ctypes.data_as(ctypes.POINTER(llama_cpp.llama_token)),
            embd=None,
            pos=self.positions.ctypes.data_as(ctypes.POINTER(llama_cpp.llama_pos)),
            n_seq_id=self.seq_counts.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)),
            seq_id=self._seq_id_rows,
            logits=self.outputs.ctypes.data_as(ctypes.POINTER(ctypes.c_int8)),
        )

    def fill_sequences(self, sequences: Sequence[list[int]]) -> int:
        """One sequence id per text, every token an output (embedding)."""
        lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
        total = int(lengths.sum())
        self.tokens[:total] = np.concatenate([np.asarray(s, dtype=np.int32) for s in sequences])
        starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
        self.positions[:total] = np.arange(total) - starts
        self.seq_ids[:total] = np.repeat(np.arange(len(sequences), dtype=np.int32), lengths)
        self.outputs[:total] = 1
        self.batch.n_tokens = total
        return total

    def fill_run(self, tokens: Sequence[int], first_position: int, last_is_output: bool) -> None:
        """Consecutive tokens of sequence 0 (chat)."""
        count = len(tokens)
        self.tokens[:count] = tokens
        self.positions[:count] = np.arange(first_position, first_position + count)
        self.seq_ids[:count] = 0
        self.outputs[:count] = 0
        self.outputs[count - 1] = 1 if last_is_output else 0
        self.batch.n_tokens = count


def new_sampler(vocab: Any, settings: GenerationSettings) -> Any:
    """A sampler chain for ``settings``; the caller frees it (``llama_sampler_free``).

    Temperature 0 means greedy. The repeat penalty looks at the last 64 generated tokens."""
    chain = llama_cpp.llama_sampler_chain_init(llama_cpp.llama_sampler_chain_default_params())
    if settings.repeat_penalty != 1.0:
        llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_penalties(
            llama_cpp.llama_vocab_n_tokens(vocab), _PENALTY_LAST_N,
            settings.repeat_penalty, 0.0, 0.0))
    if settings.temperature <= 0:
        llama_cpp.llama_sampler_chain_add(chain, llama_cpp.llama_sampler_init_greedy())
        return chain
    for stage in (llama_cpp.llama_sampler_init_top_k(_TOP_K),
                  llama_cpp.llama_sampler_init_top_p(settings.top_p, 1),
                  llama_cpp.llama_sampler_init_temp(settings.temperature),
                  llama_cpp.llama_sampler_init_dist(_SAMPLING_SEED)):
        llama_cpp.llama_sampler_chain_add(chain, stage)
    return chain


def clear_memory(context: Any) -> None:
    memory = llama_cpp.llama_get_memory(context)
    if memory:  # encoders keep no KV cache
        llama_cpp.llama_memory_clear(memory, True)


def stop_passes_when(context: Any, flag_address: int | None) -> None:
    """Make ``context``'s passes stop (llama_decode returns 2) once the byte at
    ``flag_address`` is non-zero; None removes the check.

    The check is libc's ``strlen`` over a one-byte C string: 0 while the byte is 0, 1 once it
    is set, which the abort callback reads as false/true. It runs inside llama.cpp between
    graph nodes, so it must not be a Python function (each call would wait for the GIL).
    """
    if flag_address is None:
        llama_cpp.llama_set_abort_callback(context, llama_cpp.ggml_abort_callback(), None)
        return
    llama_cpp.llama_set_abort_callback(context, _FLAG_IS_SET, ctypes.c_void_p(flag_address))


# libc's strlen as an abort callback, looked up once: it is set and unset around every pass.
_FLAG_IS_SET = ctypes.cast(
    (ctypes.cdll.msvcrt if sys.platform == "win32" else ctypes.CDLL(None)).strlen,
    llama_cpp.ggml_abort_callback,
)


#: llama_decode's status for a pass stopped by ``stop_passes_when``.
DECODE_ABORTED = 2


def _no_tensor_names(_tensor: int) -> bytes:
    return b""


def _ggml_name_reader() -> Any:
    try:
        from llama_cpp import _ggml  # the bindings' own handle on libggml

        reader = _ggml.libggml.ggml_get_name
    except (ImportError, AttributeError, OSError):
        return _no_tensor_names
    reader.argtypes = [ctypes.c_void_p]
    reader.restype = ctypes.c_char_p
    return reader


tensor_name = _ggml_name_reader()
CAN_READ_TENSOR_NAMES = tensor_name is not _no_tensor_names


# llama.cpp's log levels (ggml_log_level); llama-cpp-python's own router maps them off by one.
_LOG_LEVELS = {1: logging.DEBUG, 2: logging.INFO, 3: logging.WARNING, 4: logging.ERROR}
_CONTINUE = 5
_llama_log = logging.getLogger("llama.cpp")
# How llama.cpp reports a pass Kenning stopped on purpose (GGML_STATUS_ABORTED is 1).
_ABORTED_PASS = re.compile(r"(failed with error|compute status:) 1$|failed to decode, ret = 2$")
_last_log_level = [logging.DEBUG]


def _log_from_llama(level: int, text: bytes | None, _user_data: int) -> None:
    python_level = _last_log_level[0] if level == _CONTINUE else _LOG_LEVELS.get(level,
                                                                                 logging.INFO)
    _last_log_level[0] = python_level
    message = (text or b"").decode("utf-8", "replace").rstrip()
    if _ABORTED_PASS.search(message):
        python_level = logging.DEBUG
    if message and _llama_log.isEnabledFor(python_level):
        _llama_log.log(python_level, "%s", message)


# Kept referenced for the life of the process: llama.cpp holds a pointer to it.
_log_callback = llama_cpp.llama_log_callback(_log_from_llama)


def route_llama_logs() -> None:
    """Send llama.cpp's messages to the ``llama.cpp`` logger (errors only, unless the app
    configures that logger): its load-time warnings mean nothing to a user."""
    if _llama_log.level == logging.NOTSET:
        _llama_log.setLevel(logging.ERROR)
    llama_cpp.llama_log_set(_log_callback, ctypes.c_void_p(0))

"""Thin typed helpers over llama-cpp-python's ctypes API, shared by the model modules: the
one place Kenning declares C types, allocates C buffers or reads C memory (a test keeps it so).

Nothing here holds state between calls except ``TokenBatch``, whose buffers are allocated
once and reused for every decode.
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import llama_cpp
import numpy as np

from core.models.interface import GenerationSettings

log = logging.getLogger(__name__)

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


def output_embeddings(context: Any, rows: int, dim: int) -> np.ndarray:
    """The last pass's per-token output rows (a view on llama.cpp's memory, valid until the
    next pass)."""
    return np.ctypeslib.as_array(llama_cpp.llama_get_embeddings(context), shape=(rows, dim))


def sequence_embedding(context: Any, sequence: int, dim: int) -> np.ndarray:
    """The vector llama.cpp pooled for ``sequence`` in the last pass (a view, as above)."""
    pooled = llama_cpp.llama_get_embeddings_seq(context, sequence)
    return np.ctypeslib.as_array(pooled, shape=(dim,))


def output_logits(context: Any, rows: int, n_vocab: int) -> np.ndarray:
    """The last pass's logits, one row per output token (a view, as above)."""
    return np.ctypeslib.as_array(llama_cpp.llama_get_logits(context), shape=(rows, n_vocab))


def sequence_state(context: Any, sequence: int) -> Any | None:
    """A copy of ``sequence``'s state in ``context`` (its KV cache), for
    ``llama_state_seq_set_data``; None when llama.cpp wrote nothing."""
    size = llama_cpp.llama_state_seq_get_size(context, sequence)
    state = (ctypes.c_ubyte * size)()
    written = llama_cpp.llama_state_seq_get_data(context, state, size, sequence)
    return state if written else None


def apply_chat_template(template: str, messages: Sequence[tuple[str, str]]) -> str | None:
    """``messages`` (role, content) rendered with llama.cpp's built-in chat formats (it
    recognises most templates by their text); None when it does not know this one."""
    keep_alive = [(role.encode(), content.encode()) for role, content in messages]
    chat = (llama_cpp.llama_chat_message * len(keep_alive))(
        *[llama_cpp.llama_chat_message(role, content) for role, content in keep_alive]
    )
    size = 4096 + sum(len(c) + len(r) + 32 for r, c in keep_alive)
    buffer = ctypes.create_string_buffer(size)
    written = llama_cpp.llama_chat_apply_template(
        template.encode(), chat, len(keep_alive), True, buffer, size)
    if written < 0:
        return None
    if written > size:
        buffer = ctypes.create_string_buffer(written)
        written = llama_cpp.llama_chat_apply_template(
            template.encode(), chat, len(keep_alive), True, buffer, written)
    return buffer.raw[:written].decode("utf-8", "replace")


def model_meta(model: llama_cpp.llama_model_p, key: str) -> str | None:
    """A metadata value of a loaded model as text (at most 511 bytes), None when absent."""
    buffer = ctypes.create_string_buffer(512)
    length = llama_cpp.llama_model_meta_val_str(model, key.encode(), buffer, len(buffer))
    if length < 0:
        return None
    return buffer.value.decode("utf-8", "replace")


def load_lora(model: llama_cpp.llama_model_p, path: Path) -> Any | None:
    """A LoRA adapter file loaded against ``model``'s weights, on no context yet; None when
    llama.cpp refuses it (not an adapter, or made for another model). llama.cpp frees it with
    the model."""
    adapter = llama_cpp.llama_adapter_lora_init(model, str(path).encode())
    return adapter or None


def use_lora(context: Any, adapter: Any) -> None:
    """Make ``context`` compute with ``adapter`` at its trained scale. Other contexts of the
    same model keep the base weights."""
    pointers = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(adapter)
    scales = (ctypes.c_float * 1)(1.0)
    if llama_cpp.llama_set_adapters_lora(context, pointers, 1, scales) != 0:
        raise RuntimeError("llama.cpp could not apply a LoRA adapter to a context.")


def clear_memory(context: Any) -> None:
    memory = llama_cpp.llama_get_memory(context)
    if memory:  # encoders keep no KV cache
        llama_cpp.llama_memory_clear(memory, True)


def stop_passes_when(context: Any, flag: np.ndarray | None) -> None:
    """Make ``context``'s passes stop (llama_decode returns 2) once the first byte of
    ``flag`` (``PassInterrupt.cell``: that byte, then 0) is non-zero; None removes the check.

    The check is libc's ``strlen`` over a one-byte C string: 0 while the byte is 0, 1 once it
    is set, which the abort callback reads as false/true. It runs inside llama.cpp between
    graph nodes, so it must not be a Python function (each call would wait for the GIL).
    """
    if flag is None:
        llama_cpp.llama_set_abort_callback(context, llama_cpp.ggml_abort_callback(), None)
        return
    llama_cpp.llama_set_abort_callback(context, _FLAG_IS_SET, ctypes.c_void_p(flag.ctypes.data))


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


def _tensor_copier() -> Any:
    """``copy(tensor, rows)``: a computed graph node's float rows into a numpy array; None
    when these bindings do not expose ggml (embed layers other than the last need it)."""
    try:
        from llama_cpp import _ggml  # the bindings' own handle on libggml

        library = _ggml.libggml
        count, read = library.ggml_nelements, library.ggml_backend_tensor_get
    except (ImportError, AttributeError, OSError):
        return None
    count.argtypes, count.restype = [ctypes.c_void_p], ctypes.c_int64
    read.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t]
    read.restype = None

    def copy(tensor: int, rows: np.ndarray) -> int:
        values = min(int(count(tensor)), rows.size)
        read(tensor, rows.ctypes.data, 0, values * 4)
        return values

    return copy


#: ``copy_tensor(tensor, rows)`` copies a graph node's float values into ``rows`` and says how
#: many; None when these bindings cannot read graph nodes.
copy_tensor = _tensor_copier() if CAN_READ_TENSOR_NAMES else None


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


# --- ggml's GGUF reader (the header without the weights) ----------------------------------

# enum gguf_type (ggml/include/gguf.h): the scalar kinds, their typed getters and C types.
_GGUF_SCALARS: dict[int, tuple[str, Any]] = {
    0: ("gguf_get_val_u8", ctypes.c_uint8), 1: ("gguf_get_val_i8", ctypes.c_int8),
    2: ("gguf_get_val_u16", ctypes.c_uint16), 3: ("gguf_get_val_i16", ctypes.c_int16),
    4: ("gguf_get_val_u32", ctypes.c_uint32), 5: ("gguf_get_val_i32", ctypes.c_int32),
    6: ("gguf_get_val_f32", ctypes.c_float), 7: ("gguf_get_val_bool", ctypes.c_bool),
    10: ("gguf_get_val_u64", ctypes.c_uint64), 11: ("gguf_get_val_i64", ctypes.c_int64),
    12: ("gguf_get_val_f64", ctypes.c_double),
}
#: gguf_type -> the name of the library function that reads a value of that scalar kind.
GGUF_SCALAR_GETTERS = {kind: name for kind, (name, _) in _GGUF_SCALARS.items()}
GGUF_BOOL, GGUF_STRING, GGUF_ARRAY = 7, 8, 9


class _GgufInitParams(ctypes.Structure):
    _fields_ = [("no_alloc", ctypes.c_bool), ("ctx", ctypes.c_void_p)]


# typedef void (*ggml_log_callback)(enum ggml_log_level level, const char * text, void * data)
_GgmlLogCallback = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)
# The log callback is one per process: two readers must not swap it at the same time.
_LOG_SWAP = threading.Lock()


def ggml_gguf_library() -> Any | None:
    """ggml's base library as llama-cpp-python ships it, with the reader's functions typed;
    None when it is not there (another build of llama-cpp-python)."""
    try:
        from llama_cpp import _ctypes_extensions

        folder = Path(llama_cpp.__file__).parent / "lib"
        library = _ctypes_extensions.load_shared_library("ggml-base", folder)
        signatures: dict[str, tuple[Any, list[Any]]] = {
            "gguf_init_from_file": (ctypes.c_void_p, [ctypes.c_char_p, _GgufInitParams]),
            "gguf_free": (None, [ctypes.c_void_p]),
            "gguf_find_key": (ctypes.c_int64, [ctypes.c_void_p, ctypes.c_char_p]),
            "gguf_get_kv_type": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int64]),
            "gguf_get_arr_type": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int64]),
            "gguf_get_arr_n": (ctypes.c_size_t, [ctypes.c_void_p, ctypes.c_int64]),
            "gguf_get_arr_str": (ctypes.c_char_p,
                                 [ctypes.c_void_p, ctypes.c_int64, ctypes.c_size_t]),
            "gguf_get_val_str": (ctypes.c_char_p, [ctypes.c_void_p, ctypes.c_int64]),
            "gguf_get_n_kv": (ctypes.c_int64, [ctypes.c_void_p]),
            "gguf_get_key": (ctypes.c_char_p, [ctypes.c_void_p, ctypes.c_int64]),
            "gguf_get_n_tensors": (ctypes.c_int64, [ctypes.c_void_p]),
            "gguf_get_data_offset": (ctypes.c_size_t, [ctypes.c_void_p]),
            "gguf_get_tensor_offset": (ctypes.c_size_t, [ctypes.c_void_p, ctypes.c_int64]),
            "gguf_get_tensor_size": (ctypes.c_size_t, [ctypes.c_void_p, ctypes.c_int64]),
        }
        if hasattr(library, "ggml_log_get"):  # builds from mid-2025 on
            signatures["ggml_log_get"] = (None, [ctypes.POINTER(ctypes.c_void_p)] * 2)
            signatures["ggml_log_set"] = (None, [ctypes.c_void_p, ctypes.c_void_p])
        for name, value_type in _GGUF_SCALARS.values():
            signatures[name] = (value_type, [ctypes.c_void_p, ctypes.c_int64])
        _declare(library, signatures)
        return library
    except Exception as exc:  # any other build or platform layout: the Python reader answers
        log.debug("ggml's GGUF reader is not available (%s); using the gguf package", exc)
        return None


def gguf_can_rewrite(lib: Any) -> bool:
    """Types the table-writing functions of ggml's library; False for a build without them."""
    signatures: dict[str, tuple[Any, list[Any]]] = {
        "gguf_get_tensor_name": (ctypes.c_char_p, [ctypes.c_void_p, ctypes.c_int64]),
        "gguf_get_tensor_type": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int64]),
        "gguf_set_tensor_type": (None, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]),
        "gguf_get_meta_size": (ctypes.c_size_t, [ctypes.c_void_p]),
        "gguf_get_meta_data": (None, [ctypes.c_void_p, ctypes.c_void_p]),
    }
    if not all(hasattr(lib, name) for name in signatures):
        return False
    _declare(lib, signatures)
    return True


def _declare(library: Any, signatures: dict[str, tuple[Any, list[Any]]]) -> None:
    for name, (restype, argtypes) in signatures.items():
        function = getattr(library, name)
        function.restype, function.argtypes = restype, argtypes


def gguf_open_table(lib: Any, path: Path) -> Any:
    """ggml's parsed header of ``path`` (metadata and tensor table, no weights; free it with
    ``gguf_free``), or a null pointer when it is not valid GGUF."""
    return lib.gguf_init_from_file(str(path).encode(), _GgufInitParams(True, None))


def gguf_meta_bytes(lib: Any, table: Any) -> bytes:
    """The table's metadata and tensor table as a GGUF file starts with them."""
    meta = (ctypes.c_ubyte * int(lib.gguf_get_meta_size(table)))()
    lib.gguf_get_meta_data(table, meta)
    return bytes(meta)


@contextmanager
def ggml_messages(lib: Any) -> Iterator[list[str]]:
    """What ggml says on this thread meanwhile (a damaged file's reasons), kept for Kenning's
    own message instead of going to stderr ahead of it. Everything else logged meanwhile
    (another thread loading a model) still reaches the callback that was set before."""
    messages: list[str] = []
    if not hasattr(lib, "ggml_log_get"):
        yield messages
        return
    with _LOG_SWAP:
        before_function, before_data = ctypes.c_void_p(), ctypes.c_void_p()
        lib.ggml_log_get(ctypes.byref(before_function), ctypes.byref(before_data))
        passed_on = _GgmlLogCallback(before_function.value) if before_function.value else None

        reader_thread = threading.get_ident()

        def keep_reader_lines(level: int, text: bytes | None, data: Any) -> None:
            if threading.get_ident() != reader_thread:
                if passed_on is not None:
                    passed_on(level, text, before_data)
            elif line := (text or b"").decode("utf-8", "replace").strip():
                messages.append(line)

        callback = _GgmlLogCallback(keep_reader_lines)  # referenced until ggml lets go of it
        lib.ggml_log_set(ctypes.cast(callback, ctypes.c_void_p), None)
        try:
            yield messages
        finally:
            lib.ggml_log_set(before_function, before_data)


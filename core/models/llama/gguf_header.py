"""A GGUF file's header (metadata and tensor table) without its weights.

Read with ggml's own C reader from the llama.cpp library that llama-cpp-python ships
(``gguf_init_from_file``, metadata only): 0.5 s for gemma-3-270m, most of it copying its
262,144-token vocabulary into a set, where the ``gguf`` package's Python reader takes 13-27 s
to build a field object per token.
The Python reader remains the fallback when that library or its reader cannot be found.

>>> header = read_header(Path("model.gguf"))
>>> header.string("general.architecture"), header.scalar("llama.context_length")
('llama', 131072)
>>> header.tensor_count, header.tensor_end, header.has_token("<|embed|>")
"""

from __future__ import annotations

import ctypes
import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

Scalar = int | float | bool


class HeaderUnreadable(ValueError):
    """The header is not valid GGUF (truncated, damaged)."""


class GgufHeader(ABC):
    #: How many tensors the table lists.
    tensor_count: int
    #: Where the last tensor's data ends, in bytes from the start of the file.
    tensor_end: int

    @abstractmethod
    def string(self, key: str) -> str | None:
        """A string value, None when absent or of another type."""

    @abstractmethod
    def scalar(self, key: str) -> Scalar | None:
        """A number or boolean value, None when absent or of another type."""

    @abstractmethod
    def has_token(self, token: str) -> bool:
        """Whether the vocabulary (``tokenizer.ggml.tokens``) holds ``token``."""


def read_header(path: Path) -> GgufHeader:
    library = ggml_library()
    if library is not None:
        return _CHeader(library, path)
    return _PythonHeader(path)


# --- ggml's C reader ------------------------------------------------------------------------

# enum gguf_type (ggml/include/gguf.h)
_SCALAR_TYPES: dict[int, tuple[str, Any]] = {
    0: ("gguf_get_val_u8", ctypes.c_uint8), 1: ("gguf_get_val_i8", ctypes.c_int8),
    2: ("gguf_get_val_u16", ctypes.c_uint16), 3: ("gguf_get_val_i16", ctypes.c_int16),
    4: ("gguf_get_val_u32", ctypes.c_uint32), 5: ("gguf_get_val_i32", ctypes.c_int32),
    6: ("gguf_get_val_f32", ctypes.c_float), 7: ("gguf_get_val_bool", ctypes.c_bool),
    10: ("gguf_get_val_u64", ctypes.c_uint64), 11: ("gguf_get_val_i64", ctypes.c_int64),
    12: ("gguf_get_val_f64", ctypes.c_double),
}
_BOOL, _STRING, _ARRAY = 7, 8, 9


class _InitParams(ctypes.Structure):
    _fields_ = [("no_alloc", ctypes.c_bool), ("ctx", ctypes.c_void_p)]


# typedef void (*ggml_log_callback)(enum ggml_log_level level, const char * text, void * data)
_LogCallback = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)
# The log callback is one per process: two readers must not swap it at the same time.
_LOG_SWAP = threading.Lock()


def ggml_library() -> Any | None:
    """ggml's base library as llama-cpp-python ships it, with the reader's functions typed;
    None when it is not there (another build of llama-cpp-python)."""
    try:
        import llama_cpp
        from llama_cpp import _ctypes_extensions

        folder = Path(llama_cpp.__file__).parent / "lib"
        library = _ctypes_extensions.load_shared_library("ggml-base", folder)
        signatures: dict[str, tuple[Any, list[Any]]] = {
            "gguf_init_from_file": (ctypes.c_void_p, [ctypes.c_char_p, _InitParams]),
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
        for name, value_type in _SCALAR_TYPES.values():
            signatures[name] = (value_type, [ctypes.c_void_p, ctypes.c_int64])
        for name, (restype, argtypes) in signatures.items():
            function = getattr(library, name)
            function.restype, function.argtypes = restype, argtypes
        return library
    except Exception as exc:  # any other build or platform layout: the Python reader answers
        log.debug("ggml's GGUF reader is not available (%s); using the gguf package", exc)
        return None


class _CHeader(GgufHeader):
    """Every value is copied out at once, so no C state outlives the constructor."""

    def __init__(self, library: Any, path: Path) -> None:
        lib = library
        with opened_table(lib, path) as context:
            self.tensor_count = int(lib.gguf_get_n_tensors(context))
            start = int(lib.gguf_get_data_offset(context))
            ends = (lib.gguf_get_tensor_offset(context, i) + lib.gguf_get_tensor_size(context, i)
                    for i in range(self.tensor_count))
            self.tensor_end = start + max(ends, default=0)
            self._strings: dict[str, str] = {}
            self._scalars: dict[str, Scalar] = {}
            self._tokens: set[bytes] = set()
            for key_id in range(lib.gguf_get_n_kv(context)):
                self._copy(lib, context, key_id)

    def _copy(self, lib: Any, context: Any, key_id: int) -> None:
        # The typed getters abort the process on a type mismatch: the type is checked first.
        key = (lib.gguf_get_key(context, key_id) or b"").decode("utf-8", "replace")
        kind = lib.gguf_get_kv_type(context, key_id)
        if kind == _STRING:
            self._strings[key] = (lib.gguf_get_val_str(context, key_id) or b"").decode(
                "utf-8", "replace")
        elif kind in _SCALAR_TYPES:
            value = getattr(lib, _SCALAR_TYPES[kind][0])(context, key_id)
            self._scalars[key] = bool(value) if kind == _BOOL else value
        elif (key == "tokenizer.ggml.tokens" and kind == _ARRAY
              and lib.gguf_get_arr_type(context, key_id) == _STRING):
            self._tokens = {lib.gguf_get_arr_str(context, key_id, i) or b""
                            for i in range(lib.gguf_get_arr_n(context, key_id))}

    def string(self, key: str) -> str | None:
        return self._strings.get(key)

    def scalar(self, key: str) -> Scalar | None:
        return self._scalars.get(key)

    def has_token(self, token: str) -> bool:
        return token.encode() in self._tokens


@contextmanager
def opened_table(lib: Any, path: Path) -> Iterator[Any]:
    """ggml's parsed header of ``path`` (metadata and tensor table, no weights), freed after.
    Raises HeaderUnreadable with what the reader said when the file is not valid GGUF."""
    with _reader_messages(lib) as messages:
        context = lib.gguf_init_from_file(str(path).encode(), _InitParams(True, None))
    if not context:
        raise HeaderUnreadable("; ".join(messages) or "its header could not be read")
    try:
        yield context
    finally:
        lib.gguf_free(context)


@contextmanager
def _reader_messages(lib: Any) -> Iterator[list[str]]:
    """What ggml's reader says about a damaged file, kept for Kenning's own message instead of
    going to stderr ahead of it. Everything else logged meanwhile (another thread loading a
    model) still reaches the callback that was set before."""
    messages: list[str] = []
    if not hasattr(lib, "ggml_log_get"):
        yield messages
        return
    with _LOG_SWAP:
        before_function, before_data = ctypes.c_void_p(), ctypes.c_void_p()
        lib.ggml_log_get(ctypes.byref(before_function), ctypes.byref(before_data))
        passed_on = _LogCallback(before_function.value) if before_function.value else None

        reader_thread = threading.get_ident()

        def keep_reader_lines(level: int, text: bytes | None, data: Any) -> None:
            if threading.get_ident() != reader_thread:
                if passed_on is not None:
                    passed_on(level, text, before_data)
            elif line := (text or b"").decode("utf-8", "replace").strip():
                messages.append(line)

        callback = _LogCallback(keep_reader_lines)  # referenced here until ggml lets go of it
        lib.ggml_log_set(ctypes.cast(callback, ctypes.c_void_p), None)
        try:
            yield messages
        finally:
            lib.ggml_log_set(before_function, before_data)


# --- the gguf package (fallback) ------------------------------------------------------------


class _PythonHeader(GgufHeader):
    def __init__(self, path: Path) -> None:
        from gguf import GGUFReader  # imported late: numpy-heavy and only needed here

        try:
            self._reader = GGUFReader(path)
        except Exception as error:  # any parse failure means a damaged header
            raise HeaderUnreadable(str(error)) from error
        tensors = self._reader.tensors
        self.tensor_count = len(tensors)
        self.tensor_end = max((t.data_offset + t.n_bytes for t in tensors), default=0)

    def string(self, key: str) -> str | None:
        field = self._reader.fields.get(key)
        if field is None or not field.data or field.types[:1] != [_gguf_type(_STRING)]:
            return None
        return bytes(field.parts[field.data[0]]).decode("utf-8", "replace")

    def scalar(self, key: str) -> Scalar | None:
        field = self._reader.fields.get(key)
        if field is None or not field.data or len(field.types) != 1:
            return None
        if field.types[0] in (_gguf_type(_STRING), _gguf_type(_ARRAY)):
            return None
        value = field.parts[field.data[0]].tolist()[0]
        return bool(value) if field.types[0] == _gguf_type(_BOOL) else value

    def has_token(self, token: str) -> bool:
        tokens = self._reader.fields.get("tokenizer.ggml.tokens")
        wanted = token.encode()
        return tokens is not None and any(bytes(tokens.parts[i]) == wanted for i in tokens.data)


def _gguf_type(number: int) -> Any:
    from gguf import GGUFValueType

    return GGUFValueType(number)

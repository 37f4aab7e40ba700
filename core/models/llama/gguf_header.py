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

import hashlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

Scalar = int | float | bool


def file_fingerprint(path: Path, header_bytes: int = 1 << 20) -> str:
    """A short digest of the file size and its first MiB (GGUF metadata and tensor table).

    Cheap on every start; a different quantisation, conversion or model changes the header.
    """
    digest = hashlib.sha256()
    digest.update(path.stat().st_size.to_bytes(8, "little"))
    with path.open("rb") as handle:
        digest.update(handle.read(header_bytes))
    return digest.hexdigest()[:12]


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


def ggml_library() -> Any | None:
    """ggml's base library with the reader's functions typed (``bindings.ggml_gguf_library``);
    None when it or llama-cpp-python cannot be loaded. The bindings are imported only here, so
    importing this module loads no llama.cpp."""
    try:
        from core.models.llama import bindings
    except Exception as exc:  # a build of llama-cpp-python that does not load
        log.debug("llama-cpp-python is not available (%s); using the gguf package", exc)
        return None
    return bindings.ggml_gguf_library()


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
        from core.models.llama import bindings  # loaded already: ``lib`` came from it

        # The typed getters abort the process on a type mismatch: the type is checked first.
        key = (lib.gguf_get_key(context, key_id) or b"").decode("utf-8", "replace")
        kind = lib.gguf_get_kv_type(context, key_id)
        if kind == bindings.GGUF_STRING:
            self._strings[key] = (lib.gguf_get_val_str(context, key_id) or b"").decode(
                "utf-8", "replace")
        elif kind in bindings.GGUF_SCALAR_GETTERS:
            value = getattr(lib, bindings.GGUF_SCALAR_GETTERS[kind])(context, key_id)
            self._scalars[key] = bool(value) if kind == bindings.GGUF_BOOL else value
        elif (key == "tokenizer.ggml.tokens" and kind == bindings.GGUF_ARRAY
              and lib.gguf_get_arr_type(context, key_id) == bindings.GGUF_STRING):
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
    from core.models.llama import bindings  # loaded already: ``lib`` came from it

    with bindings.ggml_messages(lib) as messages:
        context = bindings.gguf_open_table(lib, path)
    if not context:
        raise HeaderUnreadable("; ".join(messages) or "its header could not be read")
    try:
        yield context
    finally:
        lib.gguf_free(context)


# --- the gguf package (fallback) ------------------------------------------------------------


# enum gguf_type (ggml/include/gguf.h)
_BOOL, _STRING, _ARRAY = 7, 8, 9


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

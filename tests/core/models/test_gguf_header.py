"""ggml's C header reader borrows ggml's process-wide log callback while it reads."""

from __future__ import annotations

import ctypes
from pathlib import Path

import pytest

from core.models.llama import gguf_header
from tests.gguf_factory import write_tiny_gguf


def test_ggml_logs_where_it_did_before_after_a_read(tmp_path: Path) -> None:
    library = gguf_header.ggml_library()
    assert library is not None

    def current() -> tuple[int | None, int | None]:
        function, data = ctypes.c_void_p(), ctypes.c_void_p()
        library.ggml_log_get(ctypes.byref(function), ctypes.byref(data))
        return function.value, data.value

    before = current()
    gguf_header.read_header(write_tiny_gguf(tmp_path / "tiny.gguf", "llama", ["a"]))
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(b"GGUF" + bytes(30))
    with pytest.raises(gguf_header.HeaderUnreadable):
        gguf_header.read_header(cut)
    assert current() == before

"""Tiny GGUF files written with llama.cpp's own ``gguf`` writer, for header-level tests."""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np


def write_tiny_gguf(path: Path, arch: str = "llama", tokens: list[str] | None = None,
                    causal: bool | None = None, name: str = "tiny test model") -> Path:
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_name(name)
    writer.add_context_length(512)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    if causal is not None:
        writer.add_causal_attention(causal)
    if tokens:
        writer.add_token_list(tokens)
    writer.add_tensor("token_embd.weight", np.ones((64, 16), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path

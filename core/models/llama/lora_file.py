"""LoRA adapter files as llama.cpp reads them (``bindings.load_lora``).

An adapter is a GGUF of its own: ``general.type`` "adapter", ``adapter.type`` "lora", the
alpha it was trained with, and per adapted weight of the model two tensors,
``<weight>.lora_a`` (rank × inputs) and ``<weight>.lora_b`` (outputs × rank), named after the
model's own weight (``blk.3.attn_q.weight``). llama.cpp adds ``alpha / rank · B·A`` to the
weight's output, the scaling peft trains with. The trainers (``bench/reader_lora.py``) write
their adapters through ``write_lora``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import gguf
import numpy as np


def write_lora(path: Path, architecture: str, alpha: float,
               pairs: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> None:
    """Write ``pairs`` (model weight name → (A, B)) as an adapter for a model of
    ``architecture`` (its ``general.architecture``, e.g. "gemma3")."""
    writer = gguf.GGUFWriter(str(path), architecture)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    for weight, (down, up) in pairs.items():
        if down.ndim != 2 or up.ndim != 2 or down.shape[0] != up.shape[1]:
            raise ValueError(f"{weight}: A {down.shape} and B {up.shape} are not a LoRA pair.")
        writer.add_tensor(f"{weight}.lora_a", np.ascontiguousarray(down, dtype=np.float32))
        writer.add_tensor(f"{weight}.lora_b", np.ascontiguousarray(up, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()

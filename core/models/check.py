"""Checking a GGUF file before Kenning switches to it, without loading its weights.

Reads the header (``models/llama/gguf_header.py``, ggml's own reader): architecture, quantization,
context length, whether it has GritLM's ``<|embed|>`` token or is an encoder, and whether the
tensor data really reaches the end it promises. An unusable file is refused with a message
that says why; the caller keeps the model it had.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from core.models.interface import ModelProfile
from core.models.llama.gguf_header import (
    GgufHeader,
    HeaderUnreadable,
    file_fingerprint,
    read_header,
)
from core.models.profiles import ENCODER, is_grit_style, profile_for, with_trained_head

GGUF_MAGIC = b"GGUF"

# Architectures Kenning's profiles are made for (decoders with a chat template or base text,
# and the BERT-family encoders llama.cpp embeds with). Others may load but are untested.
SUPPORTED_ARCHITECTURES = frozenset({
    "llama", "mistral", "gemma", "gemma2", "gemma3", "qwen2", "qwen3", "phi3", "granite",
    "olmo", "olmo2", "smollm3", "bert", "nomic-bert", "nomic-bert-moe", "jina-bert-v2",
    "modern-bert", "neo-bert", "t5encoder", "eurobert",
})
_ENCODERS = frozenset({"bert", "nomic-bert", "nomic-bert-moe", "jina-bert-v2", "modern-bert",
                       "neo-bert", "t5encoder", "eurobert"})
# Weights are memory-mapped; add room for the KV cache, compute buffers and the app.
_RUNTIME_OVERHEAD_BYTES = 600 * 1024 * 1024


class UnusableModel(ValueError):
    """The file cannot be used as a model; the message says why and what to do."""


@dataclass(frozen=True)
class ModelReport:
    path: str
    size_bytes: int
    architecture: str
    name: str
    quantization: str
    context_length: int
    profile: str  # "grit", "generic" or "encoder"
    ram_needed_bytes: int
    embed_head: str = ""  # the trained head Kenning ships for this file, if any

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def sentence_encoder(self) -> bool:
        """An embedding-only model: it finds passages by meaning but writes no answers."""
        return self.profile == ENCODER.name


def check_model(path: Path, available_ram: int | None = None) -> ModelReport:
    """Report what ``path`` is, or raise ``UnusableModel`` with a plain reason."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise UnusableModel(f"There is no file at {path}. Check the path and try again.")
    with path.open("rb") as handle:
        if handle.read(4) != GGUF_MAGIC:
            raise UnusableModel(f"{path.name} is not a GGUF model file. Kenning runs models "
                                "in the GGUF format (llama.cpp); choose a .gguf file.")
    size = path.stat().st_size
    header = _read(path)
    if not header.tensor_count or header.tensor_end > size:
        raise UnusableModel(f"{path.name} is incomplete (truncated or damaged). Download it "
                            "again, then choose it.")
    arch = header.string("general.architecture") or "unknown"
    if arch not in SUPPORTED_ARCHITECTURES:
        raise UnusableModel(f"{path.name} is a '{arch}' model, which Kenning does not "
                            "support. Choose a llama, mistral, gemma, qwen or BERT-family GGUF.")
    profile = with_trained_head(_profile(header, arch, path), file_fingerprint(path))
    ram_needed = memory_needed(size)
    available = total_ram() if available_ram is None else available_ram
    if available and ram_needed > available:
        raise UnusableModel(f"{path.name} needs about {ram_needed / 2**30:.1f} GB of memory and "
                            f"this computer has {available / 2**30:.1f} GB. Choose a smaller "
                            "model (a smaller quantization such as Q4_K_M helps).")
    return ModelReport(
        path=str(path.resolve()),
        size_bytes=size,
        architecture=arch,
        name=header.string("general.name") or path.stem,
        quantization=_quantization(header),
        context_length=int(header.scalar(f"{arch}.context_length") or 0),
        profile=profile.name,
        ram_needed_bytes=ram_needed,
        embed_head=profile.embed_head,
    )


def memory_needed(file_size: int) -> int:
    """Memory a loaded model of this file size takes, roughly."""
    return file_size + _RUNTIME_OVERHEAD_BYTES


def total_ram() -> int:
    """Physical memory in bytes, or 0 when the platform does not say (then no check)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return 0


def _read(path: Path) -> GgufHeader:
    try:
        return read_header(path)
    except HeaderUnreadable as error:
        raise UnusableModel(f"{path.name} could not be read as GGUF ({error}). It may be "
                            "truncated or damaged; download it again.") from error


def _profile(header: GgufHeader, arch: str, path: Path) -> ModelProfile:
    causal = header.scalar(f"{arch}.attention.causal")
    names = (header.string("general.name"), header.string("general.basename"), path.name)
    return profile_for(is_grit_style(header.has_token("<|embed|>"), names),
                       arch not in _ENCODERS and causal is not False, arch)


def _quantization(header: GgufHeader) -> str:
    from gguf import LlamaFileType

    file_type = header.scalar("general.file_type")
    if file_type is None:
        return "unknown"
    try:
        return LlamaFileType(int(file_type)).name.removeprefix("MOSTLY_")
    except ValueError:
        return f"type {file_type}"

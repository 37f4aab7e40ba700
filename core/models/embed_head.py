"""Trained embed heads: a linear map, learned offline, from a decoder's pooled inner-block state
to its search vector, in place of the zero-shot centring (``embed_recipe``).

A head belongs to one GGUF (known by ``gguf_header.file_fingerprint``) and one block of it; it
ships in Kenning's resources with a version and a sha256, and its tag is part of the model's
recipe (``ModelFacts.recipe``), so vectors made with another head, or none, are never ranked
beside its own: the index embeds again instead. How the bundled model's head was trained and
what it measured: docs/models.md ("A trained embed head"), ``bench/embed_head/``.

    spec = head_for(fingerprint)            # None: the model keeps the zero-shot recipe
    head = EmbedHead.load(spec)             # EmbedHeadError if the file is missing or changed
    vectors = head.apply(pooled)            # pooled: the mean of the block's RMS-scaled rows
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from core.models.embed_recipe import normalise_rows
from core.resources import checked_bytes, resource


class EmbedHeadError(RuntimeError):
    """A trained head's file is missing, damaged or not the one this Kenning was built with."""


@dataclass(frozen=True)
class HeadFusion:
    """How a head's vectors join the keywords in hybrid search (``core.search.fusion``; the
    fields are ``ModelProfile``'s), chosen on a collection of training data
    (``bench/embed_head/fusion.py``), never on the eval sets."""

    dense_weight: float
    weight_by_agreement: bool
    dense_only: int
    min_similarity: float


@dataclass(frozen=True)
class HeadSpec:
    """Which head a model gets and how its file is checked."""

    name: str
    version: int
    model_fingerprint: str  # the GGUF it was trained on (``file_fingerprint``)
    layer: int  # the block whose pooled output it reads (llama.cpp's ``l_out-<layer>``)
    file: str  # under resources/embed_heads/
    sha256: str
    description: str  # for Settings and ``kenning model list``
    #: Applied whenever its model loads; False keeps it to runs that ask for it
    #: (``UnifiedModel.load(trained_head=True)``, the benches) until it passes on every set.
    on_by_default: bool = True
    #: A LoRA adapter (GGUF, under resources/embed_heads/) trained with the head, which the
    #: embed context alone computes with (the chat and reader contexts keep the base
    #: weights); "" for a head on the base model's own block.
    adapter: str = ""
    adapter_sha256: str = ""
    #: Its own fusion with the keywords; None keeps the zero-shot profile's.
    fusion: HeadFusion | None = None

    @property
    def tag(self) -> str:
        """Names the head in the model's recipe: a new version re-embeds the index."""
        return f"{self.name}-v{self.version}"


# The bundled gemma-3-270m Q4_K_M: trained by bench/embed_head/train.py on SQuAD pairs from
# ../shared/train and all-MiniLM-L6-v2's similarities on technical prose (docs/models.md).
GEMMA_270M_BLOCK12 = HeadSpec(
    name="gemma-3-270m-b12",
    version=1,
    model_fingerprint="b0cebc97492b",
    layer=12,
    file="gemma-3-270m-b12-v1.npz",
    sha256="492ec3f3a657b6ebddb98e14a077ea188c3947f2eef9ba7e39942aac2bba7671",
    description="a linear map trained for search on block 12 of 18",
    # Off: on the whole of SciFact the default hybrid with it fell below keywords alone (0.674
    # against BM25 0.682; zero-shot 0.683) until its own fusion is chosen (docs/models.md).
    on_by_default=False,
)

# The same block through a LoRA adapter of blocks 7-12 trained with the head's map
# (bench/embed_head/lora.py, SQuAD pairs from ../shared/train), fused with the keywords as
# chosen on held-out training articles (bench/embed_head/fusion.py; docs/models.md).
GEMMA_270M_BLOCK12_LORA = replace(
    GEMMA_270M_BLOCK12,
    version=2,
    file="gemma-3-270m-b12-v2.npz",
    sha256="b4717aa8bbe995e05504fb009991a5f9f1b313b0df9678a23b19fc89512bd95f",
    description="a small adapter and a linear map trained for search, on block 12 of 18",
    adapter="gemma-3-270m-b12-v2-adapter.gguf",
    adapter_sha256="1d5b8c8ddba17fa7bb2fba0a748577272f0d784a607ebc87931f1a44eab15fda",
    # Half the zero-shot weight: on questions and tool summaries that share words with their
    # documents it stays below keywords alone, and any larger weight ranked worse there.
    fusion=HeadFusion(dense_weight=0.25, weight_by_agreement=True, dense_only=10,
                      min_similarity=0.0),
    on_by_default=True,
)

# The first match wins (``head_for``): the newest head first.
HEADS = (GEMMA_270M_BLOCK12_LORA, GEMMA_270M_BLOCK12)
#: The head of the model Kenning ships (tests/core/models/test_embed_head.py checks that the
#: bundled file's fingerprint is this head's).
BUNDLED_HEAD = GEMMA_270M_BLOCK12_LORA


def head_for(fingerprint: str, *, asked: bool = False) -> HeadSpec | None:
    """The trained head of the GGUF with this fingerprint, if Kenning has one that is on by
    default (or any, when ``asked``)."""
    return next((spec for spec in HEADS if spec.model_fingerprint == fingerprint
                 and (spec.on_by_default or asked)), None)


def bundled_head_tag() -> str:
    """The tag of the head the bundled model embeds through by default ("" for none)."""
    spec = head_for(BUNDLED_HEAD.model_fingerprint)
    return spec.tag if spec is not None else ""


def head_by_tag(tag: str) -> HeadSpec | None:
    return next((spec for spec in HEADS if spec.tag == tag), None)


@dataclass(frozen=True)
class EmbedHead:
    """``vector = unit((unit(pooled) - mean) @ weight)``."""

    spec: HeadSpec
    mean: np.ndarray  # (width,)
    weight: np.ndarray  # (width, width): the vector keeps the model's width
    adapter: Path | None = None  # the checked adapter file, for llama.cpp to load

    @classmethod
    def load(cls, spec: HeadSpec, folder: Path | None = None) -> EmbedHead:
        fix = "Reinstall Kenning to restore it; your index is kept as it is."
        folder = folder or resource("embed_heads")
        data = checked_bytes(folder / spec.file, spec.sha256,
                             "Kenning's trained search head", fix, EmbedHeadError)
        adapter = folder / spec.adapter if spec.adapter else None
        if adapter is not None:
            # llama.cpp reads the adapter from its path; its bytes are checked here first.
            checked_bytes(adapter, spec.adapter_sha256, "Kenning's trained search adapter",
                          fix, EmbedHeadError)
        # The bytes just checked are the ones loaded: the file is read once.
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            mean = arrays["mean"].astype(np.float32)
            weight = arrays["weight"].astype(np.float32)
            layer = int(arrays["layer"])
        # Square: the vector keeps the model's width, which the index was sized for.
        if (layer != spec.layer or mean.ndim != 1 or weight.shape != (len(mean), len(mean))
                or not (np.isfinite(mean).all() and np.isfinite(weight).all())):
            raise EmbedHeadError(f"Kenning's trained search head {spec.file} does not fit its "
                                 f"model. {fix}")
        return cls(spec=spec, mean=mean, weight=weight, adapter=adapter)

    def apply(self, pooled: np.ndarray) -> np.ndarray:
        if pooled.shape[1] != self.mean.shape[0]:
            raise EmbedHeadError(f"The trained search head {self.spec.file} reads vectors of "
                                 f"{self.mean.shape[0]} values, not {pooled.shape[1]}.")
        return normalise_rows((normalise_rows(pooled) - self.mean) @ self.weight)


def save_head(path: Path, layer: int, mean: np.ndarray, weight: np.ndarray) -> str:
    """Write a head file as ``EmbedHead.load`` reads it; returns its sha256 (for its spec)."""
    buffer = io.BytesIO()
    np.savez(buffer, layer=np.array(layer), mean=mean.astype(np.float32),
             weight=weight.astype(np.float32))
    path.write_bytes(buffer.getvalue())
    return hashlib.sha256(buffer.getvalue()).hexdigest()

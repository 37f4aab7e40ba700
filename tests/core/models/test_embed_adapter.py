"""A trained embed head may come with a LoRA adapter (``HeadSpec.adapter``): llama.cpp applies it
to the embed context alone, so vectors change while chat keeps the base weights; a damaged or
foreign adapter file stops the load with a way out. Real GGUF through llama.cpp; the adapter
is random (a trained one is measured by ``bench/embed_head/lora.py``)."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from core.models import embed_head
from core.models.embed_head import BUNDLED_HEAD, EmbedHead, EmbedHeadError
from core.models.interface import ChatMessage, GenerationSettings
from core.models.llama.lora_file import write_lora
from core.resources import resource
from tests.core.models.test_embed_head import PASSAGES, QUESTION
from tests.core.models.test_lora_adapter import QUERY_WIDTH, WIDTH

model_test = pytest.mark.model

GREEDY = GenerationSettings(max_tokens=24, temperature=0.0)
COLOUR = [ChatMessage("user", "Name a colour of the sky.")]


def embed_adapter(path: Path, seed: int = 0) -> str:
    """A random adapter on the query and feed-forward weights of blocks 7-12 (below the head's
    block); returns its sha256."""
    draw = np.random.default_rng(seed)
    pairs = {}
    for block in range(7, 13):
        pairs[f"blk.{block}.attn_q.weight"] = (draw.normal(0, 0.05, (4, WIDTH)),
                                               draw.normal(0, 0.05, (QUERY_WIDTH, 4)))
        pairs[f"blk.{block}.ffn_up.weight"] = (draw.normal(0, 0.05, (4, WIDTH)),
                                               draw.normal(0, 0.05, (2048, 4)))
    write_lora(path, "gemma3", alpha=8.0, pairs=pairs)
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def adapted_heads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The bundled head's files beside a random adapter in a resource folder of their own; the
    spec the model takes names both. Returns (spec, folder)."""
    folder = tmp_path / "embed_heads"
    folder.mkdir()
    shutil.copy(resource("embed_heads", BUNDLED_HEAD.file), folder / BUNDLED_HEAD.file)
    digest = embed_adapter(folder / "adapter.gguf")
    spec = replace(BUNDLED_HEAD, name="test-adapted", adapter="adapter.gguf",
                   adapter_sha256=digest)
    monkeypatch.setattr(embed_head, "HEADS", (spec,))
    monkeypatch.setattr(embed_head, "resource", lambda *parts: folder.joinpath(*parts[1:]))
    return spec, folder


def test_the_adapter_file_is_checked_with_the_head(adapted_heads):
    spec, folder = adapted_heads
    head = EmbedHead.load(spec)
    assert head.adapter == folder / "adapter.gguf"
    (folder / "adapter.gguf").write_bytes(b"GGUF but not the adapter Kenning shipped")
    with pytest.raises(EmbedHeadError, match=r"trained search adapter adapter\.gguf is damaged"):
        EmbedHead.load(spec)
    (folder / "adapter.gguf").unlink()
    with pytest.raises(EmbedHeadError, match=r"could not be read.*Reinstall Kenning"):
        EmbedHead.load(spec)


@model_test
def test_vectors_go_through_the_adapter_and_chat_does_not(adapted_heads, default_gguf: Path,
                                                         real_model,
                                                         monkeypatch: pytest.MonkeyPatch):
    from core.models.llama.unified import UnifiedModel

    spec, _ = adapted_heads
    with UnifiedModel.load(default_gguf, n_ctx=2048, trained_head=True) as model:
        assert model.profile.embed_head == spec.tag and spec.tag in model.model_id
        adapted_docs = model.embed_documents(list(PASSAGES))
        adapted_query = model.embed_query(QUESTION)
        reply = "".join(model.chat_stream(COLOUR, GREEDY))
    # The same head without its adapter: what the vectors would be if it were ignored.
    monkeypatch.setattr(embed_head, "HEADS", (replace(spec, adapter="", adapter_sha256=""),))
    with UnifiedModel.load(default_gguf, n_ctx=2048, trained_head=True) as plain:
        plain_docs = plain.embed_documents(list(PASSAGES))
        plain_query = plain.embed_query(QUESTION)
    assert not np.allclose(adapted_docs, plain_docs, atol=0.02)
    assert not np.allclose(adapted_query, plain_query, atol=0.02)
    np.testing.assert_allclose(np.linalg.norm(adapted_docs, axis=1), 1.0, atol=1e-4)
    assert reply == "".join(real_model.chat_stream(COLOUR, GREEDY)) and reply.strip()


@model_test
def test_an_adapter_llama_cpp_cannot_apply_stops_the_load(adapted_heads, default_gguf: Path,
                                                           monkeypatch: pytest.MonkeyPatch):
    from core.models.llama.unified import UnifiedModel

    spec, folder = adapted_heads
    # Right checksum, wrong model: an adapter for another architecture.
    foreign = folder / "adapter.gguf"
    write_lora(foreign, "llama", alpha=8.0,
               pairs={"blk.0.attn_q.weight": (np.zeros((4, WIDTH)), np.zeros((QUERY_WIDTH, 4)))})
    digest = hashlib.sha256(foreign.read_bytes()).hexdigest()
    monkeypatch.setattr(embed_head, "HEADS", (replace(spec, adapter_sha256=digest),))
    with pytest.raises(EmbedHeadError, match=r"does not fit .*Reinstall Kenning"):
        UnifiedModel.load(default_gguf, n_ctx=2048, trained_head=True)

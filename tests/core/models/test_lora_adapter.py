"""A LoRA adapter on the reader's context only, through llama.cpp with the real default GGUF:
the scores it gives change, while answers and vectors stay those of the base weights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.models.interface import ChatMessage, GenerationSettings
from core.models.llama.lora_file import write_lora
from core.models.llama.unified import ModelLoadError, UnifiedModel

model_test = pytest.mark.model

GREEDY = GenerationSettings(max_tokens=24, temperature=0.0)
PAIRS = [("The tenant must give sixty days written notice.\nQuestion:", " How much notice?"),
         ("Tomatoes need full sun.\nQuestion:", " How much notice?")]
WIDTH = 640  # gemma-3-270m's
QUERY_WIDTH = 1024  # its four query heads of 256


def adapter(path: Path, *, architecture: str = "gemma3", rank: int = 4,
            seed: int = 0) -> Path:
    """A random adapter on every block's query and first feed-forward weight: strong enough to
    change every score, and unlike anything trained."""
    draw = np.random.default_rng(seed)
    pairs = {}
    for block in range(18):
        pairs[f"blk.{block}.attn_q.weight"] = (draw.normal(0, 0.05, (rank, WIDTH)),
                                               draw.normal(0, 0.05, (QUERY_WIDTH, rank)))
        pairs[f"blk.{block}.ffn_up.weight"] = (draw.normal(0, 0.05, (rank, WIDTH)),
                                               draw.normal(0, 0.05, (2048, rank)))
    write_lora(path, architecture, alpha=2.0 * rank, pairs=pairs)
    return path


def test_a_pair_whose_shapes_do_not_chain_is_refused(tmp_path: Path):
    with pytest.raises(ValueError, match="not a LoRA pair"):
        write_lora(tmp_path / "bad.gguf", "gemma3", 8.0,
                   {"blk.0.attn_q.weight": (np.zeros((4, WIDTH)), np.zeros((QUERY_WIDTH, 8)))})


@pytest.fixture(scope="module")
def adapted(default_gguf: Path, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("adapter")
    model = UnifiedModel.load(default_gguf, n_ctx=2048, cache_dir=folder,
                              reader_adapter=adapter(folder / "reader-lora.gguf"))
    yield model
    model.close()
    for copy in folder.glob("*.gguf"):
        copy.unlink()


@model_test
def test_the_adapter_changes_what_the_reader_scores(adapted, real_model):
    base = real_model.continuation_logprobs(PAIRS)
    changed = adapted.continuation_logprobs(PAIRS)
    for before, after in zip(base, changed, strict=True):
        assert before.shape == after.shape
        assert np.abs(before - after).max() > 0.05


@model_test
def test_answers_and_vectors_keep_the_base_weights(adapted, real_model):
    adapted.continuation_logprobs(PAIRS)  # the scoring context exists, adapter applied
    question = [ChatMessage("user", "What is the capital of France?")]
    assert "".join(adapted.chat_stream(question, GREEDY)) == \
        "".join(real_model.chat_stream(question, GREEDY))
    texts = ["Sixty days written notice.", "Tomatoes need full sun."]
    np.testing.assert_array_equal(adapted.embed_documents(texts),
                                  real_model.embed_documents(texts))


@model_test
@pytest.mark.parametrize("damage", ["missing", "truncated", "other model"])
def test_an_adapter_llama_cpp_cannot_apply_is_refused_clearly(damage, default_gguf: Path,
                                                               tmp_path: Path):
    path = tmp_path / "reader-lora.gguf"
    if damage == "truncated":
        adapter(path)
        path.write_bytes(path.read_bytes()[:5000])
    elif damage == "other model":
        adapter(path, architecture="llama")
    with pytest.raises(ModelLoadError, match=r"not a LoRA adapter llama\.cpp can apply"):
        UnifiedModel.load(default_gguf, n_ctx=2048, reader_adapter=path)

"""Zero-shot embedding recipes of the generic profile on the real default GGUF: the vector taken
from an inner layer, and centring on the model's common direction (both on by default for a
GGUF Kenning has no trained head for)."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import gguf
import numpy as np
import pytest

from core.models.embed_recipe import CENTRE_REFERENCE, cached_centre, resolve_layer
from core.models.llama.embed_input import EmbedInput
from core.models.llama.gguf_info import GENERIC
from core.models.llama.unified import UnifiedModel

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from bench.embed_tricks import cut_gguf

model_test = pytest.mark.model

# The generic recipe before issue 8: the final norm's rows, not centred.
FINAL = replace(GENERIC, embed_depth=1.0, centred=False)

RELATED = ("The tenant must give sixty days written notice before leaving the flat.",
           "A renter has to tell the landlord two months ahead before moving out.")
UNRELATED = ("Tomatoes need full sun and regular watering in summer.",
             "Quarterly revenue rose twelve percent on strong cloud sales.",
             "The wing's boundary layer separates near the trailing edge at high angles.")


@pytest.fixture(scope="module")
def layer_model(default_gguf: Path):
    with UnifiedModel.load(default_gguf, embed_batch_tokens=256,
                           profile=replace(FINAL, embed_layer=12)) as model:
        yield model


@pytest.fixture(scope="module")
def final_model(default_gguf: Path):
    with UnifiedModel.load(default_gguf, embed_batch_tokens=256, profile=FINAL) as model:
        yield model


def test_embed_depth_resolves_to_a_block_of_any_model():
    assert resolve_layer(GENERIC, 18).embed_layer == 15  # gemma-3-270m
    assert resolve_layer(GENERIC, 32).embed_layer == 27
    assert resolve_layer(FINAL, 18).embed_layer == -1
    assert resolve_layer(replace(FINAL, embed_layer=40), 18).embed_layer == -1  # no such block
    assert resolve_layer(replace(GENERIC, pooling="model"), 12).embed_layer == -1


@model_test
def test_the_zero_shot_recipe_reads_block_15_and_ranks_the_paraphrase_first(default_gguf):
    # What a GGUF without a trained head gets (the bundled one has a head: test_embed_head.py).
    with UnifiedModel.load(default_gguf, embed_batch_tokens=256, profile=GENERIC) as model:
        assert model.profile.embed_layer == 15 and model.profile.centred
        assert model.model_id.endswith("generic-mean-L15-centred-causal-r1")
        query = model.embed_query(RELATED[0])
        others = model.embed_documents([RELATED[1], *UNRELATED])
    np.testing.assert_allclose(np.linalg.norm(others, axis=1), 1.0, atol=1e-5)
    assert int(np.argmax(others @ query)) == 0


def _mean_pairwise_cosine(vectors: np.ndarray) -> float:
    sims = vectors @ vectors.T
    return float((sims.sum() - np.trace(sims)) / (len(vectors) * (len(vectors) - 1)))


@model_test
def test_inner_layer_rows_equal_a_gguf_cut_after_that_layer(layer_model, default_gguf,
                                                            tmp_path):
    # An independent route to the same rows: llama.cpp runs a GGUF holding only blocks 0..12
    # to its end, whose output is those rows through the output norm (times its weight).
    cut = cut_gguf(default_gguf, 13, tmp_path / "cut13.gguf")
    weight = next(t for t in gguf.GGUFReader(cut).tensors if t.name == "output_norm.weight")
    scale = np.asarray(weight.data, dtype=np.float64)
    with UnifiedModel.load(cut, embed_batch_tokens=256, profile=FINAL) as short:
        assert short.facts.fingerprint != layer_model.facts.fingerprint
        for text in (*RELATED, UNRELATED[0]):
            item = layer_model._embed_input(text, "")
            assert item.start == 1  # the BOS row is not pooled
            via_cut = short._embed([EmbedInput(item.tokens, item.start, item.end)])[0] / scale
            via_cut /= np.linalg.norm(via_cut)
            tapped = layer_model.embed_documents([text])[0]
            assert float(tapped @ via_cut) > 0.999


@model_test
def test_inner_layer_vectors_are_their_own_recipe(layer_model, final_model):
    assert layer_model.model_id.endswith("generic-mean-L12-causal-r1")
    assert layer_model.model_id != final_model.model_id
    texts = [*RELATED, *UNRELATED]
    vectors = layer_model.embed_documents(texts)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    one_by_one = np.stack([layer_model.embed_documents([t])[0] for t in texts])
    # Packed rows stay with their own text (flash attention's f16 sums move them a little).
    similarity = vectors @ one_by_one.T
    assert (similarity.argmax(axis=1) == np.arange(len(texts))).all()
    assert similarity.diagonal().min() > 0.998
    final = final_model.embed_documents(texts)
    assert float(np.min(np.sum(vectors * final, axis=1))) < 0.99  # not the last layer again


@model_test
def test_centring_removes_the_direction_every_text_shares(default_gguf, final_model):
    texts = [*RELATED, *UNRELATED]
    plain = final_model.embed_documents(texts)
    with UnifiedModel.load(default_gguf, embed_batch_tokens=256,
                           profile=replace(FINAL, centred=True)) as centred_model:
        assert centred_model.model_id.endswith("generic-mean-centred-causal-r1")
        centred = centred_model.embed_documents(texts)
        reference = centred_model.embed_documents(list(CENTRE_REFERENCE))
        query = centred_model.embed_query(RELATED[0])
    # Raw decoder vectors all point one way; centred ones are spread out...
    assert _mean_pairwise_cosine(plain) > 0.6
    assert _mean_pairwise_cosine(centred) < _mean_pairwise_cosine(plain) - 0.3
    # ...around the reference text's mean, which is (nearly) the origin after centring.
    assert float(np.linalg.norm(reference.mean(axis=0))) < 0.2
    # The paraphrase is still the nearest of the others.
    sims = centred[1:] @ query
    assert int(np.argmax(sims)) == 0


def test_the_centre_is_kept_for_the_next_load_and_rebuilt_when_unusable(tmp_path: Path) -> None:
    estimates: list[int] = []

    def estimate() -> np.ndarray:
        estimates.append(1)
        return np.arange(4, dtype=np.float64)

    first = cached_centre(tmp_path, "model-a", 4, estimate)
    again = cached_centre(tmp_path, "model-a", 4, estimate)
    assert len(estimates) == 1 and np.array_equal(first, again) and again.dtype == np.float32
    cached_centre(tmp_path, "model-b", 4, estimate)  # another model: its own centre
    assert len(estimates) == 2
    for damaged in tmp_path.glob("centre-*.npy"):
        damaged.write_bytes(b"not numpy")
    assert np.array_equal(cached_centre(tmp_path, "model-a", 4, estimate), first)
    assert len(estimates) == 3
    assert np.array_equal(cached_centre(None, "model-a", 4, estimate), first)  # no cache
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    assert np.array_equal(cached_centre(blocked, "model-a", 4, estimate), first)


@model_test
def test_a_load_with_a_kept_centre_embeds_exactly_as_a_fresh_one(
    default_gguf: Path, tmp_path: Path
) -> None:
    # The zero-shot recipe centres (the bundled file's trained head does not).
    with UnifiedModel.load(default_gguf, embed_batch_tokens=256, cache_dir=tmp_path,
                           trained_head=False) as fresh:
        expected = fresh.embed_documents(RELATED)
    assert len(list(tmp_path.glob("centre-*.npy"))) == 1
    with UnifiedModel.load(default_gguf, embed_batch_tokens=256, cache_dir=tmp_path,
                           trained_head=False) as kept:
        assert np.allclose(kept.embed_documents(RELATED), expected, atol=1e-5)

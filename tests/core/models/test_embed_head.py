"""The bundled model's trained embed head and adapter (``core.models.embed_head``): shipped intact,
applied to documents and queries by default with the fusion chosen for it, refused when a file
is damaged, kept out of chat, and named in the model's recipe so vectors of two recipes never
share an index."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from core.models import embed_head
from core.models.embed_head import (
    BUNDLED_HEAD,
    EmbedHead,
    EmbedHeadError,
    HeadFusion,
    bundled_head_tag,
    head_for,
    save_head,
)
from core.models.llama.gguf_header import file_fingerprint
from core.models.profiles import (
    ENCODER,
    GENERIC,
    GRIT,
    embed_recipe,
    with_trained_head,
    without_trained_head,
)
from core.resources import resource

model_test = pytest.mark.model

QUESTION = "How much notice must a tenant give before leaving?"
PASSAGES = ("The tenant must give sixty days written notice before leaving the flat.",
            "Tomatoes need full sun and regular watering in summer.",
            "Quarterly revenue rose twelve percent on strong cloud sales.")


def test_the_shipped_head_file_is_intact_and_fits_its_block():
    head = EmbedHead.load(BUNDLED_HEAD)
    assert head.spec.layer == 12 and head.weight.shape == (640, 640)
    assert np.isfinite(head.weight).all() and head.mean.shape == (640,)
    # a trained map, not the identity the training starts from
    assert not np.allclose(head.weight, np.eye(640), atol=1e-2)


def test_a_damaged_changed_or_missing_head_is_refused_with_a_way_out(tmp_path: Path):
    for name in filter(None, (BUNDLED_HEAD.file, BUNDLED_HEAD.adapter)):
        shutil.copy(resource("embed_heads", name), tmp_path / name)
    damaged = bytearray((tmp_path / BUNDLED_HEAD.file).read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    (tmp_path / BUNDLED_HEAD.file).write_bytes(bytes(damaged))
    with pytest.raises(EmbedHeadError, match=r"damaged or has been changed.*Reinstall Kenning"):
        EmbedHead.load(BUNDLED_HEAD, tmp_path)
    (tmp_path / BUNDLED_HEAD.file).unlink()
    with pytest.raises(EmbedHeadError, match=r"could not be read.*Reinstall Kenning"):
        EmbedHead.load(BUNDLED_HEAD, tmp_path)
    # a well-formed file for another block, with its own checksum, still does not fit
    sha = save_head(tmp_path / "other.npz", 9, np.zeros(640), np.eye(640))
    other = replace(BUNDLED_HEAD, file="other.npz", sha256=sha)
    with pytest.raises(EmbedHeadError, match="does not fit"):
        EmbedHead.load(other, tmp_path)


def test_the_head_maps_the_unit_pooled_state_through_its_trained_map():
    head = EmbedHead.load(BUNDLED_HEAD)
    pooled = np.random.default_rng(0).normal(size=(3, 640)).astype(np.float32) * 7
    vectors = head.apply(pooled)
    unit = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
    expected = (unit - head.mean) @ head.weight
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(vectors, expected, atol=1e-5)
    np.testing.assert_allclose(head.apply(pooled * 3), vectors, atol=1e-5)  # scale-free
    with pytest.raises(EmbedHeadError, match="640 values"):
        head.apply(pooled[:, :320])


def test_only_the_zero_shot_profile_of_the_trained_file_takes_the_head(
        monkeypatch: pytest.MonkeyPatch):
    fingerprint = BUNDLED_HEAD.model_fingerprint
    trained = with_trained_head(GENERIC, fingerprint, asked=True)
    assert (trained.embed_head, trained.embed_layer, trained.centred) == (
        BUNDLED_HEAD.tag, 12, False)
    # On by default, it needs no asking; a head that is off is taken only when asked for.
    assert BUNDLED_HEAD.on_by_default and bundled_head_tag() == BUNDLED_HEAD.tag
    assert with_trained_head(GENERIC, fingerprint) == trained
    monkeypatch.setattr(embed_head, "HEADS", (replace(BUNDLED_HEAD, on_by_default=False),))
    assert with_trained_head(GENERIC, fingerprint) == GENERIC
    assert with_trained_head(GENERIC, fingerprint, asked=True) == trained
    assert with_trained_head(GENERIC, "0123456789ab", asked=True) == GENERIC  # a user's GGUF
    assert with_trained_head(GRIT, fingerprint, asked=True) == GRIT
    assert with_trained_head(ENCODER, fingerprint, asked=True) == ENCODER
    assert head_for("0123456789ab", asked=True) is None
    assert embed_recipe(GENERIC.name, BUNDLED_HEAD.tag)[0] == "trained"
    assert embed_recipe(GENERIC.name)[0] == "zero-shot"


def _fusion(profile):
    return (profile.dense_weight, profile.weight_by_agreement, profile.dense_only,
            profile.min_similarity)


def test_a_head_brings_its_own_fusion_and_takes_it_away_again(monkeypatch: pytest.MonkeyPatch):
    fingerprint = BUNDLED_HEAD.model_fingerprint
    own = HeadFusion(dense_weight=1.5, weight_by_agreement=False, dense_only=3,
                     min_similarity=0.25)
    monkeypatch.setattr(embed_head, "HEADS", (replace(BUNDLED_HEAD, fusion=own),))
    trained = with_trained_head(GENERIC, fingerprint, asked=True)
    assert _fusion(trained) == (1.5, False, 3, 0.25) != _fusion(GENERIC)
    # A build that cannot read the head's block embeds from the last layer, fused as before.
    plain = without_trained_head(trained)
    assert (plain.embed_head, plain.embed_layer) == ("", -1)
    assert _fusion(plain) == _fusion(GENERIC)
    # A head without a fusion of its own keeps the zero-shot profile's.
    monkeypatch.setattr(embed_head, "HEADS", (replace(BUNDLED_HEAD, fusion=None),))
    assert _fusion(with_trained_head(GENERIC, fingerprint, asked=True)) == _fusion(GENERIC)


def test_the_bundled_model_is_the_file_its_head_was_trained_on(default_gguf: Path):
    assert file_fingerprint(default_gguf) == BUNDLED_HEAD.model_fingerprint
    from core.models.check import check_model

    assert check_model(default_gguf).embed_head == bundled_head_tag()


@pytest.fixture(scope="module")
def head_model(default_gguf: Path):
    """The bundled model embedding through its trained head (on by default; asked for all the
    same, so the test keeps reading the head if it is ever turned off)."""
    from core.models.llama.unified import UnifiedModel

    with UnifiedModel.load(default_gguf, n_ctx=2048, trained_head=True) as model:
        yield model


@model_test
def test_the_bundled_model_embeds_documents_and_queries_through_its_head(head_model,
                                                                         default_gguf: Path):
    from core.models.llama.unified import UnifiedModel

    assert head_model.profile.embed_head == BUNDLED_HEAD.tag
    assert head_model.profile.embed_layer == 12 and not head_model.profile.centred
    assert f"-L12-head-{BUNDLED_HEAD.tag}-" in head_model.model_id
    head = EmbedHead.load(BUNDLED_HEAD)
    # The same block without a head gives the plain pooled state; the head maps it. Its
    # adapter changes the blocks below, so the plain model computes through it too.
    plain_profile = replace(GENERIC, embed_layer=12, centred=False)
    with UnifiedModel.load(default_gguf, n_ctx=2048, profile=plain_profile) as plain:
        assert "head" not in plain.model_id and plain.model_id != head_model.model_id
        unadapted_docs = plain.embed_documents(list(PASSAGES))
        if head.adapter is not None:
            plain._use_embed_adapter(head.adapter)
        pooled_docs = plain.embed_documents(list(PASSAGES))
        pooled_query = plain.embed_query(QUESTION)
    docs = head_model.embed_documents(list(PASSAGES))
    query = head_model.embed_query(QUESTION)
    np.testing.assert_allclose(docs, head.apply(pooled_docs), atol=2e-3)
    np.testing.assert_allclose(query, head.apply(pooled_query[None])[0], atol=2e-3)
    assert not np.allclose(docs, pooled_docs, atol=0.05)
    if head.adapter is not None:  # the adapter is used, not only loaded
        assert not np.allclose(docs, head.apply(unadapted_docs), atol=0.02)
    assert int(np.argmax(docs @ query)) == 0  # the notice passage answers the question


@model_test
def test_a_damaged_head_stops_the_load_with_a_clear_message(home: Path,
                                                             monkeypatch: pytest.MonkeyPatch):
    from core.config import AppPaths, Settings
    from core.services import ModelUnavailable, load_default_or_chosen_model

    changed = replace(BUNDLED_HEAD, sha256="0" * 64, on_by_default=True)
    monkeypatch.setattr(embed_head, "HEADS", (changed,))
    with pytest.raises(ModelUnavailable) as refused:
        load_default_or_chosen_model(Settings(), AppPaths.resolve(home))
    message = str(refused.value)
    assert "damaged or has been changed" in message and "Reinstall Kenning" in message
    assert "Choose another GGUF" not in message  # another model is not the way out


@model_test
def test_chat_writes_the_same_bytes_with_and_without_the_head(head_model, default_gguf: Path):
    from core.models.llama.unified import UnifiedModel

    prompt = "User: Name a colour of the sky.\n\nAssistant:"
    with_head = head_model.complete_line(prompt, max_tokens=12)
    with UnifiedModel.load(default_gguf, n_ctx=2048, trained_head=False) as plain:
        assert plain.profile.embed_head == ""
        assert plain.complete_line(prompt, max_tokens=12) == with_head
    assert with_head.strip()


@model_test
def test_an_index_from_before_the_head_is_searched_until_the_head_has_caught_up(
        head_model, default_gguf: Path, tmp_path: Path, extractor):
    # An upgrade: the folder was embedded by the zero-shot recipe of the same file.
    from core.config import Settings
    from core.index.indexer import Indexer
    from core.models.llama.unified import UnifiedModel
    from core.search.handover import PreviousVectorsModel, with_previous_vectors
    from core.search.retrieval import search
    from core.store.database import Store

    folder = tmp_path / "docs"
    folder.mkdir()
    for number, text in enumerate(PASSAGES):
        (folder / f"note{number}.txt").write_text(text, encoding="utf-8")
    store = Store.open(tmp_path / "index.db")
    with UnifiedModel.load(default_gguf, n_ctx=2048, trained_head=False) as before:
        with Indexer(store, before, Settings(), extractor) as indexer:
            indexer.add_folder(folder)
            indexer.run()
        old_id = before.model_id

    def load(path: Path) -> UnifiedModel:
        return UnifiedModel.load(path, n_ctx=2048, trained_head=True)

    def load_zero_shot(path: Path) -> UnifiedModel:
        return UnifiedModel.load(path, n_ctx=2048, trained_head=False)

    model = with_previous_vectors(store, head_model, load, load_zero_shot)
    try:
        assert isinstance(model, PreviousVectorsModel) and model.model_id == old_id
        result = search(store, QUESTION, model, mode="semantic")
        assert result.semantic_used and Path(result.hits[0].path).name == "note0.txt"
    finally:
        model.close()
    with Indexer(store, head_model, Settings(), extractor) as indexer:
        indexer.embed_pending()
    assert with_previous_vectors(store, head_model, load, load_zero_shot) is head_model
    store.close()

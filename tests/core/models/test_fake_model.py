"""The fake model keeps the ``TextModel`` contract, so tests built on it mean something."""

from __future__ import annotations

import numpy as np

from core.cancel import CancelToken
from core.models.interface import ChatMessage, GenerationSettings, TextModel
from tests.fakes import FakeModel


def test_it_is_a_text_model_with_a_stable_identity():
    model = FakeModel()
    assert isinstance(model, TextModel)
    assert model.model_id == "fake-bow-64"
    assert model.dim == 64 and model.n_ctx > 0 and model.embed_max_tokens > 0


def test_document_vectors_are_normalised_float32_and_deterministic():
    texts = ["The rent is due monthly.", "Bake the bread for forty minutes.", ""]
    first = FakeModel().embed_documents(texts)
    assert first.shape == (3, 64) and first.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(first, FakeModel().embed_documents(texts))
    assert np.isfinite(first).all()


def test_shared_words_make_texts_closer():
    model = FakeModel()
    query = model.embed_query("notice before leaving the flat")
    near, far = model.embed_documents([
        "The tenant must give sixty days notice before leaving the flat.",
        "Bake the bread at 220 degrees for forty minutes.",
    ])
    assert float(query @ near) > float(query @ far) + 0.3


def test_query_and_document_agree_and_batches_match_single_calls():
    model = FakeModel()
    texts = ["alpha beta", "gamma delta", "alpha gamma"]
    batch = model.embed_documents(texts)
    for row, text in enumerate(texts):
        np.testing.assert_array_equal(batch[row], model.embed_documents([text])[0])
        np.testing.assert_array_equal(batch[row], model.embed_query(text))


def test_embedded_texts_counts_documents_only():
    model = FakeModel()
    model.embed_documents(["one", "two"])
    model.embed_query("three")
    assert model.embedded_texts == 2


def test_count_tokens_splits_words_and_punctuation():
    model = FakeModel()
    assert model.count_tokens("Hello, world!") == 4
    assert model.count_tokens("") == 0


def test_scripted_reply_streams_word_by_word():
    pieces = list(FakeModel(reply="one two three").chat_stream([ChatMessage("user", "hi")]))
    assert pieces == ["one ", "two ", "three"]


def test_without_a_script_it_echoes_the_last_user_message():
    messages = [ChatMessage("system", "rules"), ChatMessage("user", "What is due?")]
    assert "".join(FakeModel().chat_stream(messages)) == "What is due?"


def test_max_tokens_and_stop_strings_cut_the_reply():
    model = FakeModel(reply="a b c d e f")
    assert "".join(model.chat_stream([], GenerationSettings(max_tokens=2))) == "a b "
    assert "".join(model.chat_stream([], GenerationSettings(stop=(" d",)))) == "a b c"


def test_cancel_stops_between_pieces():
    token = CancelToken()
    pieces = []
    for piece in FakeModel(reply="w " * 50).chat_stream([], cancel=token):
        pieces.append(piece)
        if len(pieces) == 3:
            token.cancel()
    assert len(pieces) == 3


def test_close_is_recorded():
    model = FakeModel()
    model.close()
    assert model.closed

"""Late chunking: a file's passages embedded together, in order, so each vector also reads the
passages before it. The indexer path runs on the fake model (every chunk gets its own vector,
windows stay bounded, the default path is untouched); the model path on the real GGUF."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from core.cancel import CancelToken, Progress
from core.config import Settings
from core.index.indexer import Indexer, embedding_input
from core.models.paired import PairedModel
from core.models.worker import ModelWorker, Priority
from core.store.database import Store
from tests.core.index.test_embed_order import deep_folder, ordinals_of, record_vector_order
from tests.fakes import FakeModel

LATE = Settings(chunk_tokens=40, late_chunking=True)
DEFAULT = Settings(chunk_tokens=40)
WINDOW = 100  # the fake's embed window: two or three 40-token chunks


class RecordingModel(FakeModel):
    """The fake model (pieces embedded alone), noting every ``embed_in_context`` call."""

    def __init__(self, embed_max_tokens: int = WINDOW) -> None:
        super().__init__(embed_max_tokens=embed_max_tokens)
        self.context_calls: list[list[str]] = []

    def embed_in_context(self, pieces: Sequence[str]) -> np.ndarray:
        self.context_calls.append(list(pieces))
        return super().embed_in_context(pieces)


def indexed(tmp_path: Path, extractor, settings: Settings, model: FakeModel) -> tuple[Store,
                                                                                     Indexer]:
    store = Store.open(tmp_path / "index.db")
    indexer = Indexer(store, model, settings, extractor)
    indexer.add_folder(deep_folder(tmp_path / "docs"))
    indexer.scan()
    indexer.extract_pending()
    return store, indexer


def stored_vectors(store: Store, model_id: str) -> dict[int, np.ndarray]:
    table = store.chunks.vec_table(model_id)
    return {int(chunk_id): np.frombuffer(blob, dtype=np.float32)
            for chunk_id, blob in store.conn.execute(f"SELECT chunk_id, embedding FROM {table}")}


def embedded_inputs(store: Store) -> dict[int, str]:
    """Each chunk's text as the indexer hands it to the model."""
    rows = store.conn.execute("SELECT c.id, coalesce(f.title, ''), c.heading, c.text "
                              "FROM chunks c JOIN files f ON f.id = c.file_id")
    return {int(i): embedding_input(title, heading, text) for i, title, heading, text in rows}


def test_late_chunking_embeds_each_file_in_order_in_bounded_windows(tmp_path, extractor):
    model = RecordingModel()
    store, indexer = indexed(tmp_path, extractor, LATE, model)
    try:
        stored = record_vector_order(store)
        chunk_count = store.count("SELECT count(*) FROM chunks")
        assert indexer.embed_pending() == chunk_count

        # Every chunk has exactly one vector, and it is its own text's (nothing shifted).
        assert sorted(stored) == sorted(set(stored)) and len(stored) == chunk_count
        inputs = embedded_inputs(store)
        for chunk_id, vector in stored_vectors(store, model.model_id).items():
            np.testing.assert_allclose(vector, model.embed_query(inputs[chunk_id]), atol=1e-6)
        assert store.count("SELECT count(*) FROM files WHERE state != 'embedded'") == 0

        # A file at a time, its chunks in document order, several windows per file.
        order = ordinals_of(store, stored)
        files = list(dict.fromkeys(file_id for file_id, _ in order))
        assert order == sorted(order, key=lambda fo: (files.index(fo[0]), fo[1]))
        assert len(model.context_calls) > len(files)
        for pieces in model.context_calls:
            assert sum(model.count_tokens(p) for p in pieces) <= WINDOW
        assert sum(len(p) for p in model.context_calls) == chunk_count
    finally:
        store.close()


def test_late_chunking_stopped_midway_resumes_without_losing_or_redoing_chunks(tmp_path,
                                                                                extractor):
    model = RecordingModel()
    store, indexer = indexed(tmp_path, extractor, LATE, model)
    try:
        stored = record_vector_order(store)
        chunk_count = store.count("SELECT count(*) FROM chunks")
        cancel = CancelToken()

        def stop_early(p: Progress) -> None:
            if p.phase == "embed" and p.done >= 5:
                cancel.cancel()

        first = indexer.embed_pending(stop_early, cancel)
        assert 5 <= first < chunk_count
        assert indexer.embed_pending() == chunk_count - first
        assert sorted(stored) == sorted(set(stored)) and len(stored) == chunk_count
        assert store.count("SELECT count(*) FROM files WHERE state != 'embedded'") == 0
    finally:
        store.close()


def test_late_chunking_embeds_the_focused_folder_first(tmp_path, extractor):
    model = RecordingModel()
    store, indexer = indexed(tmp_path, extractor, LATE, model)
    try:
        focused = deep_folder(tmp_path / "asked")
        indexer.add_folder(focused)
        indexer.scan()
        indexer.extract_pending()
        indexer.focus = [str(focused.resolve())]
        stored = record_vector_order(store)
        indexer.embed_pending()
        paths = dict(store.conn.execute(
            "SELECT c.id, f.path FROM chunks c JOIN files f ON f.id = c.file_id"))
        in_focus = [str(paths[i]).startswith(str(focused.resolve())) for i in stored]
        assert len(in_focus) == len(paths)
        assert in_focus == sorted(in_focus, reverse=True), "a file outside the focus came first"
    finally:
        store.close()


def test_default_path_is_breadth_first_and_never_embeds_in_context(tmp_path, extractor):
    model = RecordingModel()
    store, indexer = indexed(tmp_path, extractor, DEFAULT, model)
    try:
        stored = record_vector_order(store)
        indexer.embed_pending(batch_chunks=4)
        ordinals = [ordinal for _, ordinal in ordinals_of(store, stored)]
        assert ordinals == sorted(ordinals) and len(ordinals) == store.count(
            "SELECT count(*) FROM chunks")
        assert model.context_calls == []
    finally:
        store.close()


def test_worker_client_and_paired_model_pass_embed_in_context_on():
    embedder = RecordingModel()
    paired = PairedModel(embedder=embedder, chat=FakeModel())
    worker = ModelWorker(paired)
    try:
        client = worker.client(Priority.BACKGROUND)
        assert client.embed_max_tokens == WINDOW
        vectors = client.embed_in_context(["lease notice", "garden river"])
        assert vectors.shape == (2, embedder.dim)
        assert embedder.context_calls == [["lease notice", "garden river"]]
    finally:
        worker.stop()


# --- the real model -----------------------------------------------------------------------------

SECTION = [
    "Lease agreement between the landlord and the tenant for the flat on River Street.",
    "It must be given sixty days before the end of the term, in writing.",
    "Rent is due on the first day of each month by bank transfer.",
]


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.model
def test_one_piece_in_context_is_the_piece_embedded_alone(real_model):
    alone = real_model.embed_documents(SECTION[:1])
    in_context = real_model.embed_in_context(SECTION[:1])
    assert in_context.shape == (1, real_model.dim)
    assert cosine(alone[0], in_context[0]) > 0.999


@pytest.mark.model
def test_later_pieces_read_the_earlier_ones(real_model):
    alone = real_model.embed_documents(SECTION)
    in_context = real_model.embed_in_context(SECTION)
    assert in_context.shape == (len(SECTION), real_model.dim)
    np.testing.assert_allclose(np.linalg.norm(in_context, axis=1), 1.0, atol=1e-5)
    # Causal attention: the first piece sees only itself; the others see what came before.
    assert cosine(alone[0], in_context[0]) > 0.999
    for later in (1, 2):
        assert cosine(alone[later], in_context[later]) < 0.99
    # The same second piece after a different first one: a different vector.
    other = real_model.embed_in_context(["Notes on growing tomatoes in a small garden.",
                                         SECTION[1]])
    assert cosine(other[1], in_context[1]) < 0.99


@pytest.mark.model
def test_pieces_beyond_the_embed_window_start_a_new_run(real_model):
    sentence = "The tenant keeps the garden tidy and reports any damage to the landlord. "
    piece = sentence * max(1, (real_model.embed_max_tokens // 2 - 8)
                           // real_model.count_tokens(sentence))
    assert 2 * real_model.count_tokens(piece) < real_model.embed_max_tokens
    assert 3 * real_model.count_tokens(piece) > real_model.embed_max_tokens
    pieces = [piece, piece.replace("garden", "hallway"), piece.replace("garden", "roof")]
    alone = real_model.embed_documents(pieces)
    in_context = real_model.embed_in_context(pieces)
    assert in_context.shape == (3, real_model.dim) and np.isfinite(in_context).all()
    assert cosine(alone[1], in_context[1]) < 0.99  # read after the first piece
    assert cosine(alone[2], in_context[2]) > 0.999  # did not fit: starts the next run

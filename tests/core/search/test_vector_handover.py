"""After a switch of model, search keeps reading the previous model's vectors (its queries
embedded by that model) until the new model's set has caught up; then the new set is used.
Real SQLite + sqlite-vec, real files, fake models of different widths (so different ids)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import Settings
from core.index.indexer import Indexer
from core.models.interface import ChatMessage
from core.search.handover import (
    PreviousVectorsModel,
    fuller_previous_set,
    handover_complete,
    with_previous_vectors,
)
from core.search.retrieval import search
from core.store.database import Store
from tests.fakes import FakeModel

FILES = {
    "garden.txt": "Tomatoes need full sun, rich compost and regular watering in summer.",
    "lease.txt": "The tenant gives sixty days of written notice before leaving the flat.",
    "bread.txt": "Bake the loaf for forty minutes until the crust is golden.",
}


def old_model(source: Path) -> FakeModel:
    model = FakeModel(dim=64)
    model.vector_source = str(source)
    return model


@pytest.fixture
def switched(tmp_path: Path, extractor) -> tuple[Store, Indexer, FakeModel, Path]:
    """A folder fully embedded by the old model, then the new model chosen (nothing of it
    embedded yet)."""
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in FILES.items():
        (folder / name).write_text(text, encoding="utf-8")
    source = tmp_path / "old.gguf"
    source.write_bytes(b"GGUF")
    store = Store.open(tmp_path / "index.db")
    with Indexer(store, old_model(source), Settings(), extractor) as first:
        first.add_folder(folder)
        first.run()
    new = FakeModel(reply="Written by the new model.", dim=32)
    second = Indexer(store, new, Settings(), extractor)
    yield store, second, new, source
    second.close()
    store.close()


def test_search_reads_the_previous_vectors_until_the_new_set_catches_up(switched) -> None:
    store, indexer, new, source = switched
    loaded: list[Path] = []

    def load(path: Path) -> FakeModel:
        loaded.append(path)
        return old_model(path)

    def never(text: str) -> None:
        raise AssertionError("a query must not be embedded by a model whose vectors it skips")

    new.embed_query = never  # type: ignore[method-assign]
    model = with_previous_vectors(store, new, load)
    assert isinstance(model, PreviousVectorsModel)
    assert loaded == [source] and model.model_id == "fake-bow-64"
    result = search(store, "tomatoes in full sun", model, mode="semantic")
    assert result.semantic_used and Path(result.hits[0].path).name == "garden.txt"
    # Answers are still the new model's.
    assert "".join(model.chat_stream([ChatMessage("user", "q")])) == "Written by the new model."

    # One passage of the new set is not enough to switch.
    first = store.count("SELECT min(id) FROM chunks")
    store.chunks.add_vectors(new.model_id, [first], new.embed_documents(["garden"]))
    assert not handover_complete(store, new.model_id)

    indexer.embed_pending()
    assert handover_complete(store, new.model_id)
    assert with_previous_vectors(store, new, load) is new
    assert loaded == [source]  # nothing more loaded once the new set is complete


def test_the_new_set_is_searched_when_the_previous_model_cannot_be(switched) -> None:
    store, _, new, source = switched

    def broken(path: Path) -> FakeModel:
        raise OSError("llama.cpp could not load old.gguf")

    assert with_previous_vectors(store, new, broken) is new

    replaced = FakeModel(dim=48)  # the file at that path now makes other vectors
    assert with_previous_vectors(store, new, lambda path: replaced) is new
    assert replaced.closed

    source.unlink()
    assert fuller_previous_set(store, new.model_id) is None


def test_after_an_upgrade_gives_a_file_a_trained_head_its_zero_shot_vectors_are_searched(
        switched) -> None:
    # The previous set came from the same file before Kenning shipped a head for it: loaded
    # as usual the file now makes other vectors; loaded zero-shot it makes the set's own.
    store, _, new, source = switched
    with_head = FakeModel(dim=48)
    zero_shot: list[Path] = []

    def load_zero_shot(path: Path) -> FakeModel:
        zero_shot.append(path)
        return old_model(path)

    model = with_previous_vectors(store, new, lambda path: with_head, load_zero_shot)
    assert isinstance(model, PreviousVectorsModel) and model.model_id == "fake-bow-64"
    assert with_head.closed and zero_shot == [source]
    result = search(store, "tomatoes in full sun", model, mode="semantic")
    assert Path(result.hits[0].path).name == "garden.txt"
    # Neither recipe of the file made the set: the new set is searched as it is.
    other = FakeModel(dim=40)
    assert with_previous_vectors(store, new, lambda path: FakeModel(dim=48),
                                 lambda path: other) is new
    assert other.closed


def test_closing_the_handover_frees_the_previous_model_only(switched) -> None:
    store, _, new, source = switched
    previous = old_model(source)
    model = with_previous_vectors(store, new, lambda path: previous)
    model.close()
    assert previous.closed and not new.closed
    with pytest.raises(RuntimeError, match="Search again"):
        model.embed_query("tomatoes")


def test_switching_back_reuses_the_vectors_still_on_disk(switched, extractor) -> None:
    store, indexer, _, source = switched
    indexer.embed_pending()  # the new model's set completes
    old_again = old_model(source)
    with Indexer(store, old_again, Settings(), extractor) as back:
        assert back.embed_pending() == 0  # nothing changed: every old vector is still there
    assert old_again.embedded_texts == 0
    assert handover_complete(store, old_again.model_id)

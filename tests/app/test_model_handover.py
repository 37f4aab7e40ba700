"""The window after a switch of model: search reads the previous model's vectors while the
new model embeds, then moves to the new set and unloads the previous model."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from app.main import build_window
from core.config import AppPaths, Settings
from core.index.indexer import Indexer
from core.search.retrieval import search
from core.services import Services
from core.store.database import Store
from tests.fakes import FakeModel

WAIT_MS = 20_000


def test_search_moves_to_the_new_vectors_once_they_are_complete(
    qtbot: QtBot, paths: AppPaths, folder: Path, tmp_path: Path
) -> None:
    source = tmp_path / "old.gguf"
    source.write_bytes(b"GGUF")
    old = FakeModel(dim=64)
    old.vector_source = str(source)
    store = Store.open(paths.database)
    with Indexer(store, old, Settings()) as indexer:
        indexer.add_folder(folder)
        indexer.run()
    store.close()

    reloaded: list[FakeModel] = []

    def load_for_queries(path: Path) -> FakeModel:
        assert path == source
        reloaded.append(FakeModel(dim=64))
        return reloaded[-1]

    services = Services(paths, Settings(), model_loader=lambda *_: FakeModel(dim=32))
    services.load_for_queries = load_for_queries  # type: ignore[method-assign]
    window = build_window(services)
    qtbot.addWidget(window)
    engine = window.engine
    engine.set_paused(True)  # hold the new model's embedding back
    try:
        engine.start()
        qtbot.waitUntil(lambda: engine.interactive_model is not None, timeout=WAIT_MS)
        assert engine.in_handover and len(reloaded) == 1
        assert "still embedding" in engine.model_description
        assert "fake-bow-32" in engine.model_description  # the chosen model is described
        searching = engine.interactive_model
        assert searching is not None and searching.model_id == "fake-bow-64"
        reader = Store.open_reader(paths.database)
        try:
            result = search(reader, "tomatoes in full sun", searching, mode="semantic")
        finally:
            reader.close()
        assert result.semantic_used and Path(result.hits[0].path).name == "garden.md"

        engine.set_paused(False)
        qtbot.waitUntil(lambda: not engine.in_handover, timeout=WAIT_MS)
        assert engine.interactive_model is not None
        assert engine.interactive_model.model_id == "fake-bow-32"
        qtbot.waitUntil(lambda: reloaded[0].closed, timeout=WAIT_MS)
        assert "still embedding" not in engine.model_description
    finally:
        engine.shutdown()

"""Embedding order: every file's first chunk is embedded before any file's second, so each
file becomes findable by meaning early; a restart carries on where the last run stopped."""

from __future__ import annotations

from pathlib import Path

from core.cancel import CancelToken, Progress
from core.config import Settings
from core.index.indexer import Indexer
from core.store.database import Store
from tests.fakes import FakeModel
from tests.index_checks import assert_consistent, vector_count

WORDS = ["lease", "tenant", "notice", "garden", "invoice", "budget", "river", "violin"]
FILES = 12
CHUNKS_PER_FILE = 4
SETTINGS = Settings(chunk_tokens=40)


def deep_folder(root: Path) -> Path:
    """Files of several chunks each (small chunk size), distinct words per file."""
    root.mkdir(parents=True)
    for i in range(FILES):
        paragraphs = [
            " ".join(f"{WORDS[(i + j + k) % len(WORDS)]}{i}" for k in range(30)) + "."
            for j in range(CHUNKS_PER_FILE)
        ]
        (root / f"note{i:02d}.txt").write_text("\n\n".join(paragraphs), encoding="utf-8")
    return root


def record_vector_order(store: Store) -> list[int]:
    """Chunk ids in the order the indexer stores their vectors (vec0 keeps no insert order)."""
    stored: list[int] = []
    add_vectors = store.chunks.add_vectors

    def recording(model_id, ids, vectors):
        stored.extend(ids)
        add_vectors(model_id, ids, vectors)

    store.chunks.add_vectors = recording  # type: ignore[method-assign]
    return stored


def ordinals_of(store: Store, chunk_ids: list[int]) -> list[tuple[int, int]]:
    """(file id, chunk ordinal) of each chunk, in the given order."""
    rows = dict(
        (int(i), (int(f), int(o)))
        for i, f, o in store.conn.execute("SELECT id, file_id, ordinal FROM chunks")
    )
    return [rows[i] for i in chunk_ids]


def files_with_vectors(store: Store, table: str) -> int:
    return store.count(
        f"SELECT count(DISTINCT c.file_id) FROM {table} v JOIN chunks c ON c.id = v.chunk_id"
    )


def test_first_chunks_of_all_files_are_embedded_before_any_second_chunk(tmp_path, extractor):
    folder = deep_folder(tmp_path / "docs")
    model = FakeModel()
    store = Store.open(tmp_path / "index.db")
    try:
        indexer = Indexer(store, model, SETTINGS, extractor)
        indexer.add_folder(folder)
        indexer.scan()
        indexer.extract_pending()
        chunk_count = store.count("SELECT count(*) FROM chunks")
        assert chunk_count >= FILES * 2, "the files must be several chunks long for this test"

        cancel = CancelToken()

        def stop_after_one_chunk_per_file(p: Progress) -> None:
            if p.phase == "embed" and p.done >= FILES:
                cancel.cancel()

        stored = record_vector_order(store)
        indexer.embed_pending(stop_after_one_chunk_per_file, cancel, batch_chunks=4)
        table = store.chunks.vec_table(model.model_id)
        assert table is not None
        order = ordinals_of(store, stored)
        assert len(order) == FILES
        assert {ordinal for _, ordinal in order} == {0}
        assert files_with_vectors(store, table) == FILES

        indexer.embed_pending(batch_chunks=4)
        order = ordinals_of(store, stored)
        ordinals = [ordinal for _, ordinal in order]
        assert ordinals == sorted(ordinals), "a deeper chunk was embedded before a shallower one"
        assert len(order) == chunk_count
        assert store.count("SELECT count(*) FROM files WHERE state = 'embedded'") == FILES
    finally:
        store.close()


def test_restart_after_a_stop_resumes_breadth_first_without_redoing_work(tmp_path, extractor):
    folder = deep_folder(tmp_path / "docs")
    database = tmp_path / "index.db"
    model = FakeModel()
    store = Store.open(database)
    try:
        indexer = Indexer(store, model, SETTINGS, extractor)
        indexer.add_folder(folder)
        cancel = CancelToken()

        def stop_midway(p: Progress) -> None:
            if p.phase == "embed" and p.done >= FILES + 4:
                cancel.cancel()

        stored = record_vector_order(store)
        indexer.run(stop_midway, cancel)
        table = store.chunks.vec_table(model.model_id)
        assert table is not None
        before = ordinals_of(store, stored)
        assert FILES <= len(before) < store.count("SELECT count(*) FROM chunks")
        assert files_with_vectors(store, table) == FILES
    finally:
        store.close()

    store = Store.open(database)  # a new process would see exactly this
    try:
        embedded_calls: list[int] = []
        counting = FakeModel()
        original = counting.embed_documents

        def counted(texts):
            embedded_calls.append(len(texts))
            return original(texts)

        counting.embed_documents = counted  # type: ignore[method-assign]
        resumed_ids = record_vector_order(store)
        Indexer(store, counting, SETTINGS, extractor).run()
        table = store.chunks.vec_table(model.model_id)
        assert table is not None
        chunk_count = store.count("SELECT count(*) FROM chunks")
        assert not set(resumed_ids) & set(stored), "vectors from the first run were redone"
        assert sum(embedded_calls) == len(resumed_ids) == chunk_count - len(before)
        assert vector_count(store, model.model_id) == chunk_count
        resumed = [ordinal for _, ordinal in ordinals_of(store, resumed_ids)]
        assert resumed == sorted(resumed)
        assert_consistent(store, model.model_id)
    finally:
        store.close()

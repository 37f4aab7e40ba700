"""Checks of an index's inner consistency, shared by the resilience, watcher and bad-input
tests: every chunk has one full-text row and (once embedded) one vector, nothing is
duplicated or orphaned, and two indexes of the same tree hold the same things."""

from __future__ import annotations

from core.store.database import Store


def assert_consistent(store: Store, model_id: str) -> None:
    """Chunks, full-text rows and vectors agree, with nothing duplicated or orphaned."""
    # Raises if the full-text index differs in any way from the chunk rows it indexes.
    store.conn.execute("INSERT INTO chunks_fts(chunks_fts) VALUES ('integrity-check')")
    chunks = store.count("SELECT count(*) FROM chunks")
    # One docsize row per indexed row (a count of chunks_fts itself would read the chunks).
    assert store.count("SELECT count(*) FROM chunks_fts_docsize") == chunks
    duplicates = store.count(
        "SELECT count(*) FROM (SELECT 1 FROM chunks GROUP BY file_id, ordinal HAVING count(*) > 1)"
    )
    assert duplicates == 0, "a chunk is stored twice"
    assert (
        store.count("SELECT count(*) FROM chunks WHERE file_id NOT IN (SELECT id FROM files)") == 0
    )
    table = store.chunks.vec_table(model_id)
    if table is None:
        return
    assert (
        store.count(f"SELECT count(*) FROM {table} WHERE chunk_id NOT IN (SELECT id FROM chunks)")
        == 0
    )
    unembedded = store.count(
        "SELECT count(*) FROM chunks c JOIN files f ON f.id = c.file_id "
        "WHERE f.state = 'embedded' AND NOT EXISTS "
        f"(SELECT 1 FROM {table} v WHERE v.chunk_id = c.id)"
    )
    assert unembedded == 0, "a file marked embedded has chunks without vectors"
    assert (
        store.count(
            "SELECT count(*) FROM files WHERE state IN ('failed', 'skipped') AND id IN "
            "(SELECT file_id FROM chunks)"
        )
        == 0
    ), "a failed or skipped file still has chunks"


def vector_count(store: Store, model_id: str) -> int:
    table = store.chunks.vec_table(model_id)
    return store.count(f"SELECT count(*) FROM {table}") if table else 0


def snapshot(store: Store) -> tuple[set[tuple[str, str | None, str]], list[tuple[str, int, str]]]:
    """What an index holds, independent of row ids: (path, content hash, state) of every file
    and (path, ordinal, text) of every chunk."""
    files = {
        (str(p), None if h is None else str(h), str(s))
        for p, h, s in store.rows("SELECT path, content_hash, state FROM files")
    }
    chunks = sorted(
        (str(p), int(o), str(t))  # type: ignore[call-overload]
        for p, o, t in store.rows(
            "SELECT f.path, c.ordinal, c.text FROM chunks c JOIN files f ON f.id = c.file_id"
        )
    )
    return files, chunks

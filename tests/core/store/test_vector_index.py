"""The bit-vector shortlist (core/store/vectors.py) on a real SQLite + sqlite-vec store: it
agrees with the exact float scan, it is kept in step with chunks, it is built for databases
of the previous schema, and search switches to it past the size limit."""

from __future__ import annotations

from pathlib import Path

import apsw
import numpy as np
import pytest
import sqlite_vec

from core.config import Settings
from core.index.indexer import Indexer
from core.search.retrieval import search
from core.store import migrations
from core.store import vectors as vector_index
from core.store.database import Store
from core.store.vectors import Restriction, bits_table_for, exact_scan, nearest
from core.types import Chunk
from tests.fakes import FakeModel

DIM = 384  # the narrowest embedding width Kenning ships a profile for (MiniLM)
MODEL_ID = "structured-384"


def structured_vectors(count: int, seed: int = 0) -> np.ndarray:
    """Unit vectors mostly inside one 8-dimensional subspace, as embeddings of text are."""
    basis = np.random.default_rng(0).standard_normal((8, DIM))
    rng = np.random.default_rng(seed)
    rows = rng.standard_normal((count, 8)) @ basis + 0.3 * rng.standard_normal((count, DIM))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def fill(store: Store, files: int, chunks_per_file: int, seed: int = 0) -> dict[int, list[int]]:
    """``files`` files of ``chunks_per_file`` chunks each, all embedded; chunk ids by file id."""
    store.chunks.ensure_model(MODEL_ID, DIM)
    folder = store.folders.add(Path("/data"))
    store.files.add_pending(folder, [(f"/data/f{i}.txt", 1, 1.0) for i in range(files)])
    by_file: dict[int, list[int]] = {}
    for i in range(files):
        record = store.files.at(f"/data/f{i}.txt")
        assert record is not None
        chunks = [Chunk(n, None, 0, 1, f"file {i} chunk {n}") for n in range(chunks_per_file)]
        store.chunks.replace(record.id, chunks, content_hash=str(i), size=1, mtime=1.0,
                             kind="text", title=None, page_count=1, model_id=MODEL_ID)
        by_file[record.id] = [
            int(r[0]) for r in store.rows(
                "SELECT id FROM chunks WHERE file_id = ? ORDER BY ordinal", (record.id,))
        ]
    ids = [c for chunk_ids in by_file.values() for c in chunk_ids]
    store.chunks.add_vectors(MODEL_ID, ids, structured_vectors(len(ids), seed))
    return by_file


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "index.db")
    yield s
    s.close()


def tables(store: Store) -> tuple[str, str]:
    table = store.chunks.vec_table(MODEL_ID)
    assert table is not None
    return table, bits_table_for(table)


def test_shortlist_and_rescoring_match_the_float_scan_on_structured_vectors(store):
    fill(store, files=300, chunks_per_file=10)
    table, bits = tables(store)
    # Near stored vectors, as a question is near the passage that answers it.
    noise = np.random.default_rng(9).standard_normal((20, DIM)).astype(np.float32)
    queries = structured_vectors(20, seed=0) + 0.02 * noise
    for query in queries:
        expected = exact_scan(store.conn, table, query, 10, Restriction())
        found = nearest(store.conn, table, bits, query, 10, exact_scan_limit=0)
        assert [c for c, _ in found] == [c for c, _ in expected]
        assert np.allclose([s for _, s in found], [s for _, s in expected], atol=1e-5)


def test_shortlist_honours_filters_and_exclusions(store):
    by_file = fill(store, files=200, chunks_per_file=10)
    table, bits = tables(store)
    wanted = list(by_file)[:50]
    include = f"SELECT id FROM chunks WHERE file_id IN ({', '.join(map(str, wanted))})"
    exclude = f"SELECT id FROM chunks WHERE file_id = {wanted[0]}"
    restriction = Restriction(include=include, exclude=exclude)
    query = structured_vectors(1, seed=5)[0]
    expected = exact_scan(store.conn, table, query, 20, restriction)
    found = nearest(store.conn, table, bits, query, 20, restriction, exact_scan_limit=0)
    assert len(found) == 20
    assert [c for c, _ in found][:10] == [c for c, _ in expected][:10]
    allowed = {c for f in wanted[1:] for c in by_file[f]}
    assert {c for c, _ in found} <= allowed


def test_search_switches_to_the_shortlist_past_the_limit(store, monkeypatch):
    fill(store, files=50, chunks_per_file=10)  # 500 vectors
    scans: list[int] = []
    real_scan = vector_index.hamming_scan

    def counting_scan(*args, **kwargs):  # type: ignore[no-untyped-def]
        scans.append(1)
        return real_scan(*args, **kwargs)

    monkeypatch.setattr(vector_index, "hamming_scan", counting_scan)
    model = FakeModel(dim=DIM)
    model.model_id = MODEL_ID
    below = search(store, "file chunk", model, mode="semantic", exact_scan_limit=500)
    assert scans == []
    above = search(store, "file chunk", model, mode="semantic", exact_scan_limit=499)
    assert scans == [1]
    assert [h.chunk_id for h in above.hits] == [h.chunk_id for h in below.hits]


def test_deleting_a_file_deletes_its_bit_vectors_and_a_move_keeps_them(store):
    by_file = fill(store, files=4, chunks_per_file=3)
    table, bits = tables(store)
    first, second, *_ = by_file

    def counts() -> tuple[int, int]:
        return store.count(f"SELECT count(*) FROM {table}"), store.count(
            f"SELECT count(*) FROM {bits}")

    assert counts() == (12, 12)
    store.files.delete([first])
    assert counts() == (9, 9)
    left = {int(r[0]) for r in store.rows(f"SELECT chunk_id FROM {bits}")}
    assert left.isdisjoint(by_file[first])
    store.files.mark_unreadable(second, "failed", "broken")
    assert counts() == (6, 6)
    record = store.files.at("/data/f2.txt")
    assert record is not None
    store.files.move(record.id, "/data/moved.txt", record.folder_id, 2.0)
    assert counts() == (6, 6)


def test_reembedding_a_chunk_replaces_its_bit_vector(store):
    by_file = fill(store, files=1, chunks_per_file=2)
    _, bits = tables(store)
    chunk_id = next(iter(by_file.values()))[0]
    flipped = -structured_vectors(2)[:1]
    store.chunks.add_vectors(MODEL_ID, [chunk_id], flipped)
    stored = store.conn.execute(
        f"SELECT vec_to_json(embedding) FROM {bits} WHERE chunk_id = ?", (chunk_id,)
    ).fetchall()
    expected = store.conn.execute(
        "SELECT vec_to_json(vec_quantize_binary(?))", (flipped[0].tobytes(),)
    ).fetchall()
    assert stored == expected
    assert store.count(f"SELECT count(*) FROM {bits}") == 2


def schema_1_database(path: Path, vectors: np.ndarray) -> str:
    """A database as the previous Kenning left it: schema 1, one float vector table."""
    store = Store.open(path)
    store.close()
    conn = apsw.Connection(str(path))
    conn.enable_load_extension(True)
    conn.load_extension(sqlite_vec.loadable_path())
    with conn:
        for name, in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL%' "
            "AND name NOT LIKE 'chunks_fts%'"
        ).fetchall():
            conn.execute(f"DROP TABLE {name}")
        conn.execute("DROP TABLE IF EXISTS chunks_fts_terms")
        conn.execute("ALTER TABLE models DROP COLUMN source")  # added by migration 3
        conn.execute("ALTER TABLE chunks DROP COLUMN location")  # added by migration 4
        conn.execute("DROP TABLE skipped_kinds")  # added by migration 5
        conn.execute("ALTER TABLE files DROP COLUMN note")  # added by migration 6
        conn.execute("ALTER TABLE folders DROP COLUMN ocr")  # added by migration 7
        conn.execute("ALTER TABLE files DROP COLUMN ocr_pages")  # ...
        conn.execute("ALTER TABLE files DROP COLUMN unread_scans")  # ...
        conn.execute("ALTER TABLE chunks DROP COLUMN sheet_rows")  # added by migration 8
        conn.execute("PRAGMA user_version = 1")
        table = "vec_0123456789ab"
        conn.execute(
            f"CREATE VIRTUAL TABLE {table} USING vec0("
            f"chunk_id INTEGER PRIMARY KEY, embedding float[{DIM}] distance_metric=cosine)"
        )
        conn.execute(
            "INSERT INTO models(model_id, dim, vec_table, created_at) VALUES (?, ?, ?, 0)",
            (MODEL_ID, DIM, table),
        )
        for chunk_id, vector in enumerate(vectors, 1):
            conn.execute(f"INSERT INTO {table}(chunk_id, embedding) VALUES (?, ?)",
                         (chunk_id, vector.tobytes()))
    conn.close()
    return table


def test_upgrade_from_schema_1_keeps_vectors_and_builds_their_bit_copies(tmp_path):
    vectors = structured_vectors(400, seed=3)
    table = schema_1_database(tmp_path / "old.db", vectors)
    store = Store.open(tmp_path / "old.db")
    try:
        assert store.count("PRAGMA user_version") == len(migrations.MIGRATIONS)
        assert store.count(f"SELECT count(*) FROM {table}") == 400
        assert store.count(f"SELECT count(*) FROM {bits_table_for(table)}") == 400
        query = vectors[7]
        found = nearest(store.conn, table, bits_table_for(table), query, 5, exact_scan_limit=0)
        assert found[0][0] == 8 and found[0][1] == pytest.approx(1.0, abs=1e-5)
        assert [c for c, _ in found] == [
            c for c, _ in exact_scan(store.conn, table, query, 5, Restriction())
        ]
    finally:
        store.close()


def test_an_interrupted_upgrade_loses_nothing_and_runs_again(tmp_path, monkeypatch):
    vectors = structured_vectors(50, seed=4)
    table = schema_1_database(tmp_path / "old.db", vectors)
    real_step = migrations.MIGRATIONS[1]
    assert callable(real_step)

    def interrupted(conn: apsw.Connection) -> None:
        real_step(conn)
        raise KeyboardInterrupt  # the app closed half way

    monkeypatch.setattr(migrations, "MIGRATIONS", [migrations.MIGRATIONS[0], interrupted])
    with pytest.raises(KeyboardInterrupt):
        Store.open(tmp_path / "old.db")
    monkeypatch.undo()

    conn = apsw.Connection(str(tmp_path / "old.db"))
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert conn.execute("PRAGMA user_version").fetchall()[0][0] == 1
    assert bits_table_for(table) not in names
    conn.close()

    store = Store.open(tmp_path / "old.db")
    try:
        assert store.count(f"SELECT count(*) FROM {table}") == 50
        assert store.count(f"SELECT count(*) FROM {bits_table_for(table)}") == 50
    finally:
        store.close()


def test_search_through_the_shortlist_matches_exact_search_on_indexed_files(
    tmp_path, extractor
):
    root = tmp_path / "docs"
    root.mkdir()
    for i, text in enumerate([
        "The tenant must give sixty days written notice before leaving the flat.",
        "Tomatoes need full sun and regular watering in summer.",
        "A draft lease with a thirty days notice clause.",
        "Rent is due on the first of the month, paid by bank transfer.",
    ]):
        (root / f"note{i}.txt").write_text(text, encoding="utf-8")
    store = Store.open(tmp_path / "index.db")
    try:
        model = FakeModel()
        indexer = Indexer(store, model, Settings(), extractor)
        indexer.add_folder(root)
        indexer.run()
        for query in ("notice lease", "watering plants", '"notice" -draft', "rent ext:txt"):
            exact = search(store, query, model, exact_scan_limit=10**9)
            short = search(store, query, model, exact_scan_limit=0)
            assert [h.chunk_id for h in short.hits] == [h.chunk_id for h in exact.hits], query
    finally:
        store.close()


def test_shortlist_skips_deleted_slots_and_reuses_them(store):
    """vec0 leaves a hole where a vector was deleted and fills it with the next insert; the
    scan must read neither a deleted vector nor a stale id."""
    by_file = fill(store, files=150, chunks_per_file=10)  # two vec0 chunks of 1,024 slots
    table, bits = tables(store)
    removed = list(by_file)[::3]
    store.files.delete(removed)
    gone = {c for f in removed for c in by_file[f]}
    query = structured_vectors(1, seed=11)[0]
    found = nearest(store.conn, table, bits, query, 10, exact_scan_limit=0)
    expected = exact_scan(store.conn, table, query, 10, Restriction())
    assert [c for c, _ in found] == [c for c, _ in expected]
    assert gone.isdisjoint(c for c, _ in nearest(store.conn, table, bits, query, 1000,
                                                 exact_scan_limit=0))
    assert vector_index.live_count(store.conn, bits) == 1500 - len(gone)


def test_closest_takes_exactly_the_smallest_distances():
    distance = np.array([5, 1, 3, 3, 3, 0, 9, 3], dtype=np.int32)
    picked = vector_index.closest(distance, 4)
    assert len(picked) == 4
    assert sorted(distance[picked].tolist()) == [0, 1, 3, 3]
    assert sorted(vector_index.closest(distance, 20).tolist()) == list(range(8))


def test_the_shortlist_grows_with_the_square_root_of_the_collection():
    assert [vector_index.oversample_for(n) for n in (10_000, 100_000, 400_000, 1_000_000)] == [
        8, 8, 16, 26]


def test_a_larger_collection_is_searched_through_a_longer_shortlist(store, monkeypatch):
    fill(store, files=100, chunks_per_file=10)  # 1,000 vectors
    table, bits = tables(store)
    sizes: list[int] = []
    real_closest = vector_index.closest

    def noting_closest(distance, size):
        sizes.append(size)
        return real_closest(distance, size)

    monkeypatch.setattr(vector_index, "closest", noting_closest)
    query = structured_vectors(1, seed=4)[0]
    nearest(store.conn, table, bits, query, 10, exact_scan_limit=0)
    monkeypatch.setattr(vector_index, "OVERSAMPLE_SIZE", 250)  # as if 4x past the size
    found = nearest(store.conn, table, bits, query, 10, exact_scan_limit=0)
    assert sizes == [80, 160]
    assert [c for c, _ in found] == [
        c for c, _ in exact_scan(store.conn, table, query, 10, Restriction())]

"""The chunk and vector half of ``Store``: a file's chunks with their full-text rows, and one
vector table per model. Split from ``database.py`` to keep each module readable; ``Store``
is the only class that uses it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import apsw
import numpy as np

from core.store.vectors import bits_table_for, create_bits_table_sql
from core.types import Chunk, SheetRows

# Free space below which a write SQLite gave up on counts as a full disk (a few pages).
FULL_DISK_MARGIN = 1 << 20
# SQLite's page limit when none is set.
UNLIMITED_PAGES = 0xFFFFFFFE


@dataclass(frozen=True)
class PendingChunk:
    """A chunk that still needs a vector from the active model."""

    id: int
    file_id: int
    text: str
    heading: str
    title: str
    token_count: int


#: The full-text index's tokenizer, as created in core/store/migrations.py (migration 1); search
#: and snippets tokenise query words with it.
FTS_TOKENIZER = ("porter", ["unicode61", "remove_diacritics", "2"])


def text_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def prefix_range(path: str) -> tuple[str, str]:
    """Bounds (low inclusive, high exclusive) of every path strictly below the folder ``path``,
    so "under this folder" is one range on the path index instead of a LIKE scan."""
    base = path if path.endswith(os.sep) else path + os.sep
    return base, base[:-1] + chr(ord(os.sep) + 1)


def focus_order(focus: Sequence[str], column: str = "f.path") -> tuple[str, list[object]]:
    """The start of an ORDER BY clause that puts paths at or under any of ``focus`` first
    ("" when there is no focus)."""
    if not focus:
        return "", []
    terms: list[str] = []
    args: list[object] = []
    for path in focus:
        low, high = prefix_range(path)
        terms.append(f"({column} = ? OR ({column} >= ? AND {column} < ?))")
        args += [path, low, high]
    return "(" + " OR ".join(terms) + ") DESC, ", args


class Chunks:
    """Chunks, their full-text rows (kept by triggers) and per-model vector tables: float
    vectors and their one-bit copies (``core/store/vectors.py``), always changed together."""

    def __init__(self, conn: Any, path: Path) -> None:
        self.conn = conn
        #: The database file: the full-disk check looks at the free space beside it.
        self.path = path
        self._vec_tables: dict[str, str] = {}

    def replace(
        self,
        file_id: int,
        chunks: Sequence[Chunk],
        *,
        content_hash: str,
        size: int,
        mtime: float,
        kind: str,
        title: str | None,
        page_count: int,
        model_id: str | None,
        note: str | None = None,
        ocr_pages: int = 0,
        unread_scans: int = 0,
    ) -> str:
        """Swap a file's chunks (and their FTS rows and vectors) for new ones in one transaction.

        Vectors of chunks whose text is unchanged (same hash, in this file or any other) are
        reused for ``model_id``. Returns the file's new state: "embedded" when every chunk
        already has a vector, else "extracted".
        """
        table = self._vec_tables.get(model_id) if model_id else None
        with self.conn:
            reusable = self._reusable_vectors(table, [text_hash(c.text) for c in chunks])
            self.delete_file_chunks(file_id)
            missing = 0
            for chunk in chunks:
                digest = text_hash(chunk.text)
                self.conn.execute(
                    'INSERT INTO chunks(file_id, ordinal, page, start, "end", heading, text, '
                    "text_hash, token_count, location, sheet_rows) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        file_id,
                        chunk.ordinal,
                        chunk.page,
                        chunk.start,
                        chunk.end,
                        chunk.heading,
                        chunk.text,
                        digest,
                        chunk.token_count,
                        chunk.location,
                        sheet_rows_to_json(chunk.sheet_rows),
                    ),
                )
                vector = reusable.get(digest)
                if table is not None and vector is not None:
                    self._insert_vector(table, self.conn.last_insert_rowid(), vector)
                else:
                    missing += 1
            state = "embedded" if missing == 0 and table is not None else "extracted"
            self.conn.execute(
                "UPDATE files SET state = ?, error = NULL, content_hash = ?, size = ?, mtime = ?, "
                "kind = ?, title = ?, page_count = ?, indexed_at = ?, note = ?, ocr_pages = ?, "
                "unread_scans = ? WHERE id = ?",
                (state, content_hash, size, mtime, kind, title, page_count, time.time(), note,
                 ocr_pages, unread_scans, file_id),
            )
        return state

    def _reusable_vectors(self, table: str | None, digests: list[str]) -> dict[str, bytes]:
        if table is None or not digests:
            return {}
        found: dict[str, bytes] = {}
        for digest in set(digests):
            rows = self.conn.execute(
                f"SELECT v.embedding FROM chunks c JOIN {table} v ON v.chunk_id = c.id "
                "WHERE c.text_hash = ? LIMIT 1",
                (digest,),
            ).fetchall()
            if rows:
                found[digest] = rows[0][0]
        return found

    def delete_file_chunks(self, file_id: int) -> None:
        """Chunks, FTS rows (by trigger) and vectors of one file; the caller holds the
        transaction."""
        chunk_ids = [
            (int(r[0]),)
            for r in self.conn.execute("SELECT id FROM chunks WHERE file_id = ?", (file_id,))
        ]
        for vec_table in self._all_vec_tables():
            for table in (vec_table, bits_table_for(vec_table)):
                # One primary-key delete per chunk: vec0 answers "chunk_id IN (...)" by
                # scanning the whole table (0.7 s at 100k vectors, against 0.1 ms).
                self.conn.executemany(f"DELETE FROM {table} WHERE chunk_id = ?", chunk_ids)
        self.conn.execute("DELETE FROM chunks WHERE file_id = ?", (file_id,))

    # -- vectors -------------------------------------------------------------------------

    def _insert_vector(self, table: str, chunk_id: int, vector: bytes) -> None:
        """A chunk's float vector and its bit copy; the caller holds the transaction."""
        try:
            self.conn.execute(
                f"INSERT INTO {table}(chunk_id, embedding) VALUES (?, ?)", (chunk_id, vector)
            )
            self.conn.execute(
                f"INSERT INTO {bits_table_for(table)}(chunk_id, embedding) "
                "VALUES (?, vec_quantize_binary(vec_f32(?)))",
                (chunk_id, vector),
            )
        except apsw.SQLError as exc:
            # sqlite-vec reports a write it could not make in words of its own ("Could not
            # insert a new vector chunk"); SQLite undoing the whole transaction by itself
            # says the cause was below it: the disk.
            if self.conn.getautocommit() and self._out_of_room():
                raise apsw.FullError(f"database or disk is full ({exc})") from exc
            raise

    def _out_of_room(self) -> bool:
        """The file has a page limit of its own (a full one: the write just failed), or its
        disk has (almost) nothing left."""
        limit = self.conn.execute("PRAGMA max_page_count").fetchall()[0][0]
        try:
            free = shutil.disk_usage(self.path.parent).free
        except OSError:
            free = 0
        return bool(limit < UNLIMITED_PAGES or free < FULL_DISK_MARGIN)

    def ensure_model(self, model_id: str, dim: int, source: str = "") -> str:
        """Register a model's vector table (one per model: vectors of different models are
        never compared) and return its name. ``source`` is the GGUF file that makes these
        vectors (the latest path is kept: a file may move)."""
        rows = self.conn.execute(
            "SELECT vec_table, source FROM models WHERE model_id = ?", (model_id,)
        ).fetchall()
        if rows:
            table = str(rows[0][0])
            if source and source != rows[0][1]:
                with self.conn:
                    self.conn.execute(
                        "UPDATE models SET source = ? WHERE model_id = ?", (source, model_id)
                    )
        else:
            table = "vec_" + hashlib.sha1(model_id.encode()).hexdigest()[:12]
            with self.conn:
                self.conn.execute(
                    f"CREATE VIRTUAL TABLE IF NOT EXISTS {table} USING vec0("
                    f"chunk_id INTEGER PRIMARY KEY, embedding float[{dim}] distance_metric=cosine)"
                )
                self.conn.execute(create_bits_table_sql(bits_table_for(table), dim))
                # Another connection (an indexer being retired, another process) may have
                # registered it since the look above; its row names the same table.
                self.conn.execute(
                    "INSERT OR IGNORE INTO models(model_id, dim, vec_table, created_at, source) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (model_id, dim, table, time.time(), source),
                )
        self._vec_tables[model_id] = table
        return table

    def vec_table(self, model_id: str) -> str | None:
        if model_id not in self._vec_tables:
            rows = self.conn.execute(
                "SELECT vec_table FROM models WHERE model_id = ?", (model_id,)
            ).fetchall()
            if not rows:
                return None
            self._vec_tables[model_id] = str(rows[0][0])
        return self._vec_tables[model_id]

    def _all_vec_tables(self) -> list[str]:
        return [str(r[0]) for r in self.conn.execute("SELECT vec_table FROM models")]

    def needing_vectors(
        self, model_id: str, limit: int, focus: Sequence[str] = ()
    ) -> list[PendingChunk]:
        """Chunks of extracted files without a vector. Files under ``focus`` (a folder the
        user is asking about) come first, then folders by priority; within those, first
        chunks of every file first, so each file becomes findable by meaning early."""
        table = self._registered_table(model_id)
        focused, args = focus_order(focus)
        rows = self.conn.execute(
            "SELECT c.id, c.file_id, c.text, c.heading, coalesce(f.title, ''), c.token_count "
            "FROM chunks c JOIN files f ON f.id = c.file_id JOIN folders d ON d.id = f.folder_id "
            f"WHERE f.state = 'extracted' AND NOT EXISTS "
            f"(SELECT 1 FROM {table} v WHERE v.chunk_id = c.id) "
            f"ORDER BY {focused}d.priority DESC, c.ordinal, c.file_id LIMIT ?",
            (*args, limit),
        )
        return [
            PendingChunk(int(a), int(b), str(c), str(d), str(e), int(n))
            for a, b, c, d, e, n in rows
        ]

    def file_needing_vectors(self, model_id: str, file_id: int) -> list[PendingChunk]:
        """One extracted file's chunks without a vector, in document order (late chunking
        embeds them together)."""
        table = self._registered_table(model_id)
        rows = self.conn.execute(
            "SELECT c.id, c.file_id, c.text, c.heading, coalesce(f.title, ''), c.token_count "
            "FROM chunks c JOIN files f ON f.id = c.file_id "
            f"WHERE c.file_id = ? AND f.state = 'extracted' AND NOT EXISTS "
            f"(SELECT 1 FROM {table} v WHERE v.chunk_id = c.id) ORDER BY c.ordinal",
            (file_id,),
        )
        return [
            PendingChunk(int(a), int(b), str(c), str(d), str(e), int(n))
            for a, b, c, d, e, n in rows
        ]

    def add_vectors(self, model_id: str, ids: Sequence[int], vectors: np.ndarray) -> None:
        """Store vectors and promote files whose chunks are now all embedded, in one go."""
        table = self._registered_table(model_id)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        file_ids: set[int] = set()
        with self.conn:
            for chunk_id, vector in zip(ids, vectors, strict=True):
                owner = self.conn.execute(
                    "SELECT file_id FROM chunks WHERE id = ?", (chunk_id,)
                ).fetchall()
                if not owner:
                    continue  # the file changed meanwhile and this chunk is gone
                file_ids.add(int(owner[0][0]))
                for stale in (table, bits_table_for(table)):
                    self.conn.execute(f"DELETE FROM {stale} WHERE chunk_id = ?", (chunk_id,))
                self._insert_vector(table, chunk_id, vector.tobytes())
            for file_id in sorted(file_ids):
                self.conn.execute(
                    "UPDATE files SET state = 'embedded' WHERE id = ? AND state = 'extracted' "
                    "AND NOT EXISTS (SELECT 1 FROM chunks c WHERE c.file_id = ? AND NOT EXISTS "
                    f"(SELECT 1 FROM {table} v WHERE v.chunk_id = c.id))",
                    (file_id, file_id),
                )

    def promote_embedded(self, model_id: str) -> int:
        """Files left "extracted" although every chunk has a vector of ``model_id`` (read
        again unchanged by a pass without the model, which cannot tell) become "embedded"."""
        table = self.vec_table(model_id)
        if table is None:
            return 0
        with self.conn:
            self.conn.execute(
                "UPDATE files SET state = 'embedded' WHERE state = 'extracted' AND EXISTS "
                "(SELECT 1 FROM chunks c WHERE c.file_id = files.id) AND NOT EXISTS "
                "(SELECT 1 FROM chunks c WHERE c.file_id = files.id AND NOT EXISTS "
                f"(SELECT 1 FROM {table} v WHERE v.chunk_id = c.id))"
            )
            return int(self.conn.changes())

    def missing_vectors(self, model_id: str, file_id: int | None = None) -> int:
        """How many of one file's chunks lack a vector of ``model_id``; without ``file_id``,
        how many chunks of extracted files do."""
        table = self._registered_table(model_id)
        args: tuple[object, ...] = ()
        if file_id is not None:
            sql, args = "SELECT count(*) FROM chunks c WHERE c.file_id = ?", (file_id,)
        else:
            sql = ("SELECT count(*) FROM chunks c JOIN files f ON f.id = c.file_id "
                   "WHERE f.state = 'extracted'")
        sql += f" AND NOT EXISTS (SELECT 1 FROM {table} v WHERE v.chunk_id = c.id)"
        return int(self.conn.execute(sql, args).fetchall()[0][0])

    def _registered_table(self, model_id: str) -> str:
        table = self.vec_table(model_id)
        assert table is not None, "ensure_model() first"
        return table

    def passages_to_embed(self, model_id: str | None) -> int:
        """Passages of read files that lack a vector of ``model_id`` (all of them when the
        model has made none yet, or none is known)."""
        table = self.vec_table(model_id) if model_id else None
        missing = "" if table is None else (
            f" AND NOT EXISTS (SELECT 1 FROM {table} v WHERE v.chunk_id = c.id)")
        rows = self.conn.execute(
            "SELECT count(*) FROM chunks c JOIN files f ON f.id = c.file_id "
            f"WHERE f.state = 'extracted'{missing}"
        ).fetchall()
        return int(rows[0][0])

    def count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM chunks").fetchall()[0][0])

    def has_chunks(self, file_id: int) -> bool:
        rows = self.conn.execute("SELECT 1 FROM chunks WHERE file_id = ? LIMIT 1", (file_id,))
        return rows.fetchone() is not None

    def vector_sets(self) -> list[tuple[str, str, int]]:
        """Every model's vectors in the database as (model id, source file, vector count),
        newest model first."""
        rows = self.conn.execute(
            "SELECT model_id, vec_table, source FROM models ORDER BY created_at DESC"
        ).fetchall()
        return [
            (str(model_id), str(source),
             int(self.conn.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]))
            for model_id, table, source in rows
        ]

    def files_of(self, chunk_ids: Sequence[int]) -> dict[int, int]:
        """Chunk id -> file id for those of ``chunk_ids`` that still exist."""
        if not chunk_ids:
            return {}
        rows = self.conn.execute(
            "SELECT id, file_id FROM chunks WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(chunk_ids)),),
        )
        return {int(chunk_id): int(file_id) for chunk_id, file_id in rows}

    def demote_embedded(self, model_id: str) -> int:
        """After switching models: files lacking vectors of this model go back to extracted."""
        table = self.vec_table(model_id)
        if table is None:
            return 0
        with self.conn:
            self.conn.execute(
                "UPDATE files SET state = 'extracted' WHERE state = 'embedded' AND EXISTS "
                "(SELECT 1 FROM chunks c WHERE c.file_id = files.id AND NOT EXISTS "
                f"(SELECT 1 FROM {table} v WHERE v.chunk_id = c.id))"
            )
            return int(self.conn.changes())


def sheet_rows_to_json(rows: SheetRows | None) -> str | None:
    if rows is None:
        return None
    return json.dumps(asdict(rows), separators=(",", ":"))


def sheet_rows_from_json(text: str | None) -> SheetRows | None:
    """The column's ``SheetRows``; None for chunks without rows or written before them."""
    if not text:
        return None
    return SheetRows.from_dict(json.loads(text))

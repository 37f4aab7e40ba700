"""The one SQLite file: folders, files and their states, chunks, full-text index, vectors.

Open one ``Store`` per thread (APSW connections are not shared across threads). The
indexer's store is the only writer; WAL mode lets any number of readers run meanwhile.
Every change to one file's chunks, full-text rows and vectors is a single transaction.

>>> store = Store.open(Path("/tmp/k.db"))
>>> folder_id = store.add_folder(Path("/home/me/Documents"))
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import apsw
import numpy as np
import sqlite_vec

from core.migrations import migrate
from core.types import Chunk

FILE_STATES = ("pending", "extracted", "embedded", "failed", "skipped")
BUSY_TIMEOUT_MS = 10_000


class DatabaseDamaged(Exception):
    """The database file cannot be used as it is (corrupt, truncated, not a database)."""


@dataclass(frozen=True)
class FileRecord:
    id: int
    folder_id: int
    path: str
    size: int
    mtime: float
    content_hash: str | None
    state: str
    error: str | None


@dataclass(frozen=True)
class PendingChunk:
    """A chunk that still needs a vector from the active model."""

    id: int
    file_id: int
    text: str
    heading: str
    title: str
    token_count: int


def text_hash(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def _connect(path: Path) -> apsw.Connection:
    conn = apsw.Connection(str(path))
    conn.set_busy_timeout(BUSY_TIMEOUT_MS)
    conn.enable_load_extension(True)
    conn.load_extension(sqlite_vec.loadable_path())
    conn.enable_load_extension(False)
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


class Store:
    """Reads and writes of Kenning's database. Not shared between threads."""

    def __init__(self, conn: apsw.Connection, path: Path) -> None:
        # Typed loosely: rows come back as tuples of SQLite values whose types the SQL decides.
        self.conn: Any = conn
        self.path = path
        self._vec_tables: dict[str, str] = {}

    @classmethod
    def open(cls, path: Path) -> Store:
        """Open (creating if needed) and migrate. Raises DatabaseDamaged for a broken file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = _connect(path)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            check = conn.execute("PRAGMA quick_check").fetchall()
            if check != [("ok",)]:
                raise DatabaseDamaged(f"integrity check failed: {check[0][0]}")
            migrate(conn)
        except (apsw.NotADBError, apsw.CorruptError) as exc:
            raise DatabaseDamaged(str(exc)) from exc
        return cls(conn, path)

    @classmethod
    def open_reader(cls, path: Path) -> Store:
        """A connection for reading from another thread (the schema must already exist)."""
        return cls(_connect(path), path)

    def close(self) -> None:
        self.conn.close()

    # -- folders -------------------------------------------------------------------------

    def add_folder(self, path: Path, priority: int = 0) -> int:
        with self.conn:
            self.conn.execute(
                "INSERT INTO folders(path, added_at, priority) VALUES (?, ?, ?) "
                "ON CONFLICT(path) DO UPDATE SET priority = max(priority, excluded.priority)",
                (str(path), time.time(), priority),
            )
            return int(self._one("SELECT id FROM folders WHERE path = ?", (str(path),)))

    def folders(self) -> list[tuple[int, str]]:
        rows = self.conn.execute("SELECT id, path FROM folders ORDER BY priority DESC, id")
        return [(int(i), str(p)) for i, p in rows]

    def remove_folder(self, path: Path) -> bool:
        row = self.conn.execute("SELECT id FROM folders WHERE path = ?", (str(path),)).fetchall()
        if not row:
            return False
        with self.conn:
            for (file_id,) in self.conn.execute(
                "SELECT id FROM files WHERE folder_id = ?", (row[0][0],)
            ).fetchall():
                self._delete_file_rows(int(file_id))
            self.conn.execute("DELETE FROM folders WHERE id = ?", (row[0][0],))
        return True

    # -- files ---------------------------------------------------------------------------

    def files_in_folder(self, folder_id: int) -> dict[str, FileRecord]:
        rows = self.conn.execute(
            "SELECT id, folder_id, path, size, mtime, content_hash, state, error "
            "FROM files WHERE folder_id = ?",
            (folder_id,),
        )
        return {r[2]: FileRecord(*r) for r in rows}

    def file(self, file_id: int) -> FileRecord | None:
        rows = self.conn.execute(
            "SELECT id, folder_id, path, size, mtime, content_hash, state, error "
            "FROM files WHERE id = ?",
            (file_id,),
        ).fetchall()
        return FileRecord(*rows[0]) if rows else None

    def add_pending(self, folder_id: int, entries: Iterable[tuple[str, int, float]]) -> int:
        """Record new or changed files (path, size, mtime) as pending, in one transaction."""
        count = 0
        with self.conn:
            for path, size, mtime in entries:
                self.conn.execute(
                    "INSERT INTO files(folder_id, path, size, mtime, state) "
                    "VALUES (?, ?, ?, ?, 'pending') "
                    "ON CONFLICT(path) DO UPDATE SET folder_id = excluded.folder_id, "
                    "size = excluded.size, mtime = excluded.mtime, state = 'pending', "
                    "error = NULL",
                    (folder_id, path, size, mtime),
                )
                count += 1
        return count

    def pending_files(self, limit: int = 1000) -> list[FileRecord]:
        rows = self.conn.execute(
            "SELECT f.id, f.folder_id, f.path, f.size, f.mtime, f.content_hash, f.state, f.error "
            "FROM files f JOIN folders d ON d.id = f.folder_id "
            "WHERE f.state = 'pending' ORDER BY d.priority DESC, f.id LIMIT ?",
            (limit,),
        )
        return [FileRecord(*r) for r in rows]

    def set_state(
        self, file_id: int, state: str, error: str | None = None, **extra: object
    ) -> None:
        assert state in FILE_STATES
        sets = ["state = ?", "error = ?"] + [f"{k} = ?" for k in extra]
        with self.conn:
            self.conn.execute(
                f"UPDATE files SET {', '.join(sets)} WHERE id = ?",
                (state, error, *extra.values(), file_id),
            )

    def forget_content_hashes(self) -> None:
        """Make the next scan re-read every file (after the extractor's output changed)."""
        with self.conn:
            self.conn.execute(
                "UPDATE files SET content_hash = NULL, state = 'pending' "
                "WHERE state IN ('extracted', 'embedded', 'failed')"
            )

    def retry_failed(self) -> int:
        """Failed files go back to pending, so the next pass tries them again."""
        with self.conn:
            self.conn.execute(
                "UPDATE files SET state = 'pending', error = NULL WHERE state = 'failed'"
            )
            return int(self.conn.changes())

    def move_file(self, file_id: int, new_path: str, folder_id: int, mtime: float) -> None:
        """A rename: the file keeps its chunks and vectors, so nothing is redone."""
        with self.conn:
            self.conn.execute(
                "UPDATE files SET path = ?, folder_id = ?, mtime = ? WHERE id = ?",
                (new_path, folder_id, mtime, file_id),
            )

    def delete_files(self, file_ids: Iterable[int]) -> None:
        with self.conn:
            for file_id in file_ids:
                self._delete_file_rows(file_id)

    def _delete_file_rows(self, file_id: int) -> None:
        self._delete_vectors_of_file(file_id)
        self.conn.execute("DELETE FROM chunks WHERE file_id = ?", (file_id,))
        self.conn.execute("DELETE FROM files WHERE id = ?", (file_id,))

    def _delete_vectors_of_file(self, file_id: int) -> None:
        for table in self._all_vec_tables():
            self.conn.execute(
                f"DELETE FROM {table} WHERE chunk_id IN (SELECT id FROM chunks WHERE file_id = ?)",
                (file_id,),
            )

    # -- chunks --------------------------------------------------------------------------

    def replace_chunks(
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
    ) -> str:
        """Swap a file's chunks (and their FTS rows and vectors) for new ones in one transaction.

        Vectors of chunks whose text is unchanged (same hash, in this file or any other) are
        reused for ``model_id``. Returns the file's new state: "embedded" when every chunk
        already has a vector, else "extracted".
        """
        table = self._vec_tables.get(model_id) if model_id else None
        with self.conn:
            reusable = self._reusable_vectors(table, [text_hash(c.text) for c in chunks])
            self._delete_vectors_of_file(file_id)
            self.conn.execute("DELETE FROM chunks WHERE file_id = ?", (file_id,))
            missing = 0
            for chunk in chunks:
                digest = text_hash(chunk.text)
                self.conn.execute(
                    'INSERT INTO chunks(file_id, ordinal, page, start, "end", heading, text, '
                    "text_hash, token_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                    ),
                )
                vector = reusable.get(digest)
                if table is not None and vector is not None:
                    self.conn.execute(
                        f"INSERT INTO {table}(chunk_id, embedding) VALUES (?, ?)",
                        (self.conn.last_insert_rowid(), vector),
                    )
                else:
                    missing += 1
            state = "embedded" if missing == 0 and table is not None else "extracted"
            self.conn.execute(
                "UPDATE files SET state = ?, error = NULL, content_hash = ?, size = ?, mtime = ?, "
                "kind = ?, title = ?, page_count = ?, indexed_at = ? WHERE id = ?",
                (state, content_hash, size, mtime, kind, title, page_count, time.time(), file_id),
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

    # -- vectors -------------------------------------------------------------------------

    def ensure_model(self, model_id: str, dim: int) -> str:
        """Register a model's vector table (one per model: vectors of different models are
        never compared) and return its name."""
        rows = self.conn.execute(
            "SELECT vec_table, dim FROM models WHERE model_id = ?", (model_id,)
        ).fetchall()
        if rows:
            table = str(rows[0][0])
        else:
            table = "vec_" + hashlib.sha1(model_id.encode()).hexdigest()[:12]
            with self.conn:
                self.conn.execute(
                    f"CREATE VIRTUAL TABLE IF NOT EXISTS {table} USING vec0("
                    f"chunk_id INTEGER PRIMARY KEY, embedding float[{dim}] distance_metric=cosine)"
                )
                self.conn.execute(
                    "INSERT INTO models(model_id, dim, vec_table, created_at) VALUES (?, ?, ?, ?)",
                    (model_id, dim, table, time.time()),
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

    def chunks_needing_vectors(self, model_id: str, limit: int) -> list[PendingChunk]:
        """Chunks of extracted files without a vector, first chunks of every file first so
        each file becomes findable by meaning early, then deeper ones."""
        table = self.vec_table(model_id)
        assert table is not None, "ensure_model() first"
        rows = self.conn.execute(
            "SELECT c.id, c.file_id, c.text, c.heading, coalesce(f.title, ''), c.token_count "
            "FROM chunks c JOIN files f ON f.id = c.file_id "
            f"WHERE f.state = 'extracted' AND NOT EXISTS "
            f"(SELECT 1 FROM {table} v WHERE v.chunk_id = c.id) "
            "ORDER BY c.ordinal, c.file_id LIMIT ?",
            (limit,),
        )
        return [
            PendingChunk(int(a), int(b), str(c), str(d), str(e), int(n))
            for a, b, c, d, e, n in rows
        ]

    def add_vectors(self, model_id: str, ids: Sequence[int], vectors: np.ndarray) -> None:
        """Store vectors and promote files whose chunks are now all embedded, in one go."""
        table = self.vec_table(model_id)
        assert table is not None, "ensure_model() first"
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
                self.conn.execute(f"DELETE FROM {table} WHERE chunk_id = ?", (chunk_id,))
                self.conn.execute(
                    f"INSERT INTO {table}(chunk_id, embedding) VALUES (?, ?)",
                    (chunk_id, vector.tobytes()),
                )
            for file_id in sorted(file_ids):
                self.conn.execute(
                    "UPDATE files SET state = 'embedded' WHERE id = ? AND state = 'extracted' "
                    "AND NOT EXISTS (SELECT 1 FROM chunks c WHERE c.file_id = ? AND NOT EXISTS "
                    f"(SELECT 1 FROM {table} v WHERE v.chunk_id = c.id))",
                    (file_id, file_id),
                )

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

    # -- status --------------------------------------------------------------------------

    def state_counts(self, folder_id: int | None = None) -> dict[str, int]:
        counts = dict.fromkeys(FILE_STATES, 0)
        where, args = ("WHERE folder_id = ?", (folder_id,)) if folder_id is not None else ("", ())
        for state, n in self.conn.execute(
            f"SELECT state, count(*) FROM files {where} GROUP BY state", args
        ):
            counts[str(state)] = int(n)
        return counts

    def failures(self, limit: int = 1000) -> list[tuple[str, str, str]]:
        rows = self.conn.execute(
            "SELECT path, state, coalesce(error, '') FROM files "
            "WHERE state IN ('failed', 'skipped') ORDER BY path LIMIT ?",
            (limit,),
        )
        return [(str(p), str(s), str(e)) for p, s, e in rows]

    def count(self, sql: str, args: tuple[object, ...] = ()) -> int:
        return int(self._one(sql, args))

    def get_meta(self, key: str) -> str | None:
        rows = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchall()
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        with self.conn:
            self.conn.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def rows(self, sql: str, args: tuple[object, ...] = ()) -> Iterator[tuple[object, ...]]:
        yield from self.conn.execute(sql, args)

    def _one(self, sql: str, args: tuple[object, ...] = ()) -> Any:
        rows = self.conn.execute(sql, args).fetchall()
        return rows[0][0] if rows else None

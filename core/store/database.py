"""The one SQLite file: folders, files and their states, chunks, full-text index, vectors.

Open one ``Store`` per thread (APSW connections are not shared across threads). The
indexer's store is the only writer; WAL mode lets any number of readers run meanwhile.
Every change to one file's chunks, full-text rows and vectors is a single transaction.

``Store`` opens and closes it and holds its parts, each the owner of its tables:
``store.files`` (``core/store/files.py``), ``store.chunks`` with their full-text rows and
vectors (``core/store/chunks.py``), ``store.folders`` (``core/store/folders.py``) and the
queries search ranks by, ``store.search`` (``core/store/search.py``).

>>> store = Store.open(Path("/tmp/k.db"))
>>> folder_id = store.folders.add(Path("/home/me/Documents"))
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import apsw
import sqlite_vec

from core.store.chunks import Chunks
from core.store.clean_close import (
    checkpoint_fully,
    closed_cleanly,
    forget_clean_close,
    note_clean_close,
)
from core.store.files import Files
from core.store.folders import Folders
from core.store.migrations import migrate
from core.store.search import SearchQueries

__all__ = ["DatabaseDamaged", "Store"]

BUSY_TIMEOUT_MS = 10_000
# Reads through memory mapping rather than read() calls: a vector lookup in vec0 walks a
# chain of pages inside a 2.5 MB row, which cost 0.15 ms through read() and 0.03 ms mapped at
# 100k vectors (docs/benchmarks-history.md, "Search latency"). Address space only; the OS pages in
# what is touched.
MMAP_BYTES = 1 << 34


class DatabaseDamaged(Exception):
    """The database file cannot be used as it is (corrupt, truncated, not a database)."""


def _connect(path: Path) -> apsw.Connection:
    conn = apsw.Connection(str(path))
    conn.set_busy_timeout(BUSY_TIMEOUT_MS)
    conn.enable_load_extension(True)
    conn.load_extension(sqlite_vec.loadable_path())
    conn.enable_load_extension(False)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
    return conn


class Store:
    """Reads and writes of Kenning's database, in parts on one connection: ``files``,
    ``chunks`` (with their full-text rows and vectors), ``folders`` and ``search``. Not
    shared between threads."""

    def __init__(self, conn: apsw.Connection, path: Path) -> None:
        # Typed loosely: rows come back as tuples of SQLite values whose types the SQL decides.
        self.conn: Any = conn
        self.path = path
        self._writer = False
        self.chunks = Chunks(conn)
        self.files = Files(conn, self.chunks)
        self.folders = Folders(conn, path, self.files)
        self.search = SearchQueries(conn)

    @classmethod
    def open(cls, path: Path) -> Store:
        """Open (creating if needed) and migrate. Raises DatabaseDamaged for a broken file,
        which is checked whole unless it is as the last writer left it (``core/clean_close``)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        clean = closed_cleanly(path)
        forget_clean_close(path)
        conn = _connect(path)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            check = [] if clean else conn.execute("PRAGMA quick_check").fetchall()
            if check not in ([], [("ok",)]):
                lines = [x for row in check for x in str(row[0]).splitlines()]
                problems = [x for x in lines if not x.startswith("***")] or ["no details"]
                raise DatabaseDamaged(f"its integrity check failed: {problems[0]}")
            migrate(conn)
        except (apsw.NotADBError, apsw.CorruptError, DatabaseDamaged) as exc:
            conn.close()
            if isinstance(exc, DatabaseDamaged):
                raise
            raise DatabaseDamaged(str(exc)) from exc
        store = cls(conn, path)
        store._writer = True
        return store

    @classmethod
    def open_reader(cls, path: Path) -> Store:
        """A connection for reading from another thread (the schema must already exist)."""
        return cls(_connect(path), path)

    def close(self) -> None:
        clean = self._writer and checkpoint_fully(self.conn)
        self.conn.close()
        if clean:
            note_clean_close(self.path)

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

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

import urllib.parse
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
    log_is_empty,
    note_clean_close,
)
from core.store.files import Files
from core.store.folders import Folders, remembered_folders
from core.store.migrations import MIGRATIONS, NewerSchema, migrate, schema_version
from core.store.search import SearchQueries

__all__ = ["DatabaseDamaged", "NewerSchema", "ReadOnlyIndex", "Store", "cause_among"]

BUSY_TIMEOUT_MS = 10_000
# Reads through memory mapping rather than read() calls: a vector lookup in vec0 walks a
# chain of pages inside a 2.5 MB row, which cost 0.15 ms through read() and 0.03 ms mapped at
# 100k vectors (docs/benchmarks-history.md, "Search latency"). Address space only; the OS pages in
# what is touched.
MMAP_BYTES = 1 << 34


class DatabaseDamaged(Exception):
    """The database file cannot be used as it is (corrupt, truncated, not a database)."""


class ReadOnlyIndex(Exception):
    """The index cannot be opened for reading without writing; the message says why."""


#: What SQLite raises when damage shows only in the middle of work (the check at open is
#: skipped after a clean close): handled like ``DatabaseDamaged``.
DAMAGE_ERRORS: tuple[type[Exception], ...] = (apsw.CorruptError, apsw.NotADBError)
#: The disk (or the file's size limit) is full: work stops, what was committed stays.
DISK_FULL_ERRORS: tuple[type[Exception], ...] = (apsw.FullError,)
#: Another process held the index longer than the busy timeout.
BUSY_ERRORS: tuple[type[Exception], ...] = (apsw.BusyError, apsw.LockedError)
#: Failures of the store's surroundings (disk, other processes, damage), never of the file
#: being indexed: they stop the work instead of being recorded on a file.
ENVIRONMENT_ERRORS: tuple[type[Exception], ...] = (
    *DAMAGE_ERRORS, *DISK_FULL_ERRORS, *BUSY_ERRORS, apsw.ReadOnlyError, apsw.IOError,
    apsw.CantOpenError,
)


def cause_among(exc: BaseException, kinds: tuple[type[Exception], ...]) -> BaseException | None:
    """``exc`` or what led to it, if one of ``kinds``. After SQLite undoes a transaction by
    itself (a full disk), leaving the ``with`` block that held it raises a second error about
    the rollback; the first one, in its context, is the one that explains."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return None
        if isinstance(seen, kinds):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _create_or_migrate(conn: apsw.Connection, path: Path) -> None:
    """Create or upgrade the schema in one IMMEDIATE transaction: a second process opening
    the same new file waits for it and then finds the work done (the version is read again
    inside). A file with no schema while folders were indexed into it lost its contents
    (cut to nothing, or its log deleted after a crash): that is damage, not a new index."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if schema_version(conn) == 0 and remembered_folders(path):
            tables = conn.execute("SELECT count(*) FROM sqlite_schema").fetchall()[0][0]
            if not tables:
                raise DatabaseDamaged(
                    "it is empty, though folders were indexed into it (its contents were "
                    "lost, as when a crash cuts the file short or its log is deleted)")
        migrate(conn)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _connect(path: Path, uri: str | None = None) -> apsw.Connection:
    if uri is None:
        conn = apsw.Connection(str(path))
    else:
        conn = apsw.Connection(uri, flags=apsw.SQLITE_OPEN_READONLY | apsw.SQLITE_OPEN_URI)
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
        self.chunks = Chunks(conn, path)
        self.files = Files(conn, self.chunks)
        self.folders = Folders(conn, path, self.files)
        self.search = SearchQueries(conn)

    @classmethod
    def open(cls, path: Path) -> Store:
        """Open (creating if needed) and migrate. Raises DatabaseDamaged for a broken file,
        which is checked whole unless it is as the last writer left it (``core/clean_close``),
        and for a file that lost its whole schema while folders were indexed into it."""
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
            if schema_version(conn) < len(MIGRATIONS):  # the common case takes no write lock
                _create_or_migrate(conn, path)
        except (apsw.NotADBError, apsw.CorruptError, DatabaseDamaged) as exc:
            conn.close()
            if isinstance(exc, DatabaseDamaged):
                raise
            raise DatabaseDamaged(str(exc)) from exc
        except BaseException:
            conn.close()
            raise
        store = cls(conn, path)
        store._writer = True
        return store

    @classmethod
    def open_read_only(cls, path: Path) -> Store:
        """Read an existing index without writing anything, not even beside it (a read-only
        data folder or disk). Raises ReadOnlyIndex when that cannot be done."""
        if not path.is_file():
            raise ReadOnlyIndex("there is no index in it yet")
        uri = "file:" + urllib.parse.quote(str(path))
        conn = None
        try:
            try:
                conn = _connect(path, uri + "?mode=ro")
                version = schema_version(conn)
            except apsw.CantOpenError:
                # A write-ahead log needs its shared-memory file, which a read-only folder
                # cannot hold; with none waiting, the file alone is the whole index.
                conn = _connect(path, uri + "?immutable=1")
                version = schema_version(conn)
        except NewerSchema:
            if conn is not None:
                conn.close()
            raise
        except apsw.Error as exc:
            if conn is not None:
                conn.close()
            raise ReadOnlyIndex(f"the index cannot be read ({exc})") from exc
        if version < len(MIGRATIONS):
            conn.close()
            raise ReadOnlyIndex("the index needs updating for this version of Kenning, "
                                "which needs it writable")
        return cls(conn, path)

    @classmethod
    def open_reader(cls, path: Path) -> Store:
        """A connection for reading from another thread (the schema must already exist)."""
        return cls(_connect(path), path)

    def close(self) -> None:
        clean = self._writer and checkpoint_fully(self.conn)
        self.conn.close()
        if clean and log_is_empty(self.path):
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

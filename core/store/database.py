"""The one SQLite file: folders, files and their states, chunks, full-text index, vectors.

Open one ``Store`` per thread (APSW connections are not shared across threads). The
indexer's store is the only writer; WAL mode lets any number of readers run meanwhile.
Every change to one file's chunks, full-text rows and vectors is a single transaction.

Folders live in ``core/store/folders.py`` and chunks and vectors in ``core/store/chunks.py``,
as mixins ``Store`` inherits; this module holds files, status and opening the database.

>>> store = Store.open(Path("/tmp/k.db"))
>>> folder_id = store.add_folder(Path("/home/me/Documents"))
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import apsw
import sqlite_vec

from core.store.chunks import ChunkTables, PendingChunk, focus_order, prefix_range, text_hash
from core.store.clean_close import (
    checkpoint_fully,
    closed_cleanly,
    forget_clean_close,
    log_is_empty,
    note_clean_close,
)
from core.store.folders import FolderTables, folder_list_path, remembered_folders
from core.store.migrations import MIGRATIONS, NewerSchema, migrate, schema_version

__all__ = [
    "FILE_STATES",
    "DatabaseDamaged",
    "FileRecord",
    "NewerSchema",
    "PendingChunk",
    "ReadOnlyIndex",
    "Store",
    "cause_among",
    "folder_list_path",
    "remembered_folders",
    "text_hash",
]

FILE_STATES = ("pending", "extracted", "embedded", "failed", "skipped")
BUSY_TIMEOUT_MS = 10_000
# Reads through memory mapping rather than read() calls: a vector lookup in vec0 walks a
# chain of pages inside a 2.5 MB row, which cost 0.15 ms through read() and 0.03 ms mapped at
# 100k vectors (docs/benchmarks.md, "Search latency"). Address space only; the OS pages in
# what is touched.
MMAP_BYTES = 1 << 34
_FILE_COLUMNS = "id, folder_id, path, size, mtime, content_hash, state, error, indexed_at"


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
    #: When its content was last read (None if never).
    indexed_at: float | None = None


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


class Store(ChunkTables, FolderTables):
    """Reads and writes of Kenning's database. Not shared between threads."""

    def __init__(self, conn: apsw.Connection, path: Path) -> None:
        # Typed loosely: rows come back as tuples of SQLite values whose types the SQL decides.
        self.conn: Any = conn
        self.path = path
        self._vec_tables: dict[str, str] = {}
        self._writer = False

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

    # -- files ---------------------------------------------------------------------------

    def files_under(self, path: str) -> dict[str, FileRecord]:
        """Every file record at ``path`` or anywhere below it, by path (one range query)."""
        low, high = prefix_range(path)
        rows = self.conn.execute(
            f"SELECT {_FILE_COLUMNS} FROM files WHERE path = ? OR (path >= ? AND path < ?)",
            (path, low, high),
        )
        return {r[2]: FileRecord(*r) for r in rows}

    def file(self, file_id: int) -> FileRecord | None:
        rows = self.conn.execute(
            f"SELECT {_FILE_COLUMNS} FROM files WHERE id = ?", (file_id,)
        ).fetchall()
        return FileRecord(*rows[0]) if rows else None

    def file_at(self, path: str) -> FileRecord | None:
        rows = self.conn.execute(
            f"SELECT {_FILE_COLUMNS} FROM files WHERE path = ?", (path,)
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

    def record_skipped(
        self, folder_id: int, entries: Iterable[tuple[str, int, float, str]]
    ) -> None:
        """Record files (path, size, mtime, reason) that will not be read, dropping anything
        indexed for them before."""
        with self.conn:
            for path, size, mtime, reason in entries:
                self.conn.execute(
                    "INSERT INTO files(folder_id, path, size, mtime, state, error) "
                    "VALUES (?, ?, ?, ?, 'skipped', ?) "
                    "ON CONFLICT(path) DO UPDATE SET folder_id = excluded.folder_id, "
                    "size = excluded.size, mtime = excluded.mtime, state = 'skipped', "
                    "error = excluded.error, content_hash = NULL",
                    (folder_id, path, size, mtime, reason),
                )
                file_id = int(self._one("SELECT id FROM files WHERE path = ?", (path,)))
                self._delete_chunks_of_file(file_id)

    def pending_files(self, limit: int = 1000, focus: Iterable[str] = ()) -> list[FileRecord]:
        """Files waiting to be read: under ``focus`` first, then by folder priority."""
        focused, args = focus_order(list(focus))
        rows = self.conn.execute(
            "SELECT f.id, f.folder_id, f.path, f.size, f.mtime, f.content_hash, f.state, "
            "f.error, f.indexed_at FROM files f JOIN folders d ON d.id = f.folder_id "
            "WHERE f.state = 'pending' "
            f"ORDER BY {focused}d.priority DESC, f.id LIMIT ?",
            (*args, limit),
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

    def mark_unreadable(
        self,
        file_id: int,
        state: str,
        reason: str,
        size: int | None = None,
        mtime: float | None = None,
    ) -> None:
        """A file that failed or is skipped: record why, and drop its old chunks and vectors
        (they describe content the file no longer has), in one transaction."""
        assert state in ("failed", "skipped")
        with self.conn:
            self._delete_chunks_of_file(file_id)
            self.conn.execute(
                "UPDATE files SET state = ?, error = ?, content_hash = NULL, note = NULL, "
                "size = coalesce(?, size), mtime = coalesce(?, mtime) WHERE id = ?",
                (state, reason, size, mtime, file_id),
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
            self._delete_other_at(new_path, keep=file_id)
            self.conn.execute(
                "UPDATE files SET path = ?, folder_id = ?, mtime = ? WHERE id = ?",
                (new_path, folder_id, mtime, file_id),
            )

    def move_path(self, source: str, destination: str, folder_id: int) -> int:
        """A file or a whole folder renamed or moved: every record at or below ``source``
        takes the new path, keeping its chunks and vectors, in one transaction. Records
        already at the destination are replaced. Returns how many files moved."""
        if source == destination:
            return 0
        low, high = prefix_range(source)
        dest_low, dest_high = prefix_range(destination)
        with self.conn:
            ids = [
                int(r[0])
                for r in self.conn.execute(
                    "SELECT id FROM files WHERE path = ? OR (path >= ? AND path < ?)",
                    (source, low, high),
                ).fetchall()
            ]
            if not ids:
                return 0
            for (file_id,) in self.conn.execute(
                "SELECT id FROM files WHERE path = ? OR (path >= ? AND path < ?)",
                (destination, dest_low, dest_high),
            ).fetchall():
                if int(file_id) not in ids:
                    self._delete_file_rows(int(file_id))
            # substr() counts characters, as len() does (paths here never hold surrogates).
            self.conn.execute(
                "UPDATE files SET path = ? || substr(path, ?), folder_id = ? "
                "WHERE path = ? OR (path >= ? AND path < ?)",
                (destination, len(source) + 1, folder_id, source, low, high),
            )
        return len(ids)

    def set_folder(self, file_id: int, folder_id: int) -> None:
        """The file now belongs to another (nested) indexed folder."""
        with self.conn:
            self.conn.execute("UPDATE files SET folder_id = ? WHERE id = ?", (folder_id, file_id))

    def delete_files(self, file_ids: Iterable[int]) -> None:
        with self.conn:
            for file_id in file_ids:
                self._delete_file_rows(file_id)

    def _delete_other_at(self, path: str, keep: int) -> None:
        for (file_id,) in self.conn.execute(
            "SELECT id FROM files WHERE path = ? AND id != ?", (path, keep)
        ).fetchall():
            self._delete_file_rows(int(file_id))

    def _delete_file_rows(self, file_id: int) -> None:
        self._delete_chunks_of_file(file_id)
        self.conn.execute("DELETE FROM files WHERE id = ?", (file_id,))

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

    def notes(self, limit: int = 1000) -> list[tuple[str, str]]:
        """(path, note) of files read only in part, by path."""
        rows = self.conn.execute(
            "SELECT path, note FROM files WHERE note IS NOT NULL "
            "AND state IN ('extracted', 'embedded') ORDER BY path LIMIT ?", (limit,))
        return [(str(p), str(n)) for p, n in rows]

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

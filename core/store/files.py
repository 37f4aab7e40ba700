"""The files part of the store (``store.files``): every file Kenning knows of, its state
(pending, extracted, embedded, failed, skipped) and why, renames, and the status counts.

>>> store.files.add_pending(folder_id, [("/home/me/notes.md", 1200, 1733400000.0)])
1
>>> store.files.at("/home/me/notes.md").state
'pending'
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from core.store.chunks import Chunks, focus_order, prefix_range

FILE_STATES = ("pending", "extracted", "embedded", "failed", "skipped")
_FILE_COLUMNS = "id, folder_id, path, size, mtime, content_hash, state, error, indexed_at"


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


@dataclass(frozen=True)
class ScanCounts:
    """Scanned pages (pages without a text layer that show a picture) of the indexed files:
    read by OCR, or left unread (OCR off for their folder, or Tesseract missing)."""

    read_pages: int = 0
    read_files: int = 0
    unread_pages: int = 0
    unread_files: int = 0


class Files:
    """The files table, on the store's connection; a file's chunks go with it (``chunks``)."""

    def __init__(self, conn: Any, chunks: Chunks) -> None:
        self.conn = conn
        self._chunks = chunks

    def under(self, path: str) -> dict[str, FileRecord]:
        """Every file record at ``path`` or anywhere below it, by path (one range query)."""
        low, high = prefix_range(path)
        rows = self.conn.execute(
            f"SELECT {_FILE_COLUMNS} FROM files WHERE path = ? OR (path >= ? AND path < ?)",
            (path, low, high),
        )
        return {r[2]: FileRecord(*r) for r in rows}

    def get(self, file_id: int) -> FileRecord | None:
        rows = self.conn.execute(
            f"SELECT {_FILE_COLUMNS} FROM files WHERE id = ?", (file_id,)
        ).fetchall()
        return FileRecord(*rows[0]) if rows else None

    def at(self, path: str) -> FileRecord | None:
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
                    "error = excluded.error, content_hash = NULL, note = NULL, "
                    "ocr_pages = 0, unread_scans = 0",
                    (folder_id, path, size, mtime, reason),
                )
                file_id = int(self._one("SELECT id FROM files WHERE path = ?", (path,)))
                self._chunks.delete_file_chunks(file_id)

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
        unread_scans: int = 0,
    ) -> None:
        """A file that failed or is skipped: record why, and drop its old chunks and vectors
        (they describe content the file no longer has), in one transaction. ``unread_scans``:
        a file of scans only, skipped, counts its pages for the status."""
        assert state in ("failed", "skipped")
        with self.conn:
            self._chunks.delete_file_chunks(file_id)
            self.conn.execute(
                "UPDATE files SET state = ?, error = ?, content_hash = NULL, note = NULL, "
                "size = coalesce(?, size), mtime = coalesce(?, mtime), ocr_pages = 0, "
                "unread_scans = ? WHERE id = ?",
                (state, reason, size, mtime, unread_scans, file_id),
            )

    def read_scans_again(self, folder_ids: Iterable[int], read: bool) -> int:
        """Files of these folders whose scanned pages must be read anew, back to pending:
        those with scans left unread (``read``: OCR turned on, or Tesseract found), or those
        with pages read by OCR (OCR turned off: that text goes). Returns how many."""
        column = "unread_scans" if read else "ocr_pages"
        ids = list(folder_ids)
        if not ids:
            return 0
        marks = ", ".join("?" * len(ids))
        with self.conn:
            # No content hash: the indexer reads them again although their bytes are the same.
            self.conn.execute(
                f"UPDATE files SET state = 'pending', error = NULL, content_hash = NULL "
                f"WHERE {column} > 0 AND folder_id IN ({marks})", ids)
            return int(self.conn.changes())

    def scan_counts(self, folder_id: int | None = None) -> ScanCounts:
        """Scanned pages read by OCR and left unread, with the files that hold them."""
        where, args = ("WHERE folder_id = ?", (folder_id,)) if folder_id is not None else ("", ())
        rows = self.conn.execute(
            "SELECT coalesce(sum(ocr_pages), 0), count(nullif(ocr_pages, 0)), "
            "coalesce(sum(unread_scans), 0), count(nullif(unread_scans, 0)) "
            f"FROM files {where}", args).fetchall()
        return ScanCounts(*(int(n) for n in rows[0]))

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

    def move(self, file_id: int, new_path: str, folder_id: int, mtime: float) -> None:
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
                    self.delete_rows(int(file_id))
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

    def delete(self, file_ids: Iterable[int]) -> None:
        with self.conn:
            for file_id in file_ids:
                self.delete_rows(file_id)

    def _delete_other_at(self, path: str, keep: int) -> None:
        for (file_id,) in self.conn.execute(
            "SELECT id FROM files WHERE path = ? AND id != ?", (path, keep)
        ).fetchall():
            self.delete_rows(int(file_id))

    def delete_rows(self, file_id: int) -> None:
        """A file's row with its chunks and vectors; the caller holds the transaction."""
        self._chunks.delete_file_chunks(file_id)
        self.conn.execute("DELETE FROM files WHERE id = ?", (file_id,))

    def state_counts(self, folder_id: int | None = None) -> dict[str, int]:
        counts = dict.fromkeys(FILE_STATES, 0)
        where, args = ("WHERE folder_id = ?", (folder_id,)) if folder_id is not None else ("", ())
        for state, n in self.conn.execute(
            f"SELECT state, count(*) FROM files {where} GROUP BY state", args
        ):
            counts[str(state)] = int(n)
        return counts

    def pending_count(self) -> int:
        return int(self._one("SELECT count(*) FROM files WHERE state = 'pending'"))

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

    def _one(self, sql: str, args: tuple[object, ...] = ()) -> Any:
        rows = self.conn.execute(sql, args).fetchall()
        return rows[0][0] if rows else None

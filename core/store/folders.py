"""The folders part of the store (``store.folders``): the indexed folders with their
priorities, and the copy of that list kept in a small JSON file beside the database.

It also keeps what each folder's last full scan left out, as counts (``skipped_kinds``), and
whether a folder's scanned pages are read by OCR (``set_ocr``; off by default).

The JSON copy exists so that a damaged database can be rebuilt from the folders it indexed
(``remembered_folders``, read by ``core/services.py``).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from core.index.walk import deepest_folder
from core.store.files import Files


def folder_list_path(database: Path) -> Path:
    return database.with_name(database.stem + "-folders.json")


class RememberedFolder(NamedTuple):
    path: str
    priority: int
    ocr: bool = False


def remembered_folders(database: Path) -> list[RememberedFolder]:
    """The folders last indexed into ``database``, read from the file kept beside it; empty
    when there is none or it cannot be read."""
    try:
        raw = json.loads(folder_list_path(database).read_text(encoding="ascii"))
        return [RememberedFolder(str(item["path"]), int(item["priority"]),
                                 bool(item.get("ocr", False))) for item in raw["folders"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return []


class Folders:
    """The folders table, mirrored to ``folder_list_path`` after every change to it; a
    removed folder's files go through ``files``."""

    def __init__(self, conn: Any, database: Path, files: Files) -> None:
        self.conn = conn
        self._database = database
        self._files = files

    def add(self, path: Path, priority: int = 0) -> int:
        with self.conn:
            self.conn.execute(
                "INSERT INTO folders(path, added_at, priority) VALUES (?, ?, ?) "
                "ON CONFLICT(path) DO UPDATE SET priority = max(priority, excluded.priority)",
                (str(path), time.time(), priority),
            )
            folder_id = int(self._one("SELECT id FROM folders WHERE path = ?", (str(path),)))
        self._remember_folders()
        return folder_id

    def all(self) -> list[tuple[int, str]]:
        """(id, path) of every indexed folder, highest priority first."""
        rows = self.conn.execute("SELECT id, path FROM folders ORDER BY priority DESC, id")
        return [(int(i), str(p)) for i, p in rows]

    def set_ocr(self, path: Path, on: bool) -> bool:
        """Read the folder's scanned pages and pictures by OCR, or stop. Its files whose
        scanned pages would now read differently go back to pending (pictures come and go
        with the next scan, ``core/index/reconcile.py``). False if ``path`` is not indexed or
        already so."""
        with self.conn:
            self.conn.execute("UPDATE folders SET ocr = ? WHERE path = ? AND ocr != ?",
                              (int(on), str(path), int(on)))
            changed = int(self.conn.changes()) > 0
            if changed:
                folder_id = int(self._one("SELECT id FROM folders WHERE path = ?", (str(path),)))
                self._files.read_scans_again([folder_id], read=on)
        if changed:
            self._remember_folders()
        return changed

    def with_ocr(self) -> set[int]:
        """The ids of the folders whose scanned pages and pictures are read by OCR."""
        return {int(i) for (i,) in self.conn.execute("SELECT id FROM folders WHERE ocr != 0")}

    def raise_priority(self, path: Path) -> bool:
        """Put an indexed folder ahead of all others (its pending files and chunks first)."""
        top = self._one("SELECT max(priority) FROM folders WHERE path != ?", (str(path),))
        with self.conn:
            self.conn.execute(
                "UPDATE folders SET priority = max(priority, ?) WHERE path = ?",
                ((top or 0) + 1, str(path)),
            )
            changed = int(self.conn.changes()) > 0
        self._remember_folders()
        return changed

    def remove(self, path: Path) -> bool:
        """Forget a folder and its files. Files that also lie in another indexed folder (one
        nested in the other) move to it, keeping their chunks and vectors."""
        row = self.conn.execute("SELECT id FROM folders WHERE path = ?", (str(path),)).fetchall()
        if not row:
            return False
        folder_id = int(row[0][0])
        others = [(i, p) for i, p in self.all() if i != folder_id]
        with self.conn:
            for file_id, file_path in self.conn.execute(
                "SELECT id, path FROM files WHERE folder_id = ?", (folder_id,)
            ).fetchall():
                owner = deepest_folder(others, str(file_path))
                if owner is None:
                    self._files.delete_rows(int(file_id))
                else:
                    self._files.set_folder(int(file_id), owner)
            self.conn.execute("DELETE FROM folders WHERE id = ?", (folder_id,))
        self._remember_folders()
        return True

    def set_skipped_kinds(self, folder_id: int, counts: Mapping[tuple[str, str], int]) -> None:
        """Replace what a folder's full scan left out: (reason, name) -> number of entries."""
        with self.conn:
            self.conn.execute("DELETE FROM skipped_kinds WHERE folder_id = ?", (folder_id,))
            for (reason, name), count in counts.items():
                self.conn.execute(
                    "INSERT INTO skipped_kinds(folder_id, reason, name, count) VALUES (?, ?, ?, ?)",
                    (folder_id, reason, name, count),
                )

    def skipped_kinds(self, folder_id: int | None = None) -> dict[tuple[str, str], int]:
        """(reason, name) -> count left out by the last full scans, of one folder or all."""
        where, args = ("WHERE folder_id = ?", (folder_id,)) if folder_id is not None else ("", ())
        rows = self.conn.execute(
            f"SELECT reason, name, sum(count) FROM skipped_kinds {where} GROUP BY reason, name",
            args,
        )
        return {(str(reason), str(name)): int(count) for reason, name, count in rows}

    def _remember_folders(self) -> None:
        rows = self.conn.execute("SELECT path, priority, ocr FROM folders ORDER BY id").fetchall()
        data = {"folders": [{"path": str(p), "priority": int(n), "ocr": bool(o)}
                            for p, n, o in rows]}
        target = folder_list_path(self._database)
        temporary = target.with_suffix(".tmp")
        try:
            # ASCII with escapes: any path survives, whatever the locale.
            temporary.write_text(json.dumps(data, indent=1), encoding="ascii")
            os.replace(temporary, target)
        except OSError:
            pass  # only a safety copy; the database itself holds the truth

    def _one(self, sql: str, args: tuple[object, ...] = ()) -> Any:
        rows = self.conn.execute(sql, args).fetchall()
        return rows[0][0] if rows else None

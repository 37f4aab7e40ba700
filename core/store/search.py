"""The queries search ranks by: full-text matches by BM25, the vocabulary's document counts,
the files a query's filters let through, the nearest chunks by meaning within them, and the
rows a hit is made of. ``core/search/retrieval.py`` decides what to ask; this part of the
store holds the SQL that asks it.

>>> files = FileFilter(exts=("pdf",), after=1_700_000_000.0)
>>> store.search.keyword_ranked('"notice period"', 10, files)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import apsw
import numpy as np

from core.store.chunks import FTS_TOKENIZER, prefix_range, sheet_rows_from_json
from core.store.vectors import EXACT_SCAN_LIMIT, Restriction, bits_table_for, nearest
from core.types import SheetRows

#: Whether file names on this system ignore case (Windows, and macOS as it ships); a folder
#: scope follows the file system, so ``Taxes`` and ``TAXES`` are one folder only there.
PATHS_IGNORE_CASE = sys.platform in ("win32", "darwin")
# The heading column counts for less than the body in BM25.
_BM25 = "bm25(chunks_fts, 1.0, 0.3)"
_FTS_IDS = "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ?"


@dataclass(frozen=True)
class FileFilter:
    """Which files a search may return: in any of ``dirs`` (absolute folders, or any folder
    of that name), with any of ``exts``, modified at or after ``after`` and before
    ``before`` (seconds since the epoch). Empty: every file."""

    dirs: Sequence[str] = ()
    exts: Sequence[str] = ()
    after: float | None = None
    before: float | None = None
    ignore_case: bool = PATHS_IGNORE_CASE

    @property
    def active(self) -> bool:
        return bool(self.dirs or self.exts or self.after is not None or self.before is not None)

    def sql(self) -> tuple[str, list[object]]:
        """SQL conditions over ``f`` (files) and their arguments ("1" when none)."""
        clauses: list[str] = []
        args: list[object] = []
        if self.dirs:
            scopes = [folder_scope_sql(d, self.ignore_case) for d in self.dirs]
            clauses.append("(" + " OR ".join(sql for sql, _ in scopes) + ")")
            for _, scope_args in scopes:
                args.extend(scope_args)
        if self.exts:
            clauses.append("(" + " OR ".join("f.path LIKE ? ESCAPE '\\'" for _ in self.exts) + ")")
            args.extend("%." + _like_escape(e) for e in self.exts)
        if self.after is not None:
            clauses.append("f.mtime >= ?")
            args.append(self.after)
        if self.before is not None:
            clauses.append("f.mtime < ?")
            args.append(self.before)
        return (" AND ".join(clauses) or "1"), args


def folder_scope_sql(
    folder: str, ignore_case: bool = PATHS_IGNORE_CASE
) -> tuple[str, list[object]]:
    """SQL over ``f.path`` for the files in ``folder`` and below it, by whole path components:
    ``/T/Taxes/2025`` never takes in ``/T/Taxes/2025-old``. An absolute folder is that folder;
    a bare name (``dir:contracts``) is any folder of that name."""
    column = "lower(f.path)" if ignore_case else "f.path"
    if ignore_case:
        folder = folder.lower()
    if folder.startswith(("/", "\\")) or (len(folder) > 2 and folder[1] == ":"):
        low, high = prefix_range(folder.rstrip("/\\") or folder)
        return f"({column} >= ? AND {column} < ?)", [low, high]
    name = folder.strip("/\\").replace("/", os.sep)
    # GLOB, unlike LIKE, tells capitals apart.
    return f"{column} GLOB ?", [f"*{os.sep}{_glob_escape(name)}{os.sep}*"]


def _glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


@dataclass(frozen=True)
class HitRow:
    """What a hit shows of its chunk and file."""

    file_id: int
    path: str
    page: int | None
    start: int
    end: int
    text: str
    heading: str
    mtime: float
    location: str | None
    sheet_rows: SheetRows | None = None


class SearchQueries:
    """The store's search part: reads only, on the store's connection."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def tokenizer(self) -> Any:
        """The full-text index's own tokenizer (APSW's callable), to find words as it does."""
        return self.conn.fts5_tokenizer(*FTS_TOKENIZER)

    def keyword_ranked(self, match: str, limit: int, files: FileFilter = FileFilter()) -> list[int]:
        """Chunk ids matching the FTS5 expression ``match`` in ``files``, best BM25 first.
        Without filters the full-text table answers alone, so no join runs for the thousands
        of rows that miss the limit."""
        if not files.active:
            sql = f"{_FTS_IDS} ORDER BY {_BM25} LIMIT ?"
            return [int(r[0]) for r in self.conn.execute(sql, (match, limit))]
        where, args = files.sql()
        rows = self.conn.execute(
            "SELECT c.id FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid "
            "JOIN files f ON f.id = c.file_id "
            f"WHERE chunks_fts MATCH ? AND {where} ORDER BY {_BM25} LIMIT ?",
            (match, *args, limit),
        )
        return [int(r[0]) for r in rows]

    def document_counts(self, terms: Sequence[str]) -> dict[str, int] | None:
        """How many chunks hold each of ``terms`` (index tokens), from the full-text
        vocabulary; None for a database from before that table."""
        if not terms:
            return {}
        try:
            rows = self.conn.execute(
                "SELECT term, doc FROM chunks_fts_terms WHERE term IN "
                f"({', '.join('?' * len(terms))})",
                list(terms),
            ).fetchall()
        except apsw.SQLError:
            return None
        return {str(term): int(doc) for term, doc in rows}

    def nearest(
        self,
        vec_table: str,
        vector: np.ndarray,
        limit: int,
        files: FileFilter = FileFilter(),
        phrases: Sequence[str] = (),
        excluded: str | None = None,
        *,
        exact_scan_limit: int = EXACT_SCAN_LIMIT,
    ) -> list[tuple[int, float]]:
        """The ``limit`` chunks of ``vec_table`` closest to ``vector`` that are in ``files``,
        match every FTS5 expression of ``phrases`` and not ``excluded``, as (chunk id, cosine
        similarity); see ``core/store/vectors.py`` for how."""
        included: list[str] = []
        include_args: list[object] = []
        if files.active:
            where, args = files.sql()
            included.append(
                f"SELECT c.id FROM chunks c JOIN files f ON f.id = c.file_id WHERE {where}"
            )
            include_args.extend(args)
        for phrase in phrases:
            included.append(_FTS_IDS)
            include_args.append(phrase)
        restriction = Restriction(
            include=" INTERSECT ".join(included) if included else None,
            include_args=include_args,
            exclude=_FTS_IDS if excluded else None,
            exclude_args=[excluded] if excluded else [],
        )
        return nearest(self.conn, vec_table, bits_table_for(vec_table), vector, limit,
                       restriction, exact_scan_limit=exact_scan_limit)

    def opening_chunks(self, files: FileFilter, limit: int) -> list[int]:
        """The opening chunk of each file in ``files``, newest file first."""
        where, args = files.sql()
        rows = self.conn.execute(
            "SELECT c.id FROM chunks c JOIN files f ON f.id = c.file_id "
            f"WHERE c.ordinal = 0 AND {where} ORDER BY f.mtime DESC LIMIT ?",
            (*args, limit),
        )
        return [int(r[0]) for r in rows]

    def hit_row(self, chunk_id: int) -> HitRow | None:
        """The chunk and its file, or None once deleted."""
        rows = self.conn.execute(
            'SELECT c.file_id, f.path, c.page, c.start, c."end", c.text, c.heading, f.mtime, '
            "c.location, c.sheet_rows FROM chunks c JOIN files f ON f.id = c.file_id "
            "WHERE c.id = ?",
            (chunk_id,),
        ).fetchall()
        if not rows:
            return None
        file_id, path, page, start, end, text, heading, mtime, location, sheet_rows = rows[0]
        return HitRow(int(file_id), str(path), page, int(start), int(end), str(text),
                      str(heading), float(mtime), location, sheet_rows_from_json(sheet_rows))

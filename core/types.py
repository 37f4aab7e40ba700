"""Dataclasses that cross module lines.

Offsets are always character offsets into one page's extracted text (``Page.text``), so a
hit, a chunk or a citation can be shown and highlighted exactly. Page numbers are as the
user sees them: the first page is 1; files without pages use ``None``.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Heading:
    """A heading found by an extractor: where it starts in the page text, its level, its words."""

    start: int
    level: int
    text: str


@dataclass
class Page:
    """One page of extracted text. ``number`` is 1-based, or None for files without pages."""

    number: int | None
    text: str
    headings: list[Heading] = field(default_factory=list)
    #: How a person finds this page again where a page number would not say it: "slide 3",
    #: "sheet Budget", "message 12, 2024-03-01". None: the page number (if any) is enough.
    label: str | None = None
    #: Spreadsheet rows: (offset where a row's line starts, the row's number in the sheet),
    #: in text order. The first is the header row; where its line is repeated further down
    #: (so a passage cut from the middle still has the column names) it is listed again.
    rows: list[tuple[int, int]] = field(default_factory=list)

    def location(self, start: int, end: int) -> str | None:
        """Where characters ``[start, end)`` are, in words a person can look up.

        >>> rows = [(0, 1), (4, 2), (8, 3), (13, 1), (17, 4)]
        >>> text = "a\\tb\\n1\\t2\\n3\\t4\\n\\na\\tb\\n5\\t6\\n"
        >>> page = Page(1, text, label="sheet Costs", rows=rows)
        >>> page.location(4, 12), page.location(9, 10), page.location(13, 20)
        ('sheet Costs, rows 2–3', 'sheet Costs, row 3', 'sheet Costs, row 4')
        >>> Page(None, "x").location(0, 1)
        """
        return _rows_location(self.label, self.rows, start, end)

    def sheet_rows(self, start: int, end: int) -> SheetRows | None:
        """The rows of characters ``[start, end)`` (a chunk), kept with the chunk so that any
        sentence quoted from it can be cited by its own row; None for a page without rows.

        >>> page = Page(1, "a\\tb\\n1\\t2\\n3\\t4\\n", label="sheet Costs",
        ...             rows=[(0, 1), (4, 2), (8, 3)])
        >>> page.sheet_rows(8, 12).location(8, 11)
        'sheet Costs, row 3'
        """
        if not self.rows:
            return None
        first_after = bisect.bisect_right(self.rows, start, key=_offset)
        held = self.rows[max(0, first_after - 1): bisect.bisect_left(self.rows, end, key=_offset)]
        # The header row goes first even when the stretch does not hold it: a line that only
        # repeats the column names is told from the data by its row number.
        if not held or held[0] != self.rows[0]:
            held = [self.rows[0], *held]
        return SheetRows(self.label, tuple(held), start, end)


@dataclass(frozen=True)
class SheetRows:
    """The sheet rows a stretch ``[start, end)`` of a page's text holds (``Page.rows``, its
    header row first), so a span inside it can be named by its own rows."""

    label: str | None
    rows: tuple[tuple[int, int], ...]
    start: int
    end: int

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SheetRows:
        """Back from ``dataclasses.asdict`` (as stored, and as sent to the window)."""
        return cls(data["label"], tuple((int(o), int(r)) for o, r in data["rows"]),
                   int(data["start"]), int(data["end"]))

    def location(self, start: int, end: int) -> str | None:
        """Characters ``[start, end)`` named by their rows ("sheet NAME, row N"); None outside
        the stretch."""
        if start < self.start or end > self.end or start >= end:
            return None
        return _rows_location(self.label, self.rows, start, end)


def _rows_location(label: str | None, rows: Sequence[tuple[int, int]], start: int,
                   end: int) -> str | None:
    if not rows:
        return label
    header = rows[0][1]
    # Rows are in text order: found by bisection, so a sheet of many rows costs each of
    # its chunks a few steps, not a pass over every row.
    first_after = bisect.bisect_right(rows, start, key=_offset)
    inside = rows[first_after: bisect.bisect_left(rows, end, key=_offset)]
    before = [row for _, row in rows[max(0, first_after - 1): first_after]]
    found = before + [row for _, row in inside]
    if not found:
        return label
    if any(row != header for row in found):
        found = [row for row in found if row != header]
    first, last = min(found), max(found)
    named = f"row {first}" if first == last else f"rows {first}–{last}"
    return f"{label}, {named}" if label else named


def _offset(row: tuple[int, int]) -> int:
    return row[0]


@dataclass
class Document:
    """What every extractor returns."""

    path: Path
    kind: str  # "pdf", "text", "markdown", "html", "docx", "epub", "code", ...
    pages: list[Page]
    title: str | None = None
    #: What was not read, when only part of the file could be ("read 1,355 of 2,000 pages;
    #: the rest could not be read: the file looks truncated"); None when all of it was.
    note: str | None = None
    #: Pages without a text layer read by OCR (``core/extract/ocr.py``) ...
    ocr_pages: int = 0
    #: ... and those left unread (OCR off for the folder, or Tesseract missing).
    unread_scans: int = 0

    @property
    def char_count(self) -> int:
        return sum(len(p.text) for p in self.pages)


@dataclass(frozen=True)
class Span:
    """A character span in one page's text."""

    page: int | None
    start: int
    end: int


@dataclass
class Chunk:
    """A piece of a document sized for the model, with its place in the page text."""

    ordinal: int
    page: int | None
    start: int
    end: int
    text: str
    heading: str = ""  # heading path, "Chapter > Section"
    token_count: int = 0
    #: Where the chunk is, in words a person can look up ("slide 3", "sheet Budget, rows
    #: 12–30", "message 4, 2024-03-01"); None where the page number says it.
    location: str | None = None
    #: A sheet's rows in the chunk, to cite a sentence of it by its own row; None elsewhere.
    sheet_rows: SheetRows | None = None


@dataclass
class Hit:
    """One search result: a chunk, where it is, and why it matched."""

    chunk_id: int
    file_id: int
    path: str
    page: int | None
    start: int
    end: int
    text: str
    heading: str
    snippet: str
    # (start, end) offsets of matched words inside ``snippet``.
    snippet_matches: list[tuple[int, int]]
    # Where the snippet starts in the page text.
    snippet_start: int
    score: float
    lexical_rank: int | None = None
    semantic_rank: int | None = None
    mtime: float = 0.0
    #: The chunk's ``Chunk.location``: "slide 3", "sheet Budget, rows 12–30", ...
    location: str | None = None
    #: The chunk's ``Chunk.sheet_rows``.
    sheet_rows: SheetRows | None = None

    def location_of(self, start: int, end: int) -> str | None:
        """Where characters ``[start, end)`` of the page are: in a sheet the rows they are on
        ("sheet Budget, row 17"), elsewhere the chunk's location."""
        named = self.sheet_rows.location(start, end) if self.sheet_rows is not None else None
        return named or self.location

    def where(self) -> str | None:
        """How to name the place of this hit: its location, else "page N", else None."""
        return place(self.page, self.location)

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "page": self.page,
            "location": self.location,
            "start": self.start,
            "end": self.end,
            "snippet": self.snippet,
            "matches": [list(m) for m in self.snippet_matches],
            "snippet_start": self.snippet_start,
            "heading": self.heading,
            "score": round(self.score, 6),
            "lexical_rank": self.lexical_rank,
            "semantic_rank": self.semantic_rank,
        }


@dataclass(frozen=True)
class Citation:
    """A numbered source an answer cites, resolved to the passage that supports it."""

    n: int
    path: str
    page: int | None
    start: int
    end: int
    quote: str
    chunk_id: int
    #: The cited chunk's ``Chunk.location`` ("slide 3", "sheet Budget, rows 12–30").
    location: str | None = None

    def where(self) -> str | None:
        """How to name the place of this citation: its location, else "page N", else None."""
        return place(self.page, self.location)


def place(page: int | None, location: str | None) -> str | None:
    """A location as people say it: "slide 3" or "sheet Budget, row 12" where the format
    has one, else "page 4", else None (a file without pages).

    >>> place(4, None), place(3, "slide 3"), place(None, None)
    ('page 4', 'slide 3', None)
    """
    if location:
        return location
    return f"page {page}" if page is not None else None


@dataclass
class Answer:
    question: str
    text: str
    found: bool
    citations: list[Citation] = field(default_factory=list)
    sources: list[Hit] = field(default_factory=list)
    #: Sentences the model wrote that no given source supports; never shown as the answer.
    unsupported: list[str] = field(default_factory=list)
    #: The answer is a sentence quoted from a source, because the model's own wording did not
    #: check out against the sources (its words are then in ``unsupported``).
    quoted: bool = False
    #: How the answer was made: "quoted" (sentences of the files, chosen by the model
    #: reading them) or "written" (the model's own words, each sentence checked).
    mode: str = "written"
    #: In a quoted answer, where the phrase that answers the question stands in ``text``
    #: ((start, end) character offsets), for the window and the terminal to emphasise.
    #: Empty when no phrase stands out; the quote's characters are the file's either way.
    emphasis: list[tuple[int, int]] = field(default_factory=list)
    #: Under a written answer: the sentences of the files that back it, quoted, one per
    #: cited span in the order first cited. Empty for a quoted answer (it is the quote).
    supporting: list[SupportingQuote] = field(default_factory=list)


@dataclass(frozen=True)
class SupportingQuote:
    """A cited span's text as the answer shows it (the file's words, runs of white space
    made one space), its source number, and its answering phrase (offsets into ``text``)."""

    n: int
    text: str
    emphasis: list[tuple[int, int]] = field(default_factory=list)

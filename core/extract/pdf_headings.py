"""Headings in laid-out documents, found from font size and weight.

Body size is the document's most used font size (char-weighted median over all pages, so a
title page in big type still has its title recognised). A line is a heading when its size is
clearly above body size, or when it is bold, short and alone in its block while body text is
not bold. Levels rank the heading sizes in the document: the largest is level 1, bold
body-size headings come last.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.extract.pdf_layout import TextLine
from core.types import Heading

_SIZE_RATIO = 1.15  # at least 15% larger than body text...
_SIZE_MIN_STEP = 1.0  # ...and at least one point larger
_MAX_HEADING_CHARS = 150
_MAX_BOLD_HEADING_CHARS = 80
_MAX_HEADING_WORDS = 20
_MAX_LINES_PER_HEADING = 3  # a heading wrapped over more lines is big-print body text
_MAX_LEVEL = 6


@dataclass
class _Candidate:
    page: int
    start: int
    block: int
    size: float
    by_size: bool
    text: str


def detect_headings(texts: list[str], lines: list[list[TextLine]]) -> list[list[Heading]]:
    """Headings for each page, given each page's text and its lines (``layout_page``)."""
    body_size, body_bold = _body_style(lines)
    candidates: list[_Candidate] = []
    for page_index, (text, page_lines) in enumerate(zip(texts, lines, strict=True)):
        rows_per_block: dict[int, int] = {}
        rows_per_block_and_size: dict[tuple[int, float], int] = {}
        for line in page_lines:
            rows_per_block[line.block] = rows_per_block.get(line.block, 0) + 1
            key = (line.block, _size_class(line.size))
            rows_per_block_and_size[key] = rows_per_block_and_size.get(key, 0) + 1
        previous: _Candidate | None = None
        for line in page_lines:
            words = text[line.start : line.end]
            big_rows = rows_per_block_and_size[(line.block, _size_class(line.size))]
            by_size = (
                body_size > 0
                and line.size >= body_size * _SIZE_RATIO
                and line.size >= body_size + _SIZE_MIN_STEP
                and big_rows <= _MAX_LINES_PER_HEADING
            )
            by_bold = (
                not body_bold
                and line.bold
                and rows_per_block[line.block] <= 2
                and len(words) <= _MAX_BOLD_HEADING_CHARS
                and not words.endswith((",", ";", ":"))  # bold labels and column heads
            )
            if not (by_size or by_bold) or not _reads_like_heading(words):
                previous = None
                continue
            if (
                previous is not None
                and previous.block == line.block
                and previous.size == line.size
                and previous.by_size == by_size
            ):
                previous.text += " " + words  # a heading wrapped onto a further line
                continue
            previous = _Candidate(page_index, line.start, line.block, line.size, by_size, words)
            candidates.append(previous)
    return _ranked(candidates, len(texts))


def _body_style(lines: list[list[TextLine]]) -> tuple[float, bool]:
    """The char-weighted median font size, and whether most characters are bold."""
    chars_per_size: dict[float, int] = {}
    total = bold = 0
    for page_lines in lines:
        for line in page_lines:
            count = line.end - line.start
            chars_per_size[line.size] = chars_per_size.get(line.size, 0) + count
            total += count
            bold += count if line.bold else 0
    seen = 0
    for size in sorted(chars_per_size):
        seen += chars_per_size[size]
        if seen * 2 >= total:
            return size, bold * 2 > total
    return 0.0, False


def _reads_like_heading(words: str) -> bool:
    """Short, with letters in it: not a page number, a table row or a paragraph."""
    letters = sum(char.isalpha() for char in words)
    return (
        2 <= len(words) <= _MAX_HEADING_CHARS
        and "\t" not in words
        and letters >= 2
        and letters * 2 >= len(words.replace(" ", ""))
        and len(words.split()) <= _MAX_HEADING_WORDS
    )


def _ranked(candidates: list[_Candidate], page_count: int) -> list[list[Heading]]:
    sizes = sorted({_size_class(c.size) for c in candidates if c.by_size}, reverse=True)
    headings: list[list[Heading]] = [[] for _ in range(page_count)]
    for candidate in candidates:
        if candidate.by_size:
            level = sizes.index(_size_class(candidate.size)) + 1
        else:
            level = len(sizes) + 1
        heading = Heading(candidate.start, min(level, _MAX_LEVEL), candidate.text)
        headings[candidate.page].append(heading)
    return headings


def _size_class(size: float) -> float:
    """Sizes within half a point are one level: PDFs scale fonts by tiny, meaningless amounts."""
    return round(size * 2) / 2

"""One page's text, built deterministically from MuPDF's characters, with each char's box.

Highlighting calls ``layout_page`` (with every character's box), indexing ``layout_text`` (the
same rules without the boxes, faster); both give the same text, so an offset stored at indexing
time maps back to the same glyphs when a source is opened. Any change here changes offsets:
existing indexes would then need re-extraction, so keep it stable (and the two in step).

Layout rules: blocks are separated by a blank line, lines by a newline; lines MuPDF split on
the same baseline (table cells, tab stops) are re-joined with a tab; a word hyphenated across a
line end is re-joined without the hyphen. Nothing else is dropped or reordered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from statistics import median
from typing import Any

import pymupdf

Rect = tuple[float, float, float, float]

# Ligatures expand to letters (so "ﬁnd" is found as "find"); whitespace becomes plain spaces;
# images are not needed. MEDIABOX_CLIP drops text outside the page that a reader cannot see.
TEXT_FLAGS = pymupdf.TEXT_MEDIABOX_CLIP
_BOLD_FLAG = 16  # span "flags" bit MuPDF sets for bold fonts
_BOLD_NAME_HINTS = ("bold", "black", "heavy", "semibold", "demi")
_HYPHENS = "-\u00ad\u2010"  # hyphen-minus, soft hyphen, hyphen
_SAME_ROW_OVERLAP = 0.5  # vertical overlap (share of the shorter line) that means "same row"
_HORIZONTAL_TOLERANCE = 0.01  # sine of the text direction's angle to the x axis


@dataclass
class TextLine:
    """One line of the page text (after re-joining), with what heading detection needs."""

    start: int
    end: int
    block: int
    size: float  # median font size of its visible characters
    bold: bool  # every visible character is bold


@dataclass
class PageLayout:
    """Page text plus, per character, its box and the visual line it sits on.

    Separators this module inserts (newlines, tabs) have no box and line ``-1``.
    """

    text: str = ""
    boxes: list[Rect | None] = field(default_factory=list)
    visual_lines: list[int] = field(default_factory=list)
    lines: list[TextLine] = field(default_factory=list)


@dataclass(slots=True)
class _Glyph:
    char: str
    box: Rect | None
    visual_line: int
    size: float = 0.0
    bold: bool = False


def layout_page(page: pymupdf.Page, textpage: pymupdf.TextPage | None = None) -> PageLayout:
    """Build the page's text and per-character geometry from ``rawdict``. ``textpage``: the
    page's text as OCR read it (``core/extract/ocr.py``) instead of its own text layer."""
    raw = page.get_text("rawdict", flags=TEXT_FLAGS, textpage=textpage)
    layout = PageLayout()
    chars: list[str] = []
    visual_line = 0
    for block_index, block in enumerate(raw.get("blocks", [])):
        if block.get("type") != 0:
            continue
        rows: list[list[_Glyph]] = []
        previous_box: Rect | None = None
        for line in block.get("lines", []):
            glyphs = _line_glyphs(line, visual_line)
            visual_line += 1
            if not glyphs:
                continue
            box = _rect(line["bbox"]) if _is_horizontal(line) else None
            ending = "".join(glyph.char for glyph in rows[-1][-2:]) if rows else ""
            joint = _joint(ending, previous_box, box, glyphs[0].char) if rows else None
            if joint == "\t":
                rows[-1].append(_Glyph("\t", None, -1))
                rows[-1].extend(glyphs)
            elif joint == "":
                rows[-1].pop()
                rows[-1].extend(glyphs)
            else:
                rows.append(glyphs)
            previous_box = box
        if not rows:
            continue
        if chars:
            _append_separator(layout, chars, "\n\n")
        for row_index, row in enumerate(rows):
            if row_index:
                _append_separator(layout, chars, "\n")
            start = len(chars)
            for glyph in row:
                chars.append(glyph.char)
                layout.boxes.append(glyph.box)
                layout.visual_lines.append(glyph.visual_line)
            size, bold = _row_style(row)
            layout.lines.append(TextLine(start, len(chars), block_index, size, bold))
    layout.text = "".join(chars)
    return layout


def layout_text(page: pymupdf.Page, textpage: pymupdf.TextPage | None = None) -> PageLayout:
    """``layout_page``'s text and lines without the per-character boxes, for indexing.

    MuPDF's "dict" gives each span's text in one string, where "rawdict" builds a Python dict
    per character; that makes this two to four times faster. The rules are the same, applied
    to strings, so the text (and every offset into it) is identical to ``layout_page``'s:
    ``tests/core/test_extract.py`` and ``bench/searchable.py --check-layout`` compare them."""
    raw = page.get_text("dict", flags=TEXT_FLAGS, textpage=textpage)
    layout = PageLayout()
    parts: list[str] = []
    length = 0
    for block_index, block in enumerate(raw.get("blocks", [])):
        if block.get("type") != 0:
            continue
        rows: list[_Row] = []
        previous_box: Rect | None = None
        for line in block.get("lines", []):
            row = _Row.of_line(line)
            if row is None:
                continue
            box = _rect(line["bbox"]) if _is_horizontal(line) else None
            joint = _joint(rows[-1].text, previous_box, box, row.text[0]) if rows else None
            if joint == "":
                rows[-1].drop_last_char()
            if joint is None:
                rows.append(row)
            else:
                rows[-1].extend(row, joint)
            previous_box = box
        if not rows:
            continue
        if parts:
            parts.append("\n\n")
            length += 2
        for row_index, row in enumerate(rows):
            if row_index:
                parts.append("\n")
                length += 1
            parts.append(row.text)
            size, bold = row.style()
            layout.lines.append(TextLine(length, length + len(row.text), block_index, size, bold))
            length += len(row.text)
    layout.text = "".join(parts)
    return layout


@dataclass(slots=True)
class _Row:
    """A row of ``layout_text``: its text, and the size and boldness of each visible char."""

    text: str
    sizes: list[float]
    bolds: list[bool]

    @classmethod
    def of_line(cls, line: dict[str, Any]) -> _Row | None:
        pieces: list[str] = []
        styles: list[tuple[float, bool, str]] = []
        for span in line.get("spans", []):
            text = span.get("text", "")
            if not text:
                continue
            # Control codes from broken fonts show as spaces, as in _line_glyphs.
            text = _CONTROLS.sub(" ", text)
            font = str(span.get("font", "")).lower()
            bold = bool(span.get("flags", 0) & _BOLD_FLAG) or any(
                h in font for h in _BOLD_NAME_HINTS
            )
            pieces.append(text)
            styles.append((float(span.get("size", 0.0)), bold, text))
        full = "".join(pieces)
        # Trimmed of surrounding blank space (str.isspace per char, like the glyph loop).
        start, end = 0, len(full)
        while start < end and full[start].isspace():
            start += 1
        while end > start and full[end - 1].isspace():
            end -= 1
        if start == end:
            return None
        sizes: list[float] = []
        bolds: list[bool] = []
        position = 0
        for size, bold, text in styles:
            for char in text[max(start - position, 0): max(end - position, 0)]:
                if not char.isspace():
                    sizes.append(size)
                    bolds.append(bold)
            position += len(text)
        return cls(full[start:end], sizes, bolds)

    def extend(self, other: _Row, separator: str) -> None:
        self.text += separator + other.text
        self.sizes += other.sizes
        self.bolds += other.bolds

    def drop_last_char(self) -> None:
        # Only called on a hyphen, which is visible: its style is the last one.
        self.text = self.text[:-1]
        self.sizes.pop()
        self.bolds.pop()

    def style(self) -> tuple[float, bool]:
        if not self.sizes:
            return 0.0, False
        return median(self.sizes), all(self.bolds)


_CONTROLS = re.compile("[\x00-\x1f\x7f]")


def _line_glyphs(line: dict[str, Any], visual_line: int) -> list[_Glyph]:
    """The line's characters with their style, trimmed of surrounding blank space."""
    glyphs: list[_Glyph] = []
    for span in line.get("spans", []):
        font = str(span.get("font", "")).lower()
        bold = bool(span.get("flags", 0) & _BOLD_FLAG) or any(h in font for h in _BOLD_NAME_HINTS)
        size = float(span.get("size", 0.0))
        for char in span.get("chars", []):
            text = char.get("c", "")
            if not text:
                continue
            if text < " " or text == "\x7f":  # control codes from broken fonts: show as space
                text = " "
            glyphs.append(_Glyph(text, _rect(char["bbox"]), visual_line, size, bold))
    start = 0
    while start < len(glyphs) and glyphs[start].char.isspace():
        start += 1
    end = len(glyphs)
    while end > start and glyphs[end - 1].char.isspace():
        end -= 1
    return glyphs[start:end]


def _rect(value: Any) -> Rect:
    x0, y0, x1, y1 = value
    return float(x0), float(y0), float(x1), float(y1)


def _is_horizontal(line: dict[str, Any]) -> bool:
    cos, sin = line.get("dir", (1.0, 0.0))
    return cos > 0 and abs(sin) < _HORIZONTAL_TOLERANCE


def _same_row(left: Rect, right: Rect) -> bool:
    """True when ``right`` continues ``left``'s row further right (a cell, a tab stop)."""
    overlap = min(left[3], right[3]) - max(left[1], right[1])
    shorter = min(left[3] - left[1], right[3] - right[1])
    return shorter > 0 and overlap >= _SAME_ROW_OVERLAP * shorter and right[0] >= left[2] - 1


def _joint(row_text: str, previous_box: Rect | None, box: Rect | None,
           first_char: str) -> str | None:
    """How a line joins the row before it (whose text ends ``row_text``): ``"\t"`` when it
    continues that row further right (a cell, a tab stop; horizontal lines only: "to the
    right" means nothing in vertical text), ``""`` when it finishes a word hyphenated across
    the line end (the hyphen is dropped), None when it starts a new row. Both layouts join
    by this one rule, so their texts and offsets agree."""
    if previous_box is not None and box is not None and _same_row(previous_box, box):
        return "\t"
    hyphenated = len(row_text) >= 2 and row_text[-1] in _HYPHENS and row_text[-2].isalpha()
    return "" if hyphenated and first_char.islower() else None


def _append_separator(layout: PageLayout, chars: list[str], separator: str) -> None:
    for char in separator:
        chars.append(char)
        layout.boxes.append(None)
        layout.visual_lines.append(-1)


def _row_style(row: list[_Glyph]) -> tuple[float, bool]:
    visible = [glyph for glyph in row if glyph.box is not None and not glyph.char.isspace()]
    if not visible:
        return 0.0, False
    return median(glyph.size for glyph in visible), all(glyph.bold for glyph in visible)


def merged_line_rects(layout: PageLayout, start: int, end: int) -> list[Rect]:
    """Boxes of the characters in ``[start, end)``, merged into one rectangle per visual line."""
    merged: dict[int, Rect] = {}
    for index in range(max(start, 0), min(end, len(layout.text))):
        box = layout.boxes[index]
        if box is None:
            continue
        line = layout.visual_lines[index]
        known = merged.get(line)
        merged[line] = box if known is None else (
            min(known[0], box[0]), min(known[1], box[1]),
            max(known[2], box[2]), max(known[3], box[3]),
        )  # fmt: skip
    return list(merged.values())

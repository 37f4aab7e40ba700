"""Headings in lightweight markup: Markdown, reStructuredText, Org and LaTeX.

Each finder takes newline-normalised text and returns headings whose ``start`` points at the
heading's words, so ``text[h.start:].startswith(h.text)`` always holds. They are line
scanners, not full parsers: they skip code blocks and front matter, which is where a ``#`` or a
row of dashes most often means something else.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from core.types import Heading

_MAX_LEVEL = 6


def _lines(text: str) -> Iterator[tuple[int, str]]:
    """(offset of the line in ``text``, line without its newline), in order."""
    offset = 0
    for line in text.split("\n"):
        yield offset, line
        offset += len(line) + 1


# --- Markdown -------------------------------------------------------------------------------

_ATX = re.compile(r" {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_SETEXT_UNDERLINE = re.compile(r" {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_LIST_OR_QUOTE = re.compile(r"\s*(?:[-*+>]|\d+[.)])(?:\s|$)")
_FRONT_MATTER_TITLE = re.compile(r"title:[ \t]*(.+?)[ \t]*$")


def markdown_headings(text: str) -> tuple[list[Heading], str | None]:
    """ATX (``# Title``) and setext (underlined) headings, plus a front-matter ``title:``."""
    headings: list[Heading] = []
    title: str | None = None
    lines = list(_lines(text))
    first = 0
    if lines and lines[0][1].rstrip() == "---":  # YAML front matter
        for index in range(1, len(lines)):
            line = lines[index][1]
            if line.rstrip() in ("---", "..."):
                first = index + 1
                break
            match = _FRONT_MATTER_TITLE.match(line)
            if match and title is None:
                title = match.group(1).strip("'\"") or None
    fence: str | None = None
    paragraph_start: int | None = None  # index of the first line of the current paragraph
    for index in range(first, len(lines)):
        offset, line = lines[index]
        fence_match = _FENCE.match(line)
        if fence is not None:
            if (
                fence_match
                and fence_match.group(1)[0] == fence[0]
                and (len(fence_match.group(1)) >= len(fence))
            ):
                fence = None
            continue
        if fence_match:
            fence, paragraph_start = fence_match.group(1), None
            continue
        atx = _ATX.match(line)
        if atx and atx.group(2):
            level = len(atx.group(1))
            headings.append(Heading(offset + atx.start(2), level, atx.group(2)))
            paragraph_start = None
            continue
        underline = _SETEXT_UNDERLINE.match(line)
        if underline:  # a heading's underline, or else a thematic break: no paragraph either way
            if paragraph_start == index - 1:
                prev_offset, prev_line = lines[index - 1]
                words = prev_line.strip()
                level = 1 if underline.group(1)[0] == "=" else 2
                headings.append(Heading(prev_offset + prev_line.index(words), level, words))
            paragraph_start = None
            continue
        if not line.strip():
            paragraph_start = None
        elif paragraph_start is None and not _starts_non_paragraph(line):
            paragraph_start = index
    return headings, title


def _starts_non_paragraph(line: str) -> bool:
    """List items, quotes and indented code cannot be underlined into a heading."""
    return line.startswith(("    ", "\t")) or bool(_LIST_OR_QUOTE.match(line))


# --- reStructuredText -----------------------------------------------------------------------

# A line of one repeated punctuation character (any of reST's adornment characters).
_ADORNMENT = re.compile(r"([!-/:-@\[-`{-~])\1+[ \t]*$")
_MIN_ADORNMENT = 3  # shorter rows of punctuation ("::", "..") are markup, not underlines


def rst_headings(text: str) -> list[Heading]:
    """Underlined (and optionally overlined) section titles; levels in order of first use."""
    headings: list[Heading] = []
    styles: list[tuple[str, bool]] = []
    lines = list(_lines(text))
    for index in range(1, len(lines)):
        underline = lines[index][1].rstrip()
        title_offset, title_line = lines[index - 1]
        words = title_line.strip()
        if not _ADORNMENT.match(underline) or not words:
            continue
        if _ADORNMENT.match(title_line.rstrip()):  # a row of punctuation is an overline
            continue
        if len(underline) < max(len(title_line.rstrip()), _MIN_ADORNMENT):
            continue
        overlined = index >= 2 and lines[index - 2][1].rstrip() == underline
        if title_line[0].isspace() and not overlined:  # only an overlined title may be inset
            continue
        before = index - 3 if overlined else index - 2
        if before >= 0 and lines[before][1].strip():
            continue  # a title starts after a blank line; otherwise it is paragraph text
        style = (underline[0], overlined)
        if style not in styles:
            styles.append(style)
        level = min(styles.index(style) + 1, _MAX_LEVEL)
        headings.append(Heading(title_offset + title_line.index(words), level, words))
    return headings


# --- Org ------------------------------------------------------------------------------------

_ORG_HEADING = re.compile(
    r"(\*+)[ \t]+(?:(?:TODO|DONE)[ \t]+)?(?:\[#[A-Z0-9]\][ \t]+)?(.+?)"
    r"(?:[ \t]+:[\w@#%:]+:)?[ \t]*$"
)
_ORG_TITLE = re.compile(r"#\+title:[ \t]*(.+?)[ \t]*$", re.IGNORECASE)
_ORG_BLOCK = re.compile(r"[ \t]*#\+(begin|end)_", re.IGNORECASE)


def org_headings(text: str) -> tuple[list[Heading], str | None]:
    """``* Heading`` lines (stars give the level; TODO keywords and tags left out), ``#+TITLE``."""
    headings: list[Heading] = []
    title: str | None = None
    in_block = False
    for offset, line in _lines(text):
        block = _ORG_BLOCK.match(line)
        if block:
            in_block = block.group(1).lower() == "begin"
            continue
        if in_block:
            continue
        match = _ORG_HEADING.match(line)
        if match:
            level = min(len(match.group(1)), _MAX_LEVEL)
            headings.append(Heading(offset + match.start(2), level, match.group(2)))
        elif title is None and (title_match := _ORG_TITLE.match(line)):
            title = title_match.group(1)
    return headings, title


# --- LaTeX ----------------------------------------------------------------------------------

_LATEX_DEPTHS = ("part", "chapter", "section", "subsection", "subsubsection", "paragraph")
_LATEX_SECTION = re.compile(
    r"\\(" + "|".join(_LATEX_DEPTHS) + r")\*?(?:\[[^\]\n]*\])?\{([^{}\n]+)\}"
)
_LATEX_TITLE = re.compile(r"\\title\{([^{}\n]+)\}")


def latex_headings(text: str) -> tuple[list[Heading], str | None]:
    """``\\section{...}`` and kin, ranked by the depths the document uses; ``\\title{...}``."""
    found: list[tuple[int, str, str]] = []
    for offset, line in _lines(text):
        code = line.split("%", 1)[0] if "\\%" not in line else line  # drop comments, cheaply
        for match in _LATEX_SECTION.finditer(code):
            words = match.group(2).strip()
            if words:
                start = offset + match.start(2) + match.group(2).index(words)
                found.append((start, match.group(1), words))
    used = sorted({_LATEX_DEPTHS.index(command) for _, command, _ in found})
    headings = [
        Heading(start, min(used.index(_LATEX_DEPTHS.index(command)) + 1, _MAX_LEVEL), words)
        for start, command, words in found
    ]
    title_match = _LATEX_TITLE.search(text)
    return headings, title_match.group(1).strip() if title_match else None

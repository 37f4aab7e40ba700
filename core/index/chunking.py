"""Structure-aware chunks: pages, headings and paragraphs first, sentences and words only when a
piece is too big. Budgets are in model tokens. Every chunk keeps its page, its exact character
span in that page's text and the heading path above it, so a hit can be highlighted exactly.

>>> page = Page(None, "# Intro\\n\\nHi.", [Heading(0, 1, "Intro")])
>>> doc = Document(Path("a.md"), "markdown", [page])
>>> [c.heading for c in chunk_document(doc, lambda t: len(t.split()))]
['Intro']
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from core.text.sentences import CLAUSE_BREAK, PARAGRAPH_BREAK
from core.types import Chunk, Document, Heading, Page

TokenCounter = Callable[[str], int]

DEFAULT_CHUNK_TOKENS = 256
DEFAULT_OVERLAP_TOKENS = 32

_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class _Piece:
    """A span of the page text that should stay whole when possible."""

    start: int
    end: int
    tokens: int
    starts_section: bool = False


def chunk_document(
    doc: Document,
    count_tokens: TokenCounter,
    max_tokens: int = DEFAULT_CHUNK_TOKENS,
    overlap_tokens: int = DEFAULT_OVERLAP_TOKENS,
) -> list[Chunk]:
    """Split ``doc`` into chunks of at most about ``max_tokens`` tokens each."""
    chunks: list[Chunk] = []
    heading_stack: list[Heading] = []
    for page in doc.pages:
        for start, end, section_headings in _sections(page):
            for heading in section_headings:
                heading_stack = [h for h in heading_stack if h.level < heading.level] + [heading]
            path = " > ".join(h.text for h in heading_stack)
            pieces = list(_pieces(page.text, start, end, count_tokens, max_tokens))
            for span_start, span_end, tokens in _pack(pieces, max_tokens, overlap_tokens):
                text = page.text[span_start:span_end]
                chunks.append(
                    Chunk(
                        ordinal=len(chunks),
                        page=page.number,
                        start=span_start,
                        end=span_end,
                        text=text,
                        heading=path,
                        token_count=tokens,
                        location=page.location(span_start, span_end),
                    )
                )
    return chunks


def _sections(page: Page) -> Iterator[tuple[int, int, list[Heading]]]:
    """Spans of the page between headings, each with the headings that open it."""
    # A heading's offset points at its words; its line (with "# " or "1.2 ") starts earlier.
    line_start = {h: page.text.rfind("\n", 0, h.start) + 1 for h in page.headings
                  if 0 <= h.start < len(page.text)}
    headings = sorted(line_start, key=lambda h: h.start)
    cuts = sorted({0, *line_start.values(), len(page.text)})
    for start, end in itertools.pairwise(cuts):
        opening = [h for h in headings if line_start[h] == start]
        if page.text[start:end].strip():
            yield start, end, opening
        elif opening:
            # A heading with no body still names what follows it.
            yield start, start, opening


def _pieces(
    text: str, start: int, end: int, count_tokens: TokenCounter, max_tokens: int
) -> Iterator[_Piece]:
    """Paragraphs of text[start:end]; a paragraph over budget is split into sentences, and a
    sentence over budget into word windows."""
    for p_start, p_end in _trimmed_spans(text, start, end, PARAGRAPH_BREAK):
        tokens = count_tokens(text[p_start:p_end])
        if tokens <= max_tokens:
            yield _Piece(p_start, p_end, tokens)
            continue
        for s_start, s_end in _trimmed_spans(text, p_start, p_end, CLAUSE_BREAK):
            s_tokens = count_tokens(text[s_start:s_end])
            if s_tokens <= max_tokens:
                yield _Piece(s_start, s_end, s_tokens)
            else:
                yield from _word_windows(text, s_start, s_end, count_tokens, max_tokens)


def _trimmed_spans(
    text: str, start: int, end: int, sep: re.Pattern[str]
) -> Iterator[tuple[int, int]]:
    pos = start
    for match in sep.finditer(text, start, end):
        yield from _trim(text, pos, match.start())
        pos = match.end()
    yield from _trim(text, pos, end)


def _trim(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        yield start, end


def _word_windows(
    text: str, start: int, end: int, count_tokens: TokenCounter, max_tokens: int
) -> Iterator[_Piece]:
    words = [(m.start(), m.end()) for m in _WORD.finditer(text, start, end)]
    i = 0
    while i < len(words):
        # Grow a window of words by halving steps: a few tokenizer calls per window.
        lo, hi = i + 1, len(words)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if count_tokens(text[words[i][0] : words[mid - 1][1]]) <= max_tokens:
                lo = mid
            else:
                hi = mid - 1
        j = max(lo, i + 1)
        piece_start, piece_end = words[i][0], words[j - 1][1]
        yield _Piece(piece_start, piece_end, count_tokens(text[piece_start:piece_end]))
        i = j


def _pack(
    pieces: list[_Piece], max_tokens: int, overlap_tokens: int
) -> Iterator[tuple[int, int, int]]:
    """Greedily join neighbouring pieces up to the budget; a new chunk starts with the previous
    chunk's last piece when that piece is small, so a sentence cut at a boundary is not lost."""
    current: list[_Piece] = []
    tokens = 0
    for piece in pieces:
        if current and tokens + piece.tokens > max_tokens:
            yield current[0].start, current[-1].end, tokens
            tail = current[-1]
            if tail.tokens <= overlap_tokens and tail.tokens + piece.tokens <= max_tokens:
                current, tokens = [tail], tail.tokens
            else:
                current, tokens = [], 0
        current.append(piece)
        tokens += piece.tokens
    if current:
        yield current[0].start, current[-1].end, tokens

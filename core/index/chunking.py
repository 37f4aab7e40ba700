"""Structure-aware chunks: pages, headings and paragraphs first, sentences and words only when a
piece is too big. Budgets are in model tokens. Every chunk keeps its page, its exact character
span in that page's text and the heading path above it, so a hit can be highlighted exactly.

>>> page = Page(None, "# Intro\\n\\nHi.", [Heading(0, 1, "Intro")])
>>> doc = Document(Path("a.md"), "markdown", [page])
>>> [c.heading for c in chunk_document(doc, lambda t: len(t.split()))]
['Intro']
"""

from __future__ import annotations

import bisect
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from core.text.sentences import CLAUSE_BREAK, PARAGRAPH_BREAK
from core.types import Chunk, Document, Heading, Page

TokenCounter = Callable[[str], int]

DEFAULT_CHUNK_TOKENS = 256
DEFAULT_OVERLAP_TOKENS = 32
# The most characters one token is taken to cover when windows are cut by tokens: it bounds
# how much text each step of the search reads (tokenizers rarely make longer tokens, and a
# window cut short by it is only smaller).
MAX_CHARS_PER_TOKEN = 32

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
    for page in doc.pages:  # chunks stay within max_tokens and MAX_CHARS_PER_TOKEN times that
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
                        sheet_rows=page.sheet_rows(span_start, span_end),
                    )
                )
    return chunks


def _sections(page: Page) -> Iterator[tuple[int, int, list[Heading]]]:
    """Spans of the page between headings, each with the headings that open it."""
    # A heading's offset points at its words; its line (with "# " or "1.2 ") starts earlier.
    opening_at: dict[int, list[Heading]] = {}
    for heading in sorted((h for h in page.headings if 0 <= h.start < len(page.text)),
                          key=lambda h: h.start):
        line_start = page.text.rfind("\n", 0, heading.start) + 1
        opening_at.setdefault(line_start, [])
        if heading not in opening_at[line_start]:
            opening_at[line_start].append(heading)
    cuts = sorted({0, *opening_at, len(page.text)})
    for start, end in itertools.pairwise(cuts):
        opening = opening_at.get(start, [])
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
    limit = max_tokens * MAX_CHARS_PER_TOKEN
    for p_start, p_end in _trimmed_spans(text, start, end, PARAGRAPH_BREAK):
        tokens = count_tokens(text[p_start:p_end])
        if tokens <= max_tokens and p_end - p_start <= limit:
            yield _Piece(p_start, p_end, tokens)
            continue
        for s_start, s_end in _trimmed_spans(text, p_start, p_end, CLAUSE_BREAK):
            s_tokens = count_tokens(text[s_start:s_end])
            if s_tokens <= max_tokens and s_end - s_start <= limit:
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
    """Runs of whole words within the budget; a word longer than the budget alone (a line of
    15 million characters with no space) is cut into runs of characters instead."""
    words = [(m.start(), m.end()) for m in _WORD.finditer(text, start, end)]
    ends = [word_end for _, word_end in words]
    limit = max_tokens * MAX_CHARS_PER_TOKEN
    guess = 1
    i = 0
    while i < len(words):
        word_start, word_end = words[i]
        if word_end - word_start > max_tokens and (
            word_end - word_start > limit or count_tokens(text[word_start:word_end]) > max_tokens
        ):
            yield from _char_windows(text, word_start, word_end, count_tokens, max_tokens)
            i += 1
            continue
        # Words that fit the character bound, the most a window could hold: each probe below
        # reads at most that much, so a sentence of millions of words costs linear time.
        most = max(1, bisect.bisect_right(ends, word_start + limit, lo=i) - i)
        def words_fit(n: int, first: int = i) -> bool:
            return count_tokens(text[words[first][0] : words[first + n - 1][1]]) <= max_tokens

        taken = _longest_fit(words_fit, most, guess)
        guess = taken
        piece_end = words[i + taken - 1][1]
        yield _Piece(word_start, piece_end, count_tokens(text[word_start:piece_end]))
        i += taken


def _char_windows(
    text: str, start: int, end: int, count_tokens: TokenCounter, max_tokens: int
) -> Iterator[_Piece]:
    limit = max_tokens * MAX_CHARS_PER_TOKEN
    guess = max_tokens
    pos = start
    while pos < end:
        def chars_fit(n: int, at: int = pos) -> bool:
            return count_tokens(text[at : at + n]) <= max_tokens

        taken = _longest_fit(chars_fit, min(limit, end - pos), guess, slack=8)
        guess = taken
        yield _Piece(pos, pos + taken, count_tokens(text[pos : pos + taken]))
        pos += taken


def _longest_fit(fits: Callable[[int], bool], most: int, guess: int, slack: int = 0) -> int:
    """The largest n in [1, most] with ``fits(n)`` (1 is taken even if it does not fit; fits
    holds up to some n and not after), searched from ``guess``, the last window's size: a
    window costs a few probes of about its own size. With ``slack`` k, an n within 1/k of
    the largest is good enough."""
    lo, hi = 1, most
    n = min(max(guess, 1), most)
    if fits(n):
        lo = n
        step = max(n, 1)
        while lo < hi:
            probe = min(hi, lo + step)
            if not fits(probe):
                hi = probe - 1
                break
            lo, step = probe, step * 2
    else:
        hi = n - 1
        while hi > lo:
            probe = max(lo, hi // 2)
            if fits(probe):
                lo = probe
                break
            hi = probe - 1
    while lo < hi and not (slack and hi - lo <= lo // slack):
        mid = (lo + hi + 1) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def _pack(
    pieces: list[_Piece], max_tokens: int, overlap_tokens: int
) -> Iterator[tuple[int, int, int]]:
    """Greedily join neighbouring pieces up to the budget; a new chunk starts with the previous
    chunk's last piece when that piece is small, so a sentence cut at a boundary is not lost."""
    current: list[_Piece] = []
    tokens = 0
    limit = max_tokens * MAX_CHARS_PER_TOKEN
    for piece in pieces:
        if current and (tokens + piece.tokens > max_tokens or piece.end - current[0].start > limit):
            yield current[0].start, current[-1].end, tokens
            tail = current[-1]
            if (tail.tokens <= overlap_tokens and tail.tokens + piece.tokens <= max_tokens
                    and piece.end - tail.start <= limit):
                current, tokens = [tail], tail.tokens
            else:
                current, tokens = [], 0
        current.append(piece)
        tokens += piece.tokens
    if current:
        yield current[0].start, current[-1].end, tokens

"""Snippets: the part of a chunk around its densest run of matched words, with match offsets.

Matches are found by running the full-text index's own tokenizer over the chunk and looking
for the query's words and phrases among its tokens, so they follow the ranking's stemming
("leases" marks "lease"). FTS5's ``highlight()`` would give the same marks, but each call
reads every query word's postings again: 0.7 ms a hit at 100,000 chunks, most of the time
left in a search at that size (docs/benchmarks-history.md, "Search latency").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import apsw

from core.store.database import Store
from core.text.sentences import sentence_spans
from core.types import Hit

SNIPPET_CHARS = 240
MAX_WIDEN = 240  # characters a passage may grow on each side to reach a sentence boundary
FRAGMENT = 20  # a snippet edge this close to a boundary cuts a fragment: drop it instead


@dataclass(frozen=True)
class Snippet:
    text: str
    start: int  # offset of the snippet in the page text
    matches: list[tuple[int, int]]  # offsets in ``text``


class Snippeter:
    """Snippets for one query: ``items`` are its words and phrases, as the user wrote them."""

    def __init__(self, store: Store, items: Sequence[str], width: int = SNIPPET_CHARS):
        self.width = width
        self._tokenize = store.search.tokenizer()
        phrases = [self._query_tokens(item) for item in items]
        self._phrases = [p for p in phrases if p]

    def make(self, text: str, chunk_start: int) -> Snippet:
        spans = self.match_spans(text)
        lo, hi = _window(text, spans, self.width)
        inside = [(s - lo, e - lo) for s, e in spans if s >= lo and e <= hi]
        return Snippet(text[lo:hi], chunk_start + lo, inside)

    def match_spans(self, text: str) -> list[tuple[int, int]]:
        """Offsets in ``text`` of every occurrence of the query's words and phrases."""
        if not self._phrases or not text:
            return []
        data = text.encode("utf-8")
        tokens = self._tokenize(data, apsw.FTS5_TOKENIZE_DOCUMENT, None,
                                include_offsets=True, include_colocated=False)
        words = [token for _, _, token in tokens]
        positions: dict[str, list[int]] = {}
        for index, word in enumerate(words):
            positions.setdefault(word, []).append(index)
        found: list[tuple[int, int]] = []
        for phrase in self._phrases:
            size = len(phrase)
            for i in positions.get(phrase[0], ()):
                if size == 1 or words[i : i + size] == phrase:
                    found.append((tokens[i][0], tokens[i + size - 1][1]))
        if not found:
            return []
        to_char = _char_offsets(text, data)
        spans: list[tuple[int, int]] = []
        for start, end in sorted(found):
            if spans and start < spans[-1][1]:
                continue  # inside a longer match already marked
            spans.append((to_char[start], to_char[end]))
        return spans

    def _query_tokens(self, item: str) -> list[str]:
        tokens = self._tokenize(item.encode("utf-8"), apsw.FTS5_TOKENIZE_QUERY, None,
                                include_offsets=False, include_colocated=False)
        return [str(token) for token in tokens]


def _char_offsets(text: str, data: bytes) -> list[int]:
    """Character offset of every UTF-8 byte offset of ``text`` (and of its end)."""
    if len(data) == len(text):
        return list(range(len(text) + 1))
    offsets: list[int] = []
    for index, char in enumerate(text):
        offsets.extend([index] * len(char.encode("utf-8")))
    offsets.append(len(text))
    return offsets


def _window(text: str, spans: list[tuple[int, int]], width: int) -> tuple[int, int]:
    """The ``width``-character window holding the most matches, widened to word boundaries."""
    if len(text) <= width:
        return 0, len(text)
    best_start, best_count = 0, 0
    for i, (s, _) in enumerate(spans):
        count = sum(1 for s2, e2 in spans[i:] if e2 <= s + width)
        if count > best_count:
            best_start, best_count = s, count
    # Give the first match a little left context.
    lo = max(0, best_start - width // 5) if spans else 0
    hi = min(len(text), lo + width)
    lo = max(0, min(lo, hi - width))
    while lo > 0 and not text[lo - 1].isspace():
        lo -= 1
    while hi < len(text) and not text[hi].isspace():
        hi += 1
    return lo, hi


def passage_span(hit: Hit) -> tuple[int, int]:
    """The span to highlight for a hit, in page-text offsets: its snippet (the part around
    the matched words) widened to whole sentences, never beyond the hit's chunk.

    A whole chunk can fill half a page; the snippet alone starts and ends mid-sentence.
    """
    text = hit.text
    lo = max(0, min(len(text), hit.snippet_start - hit.start))
    hi = max(lo, min(len(text), lo + len(hit.snippet)))
    bounds = sorted({0, len(text), *(b for span in sentence_spans(text) for b in span)})
    next_after_lo = min(b for b in bounds if b >= lo)
    previous_before_hi = max(b for b in bounds if b <= hi)
    # Edges: "… notices. The" loses "The" rather than gaining the whole next sentence.
    if next_after_lo - lo <= FRAGMENT and next_after_lo < hi:
        lo = next_after_lo
    elif lo - (start := max(b for b in bounds if b <= lo)) <= MAX_WIDEN:
        lo = start
    if hi - previous_before_hi <= FRAGMENT and previous_before_hi > lo:
        hi = previous_before_hi
    elif (end := min(b for b in bounds if b >= hi)) - hi <= MAX_WIDEN:
        hi = end
    while lo < hi and text[lo].isspace():
        lo += 1
    while hi > lo and text[hi - 1].isspace():
        hi -= 1
    return hit.start + lo, hit.start + hi

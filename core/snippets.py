"""Snippets: the part of a chunk around its densest run of matched words, with match offsets.

Matches come from FTS5's own ``highlight()`` so they follow the same tokenizer and stemming
as the ranking ("leases" marks "lease").
"""

from __future__ import annotations

from dataclasses import dataclass

from core.store import Store

SNIPPET_CHARS = 240
# Private-use characters: they do not occur in real text, so they can mark matches.
_OPEN, _CLOSE = "\ue000", "\ue001"


@dataclass(frozen=True)
class Snippet:
    text: str
    start: int  # offset of the snippet in the page text
    matches: list[tuple[int, int]]  # offsets in ``text``


class Snippeter:
    def __init__(self, store: Store, highlight_match: str | None, width: int = SNIPPET_CHARS):
        self.store = store
        self.match = highlight_match
        self.width = width

    def make(self, chunk_id: int, text: str, chunk_start: int) -> Snippet:
        spans = self.match_spans(chunk_id, text)
        lo, hi = _window(text, spans, self.width)
        inside = [(s - lo, e - lo) for s, e in spans if s >= lo and e <= hi]
        return Snippet(text[lo:hi], chunk_start + lo, inside)

    def match_spans(self, chunk_id: int, text: str) -> list[tuple[int, int]]:
        """Offsets in ``text`` of every word the query matches."""
        if self.match is None or _OPEN in text or _CLOSE in text:
            return []
        rows = self.store.conn.execute(
            "SELECT highlight(chunks_fts, 0, ?, ?) FROM chunks_fts "
            "WHERE chunks_fts MATCH ? AND rowid = ?",
            (_OPEN, _CLOSE, self.match, chunk_id),
        ).fetchall()
        if not rows:
            return []
        return _marked_spans(str(rows[0][0]))


def _marked_spans(marked: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    plain_pos = 0
    start = -1
    for ch in marked:
        if ch == _OPEN:
            start = plain_pos
        elif ch == _CLOSE:
            if start >= 0:
                spans.append((start, plain_pos))
            start = -1
        else:
            plain_pos += 1
    return spans


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

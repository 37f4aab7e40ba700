"""Dataclasses that cross module lines.

Offsets are always character offsets into one page's extracted text (``Page.text``), so a
hit, a chunk or a citation can be shown and highlighted exactly. Page numbers are as the
user sees them: the first page is 1; files without pages use ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


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


@dataclass
class Document:
    """What every extractor returns."""

    path: Path
    kind: str  # "pdf", "text", "markdown", "html", "docx", "epub", "code", ...
    pages: list[Page]
    title: str | None = None

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

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "page": self.page,
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

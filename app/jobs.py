"""The blocking work the window asks for, as plain functions of a ``TaskContext``.

Everything here runs on a worker thread through ``app.tasks``: SQL, extraction, page
rendering, generation. Widgets never call these directly; they pass them to
``TaskRunner.run`` and get the dataclasses below back on the GUI thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pymupdf

from app.tasks import TaskContext
from core.answer.answerer import Answerer
from core.config import Settings
from core.extract import extract, open_document, span_quads
from core.extract.pdf import PAGED_KINDS
from core.index.reconcile import describe_left_out
from core.models.interface import TextModel
from core.search.query import parse_query
from core.search.retrieval import SearchResult, search
from core.text.sentences import sentence_spans
from core.text.words import QUERY_STOPWORDS, word_pattern, word_spans
from core.types import Answer, Hit

Rect = tuple[float, float, float, float]
RESULT_LIMIT = 200
POINTS_PER_INCH = 72
SCREEN_DPI = 96  # "100 %" zoom shows a page at its printed size on a 96-dpi screen
MAX_MATCH_PAGES = 2000  # scanning more pages for query words takes longer than it is worth


def is_paged(path: str) -> bool:
    """Whether the preview renders this file as pages (PDF, DOCX, EPUB) or shows its text."""
    return Path(path).suffix.lower() in PAGED_KINDS


MAX_WIDEN = 240  # characters a passage may grow on each side to reach a sentence boundary
FRAGMENT = 20  # a snippet edge this close to a boundary cuts a fragment: drop it instead


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


def query_words(query: str) -> list[str]:
    """The words and phrases of a query worth marking in a preview (no filters, no stopwords)."""
    parsed = parse_query(query)
    words = [t for t in parsed.terms if t.lower() not in QUERY_STOPWORDS]
    return [*parsed.phrases, *words]


# -- search and answers --------------------------------------------------------------------


def run_search(
    ctx: TaskContext, query: str, model: TextModel | None, limit: int = RESULT_LIMIT
) -> SearchResult:
    ctx.cancel.raise_if_cancelled()
    return search(ctx.store, query, model, limit=limit, per_file=1)


def ask(
    ctx: TaskContext,
    model: TextModel,
    question: str,
    scope: str | None,
    history: Sequence[tuple[str, str]],
    mode: str = "auto",
) -> Answer:
    """Answer with sources; streamed text pieces go to the task's progress callback."""
    return Answerer(ctx.store, model, mode=mode).ask(
        question, scope=scope, history=history, on_text=ctx.report, cancel=ctx.cancel
    )


# -- index overview ------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexOverview:
    folders: list[str]
    counts: dict[str, int]
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # path, state, reason
    #: What the scans left out, as lines ("312 .pages files skipped: not supported").
    left_out: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def searchable(self) -> int:
        return self.counts.get("extracted", 0) + self.counts.get("embedded", 0)

    @property
    def problems(self) -> int:
        return self.counts.get("failed", 0) + self.counts.get("skipped", 0)


def index_overview(ctx: TaskContext, with_failures: bool = False) -> IndexOverview:
    store = ctx.store
    folders = [path for _, path in store.folders()]
    failures = store.failures() if with_failures else []
    left_out = describe_left_out(store.skipped_kinds()) if with_failures else []
    return IndexOverview(folders, store.state_counts(), failures, left_out)


def save_settings(settings: Settings, path: Path) -> None:
    settings.save(path)


# -- preview -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RenderedPage:
    """One page drawn to RGB pixels, with the passage and query words located on it."""

    path: str
    page: int  # 1-based
    page_count: int
    samples: bytes
    width: int
    height: int
    stride: int
    points_to_pixels: float  # image pixels per PDF point
    # The passage as ``span_quads`` returns it (page coordinates of the unrotated page) ...
    highlight_quads: list[Rect]
    # ... and the same rectangles in image pixels, rotation applied.
    highlight_pixels: list[Rect]
    match_pixels: list[Rect]


def render_page(
    ctx: TaskContext,
    path: str,
    page_number: int,
    zoom: float | None,
    fit_width: float,
    device_pixel_ratio: float,
    span: tuple[int, int] | None,
    words: Sequence[str],
) -> RenderedPage:
    """Draw a page of a PDF/DOCX/EPUB. ``zoom`` is 1.0 for printed size; None fits the page
    to ``fit_width`` logical pixels. Pixels are rendered at the screen's device pixel ratio."""
    with open_document(Path(path)) as document:
        count = document.page_count
        number = min(max(page_number, 1), count)
        page = document.load_page(number - 1)
        ctx.cancel.raise_if_cancelled()
        logical = zoom * SCREEN_DPI / POINTS_PER_INCH if zoom else fit_width / page.rect.width
        scale = max(0.1, logical) * device_pixel_ratio
        matrix = pymupdf.Matrix(scale, scale)
        pixmap = page.get_pixmap(matrix=matrix, alpha=False)
        # Quads come in unrotated page space; the picture shows the page as rotated.
        to_pixels = page.rotation_matrix * matrix
        matches = [_transform(rect, to_pixels) for rect in word_rects(page, words)]
        samples, width, height, stride = (
            bytes(pixmap.samples),
            pixmap.width,
            pixmap.height,
            (pixmap.stride),
        )
    quads: list[Rect] = []
    if span is not None and span[1] > span[0]:
        quads = list(span_quads(Path(path), number, span[0], span[1]))
    return RenderedPage(
        path=path,
        page=number,
        page_count=count,
        samples=samples,
        width=width,
        height=height,
        stride=stride,
        points_to_pixels=scale,
        highlight_quads=quads,
        highlight_pixels=[_transform(q, to_pixels) for q in quads],
        match_pixels=matches,
    )


def pages_with_words(ctx: TaskContext, path: str, words: Sequence[str]) -> list[int]:
    """The pages (1-based) on which any of ``words`` occurs, for next/previous match."""
    if not words:
        return []
    found: list[int] = []
    with open_document(Path(path)) as document:
        for index in range(min(document.page_count, MAX_MATCH_PAGES)):
            ctx.cancel.raise_if_cancelled()
            if word_rects(document.load_page(index), words):
                found.append(index + 1)
    return found


@dataclass(frozen=True)
class TextPage:
    """A text-like file as it was indexed (HTML as its visible text), with query words found."""

    path: str
    page: int | None
    text: str
    matches: list[tuple[int, int]]


def load_text_page(
    ctx: TaskContext, path: str, page_number: int | None, words: Sequence[str]
) -> TextPage:
    document = extract(Path(path))
    ctx.cancel.raise_if_cancelled()
    page = next((p for p in document.pages if p.number == page_number), document.pages[0])
    return TextPage(path, page.number, page.text, word_spans(page.text, words))


def word_rects(page: pymupdf.Page, words: Sequence[str]) -> list[Rect]:
    """Boxes of the page's words that match ``words`` (unrotated page coordinates, like
    ``span_quads``). Whole words only: "end" does not mark "Ending"."""
    pattern = word_pattern(words)
    if pattern is None:
        return []
    return [
        (x0, y0, x1, y1)
        for x0, y0, x1, y1, text, *_ in page.get_text("words")
        if pattern.match(text.lstrip("\"'([“‘"))
    ]


def _transform(rect: Sequence[float], matrix: pymupdf.Matrix) -> Rect:
    r = pymupdf.Rect(rect) * matrix
    return (r.x0, r.y0, r.x1, r.y1)

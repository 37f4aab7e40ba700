"""A file as the preview shows it: a paged document's page drawn to pixels with the passage
and the query's words located on it, or a text-like file's page with its words found.

Blocking calls for a worker thread; PyMuPDF's rule holds (``core/extract/pdf.py``): one thread
at a time.

>>> page = render_page(Path("lease.pdf"), 2, zoom=1.0, fit_width=0, device_pixel_ratio=2.0,
...                    span=(120, 260), words=["notice"])
>>> page.width, page.highlight_pixels[:1]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pymupdf

from core.cancel import CancelToken
from core.extract import extract, open_document, span_quads
from core.extract.ocr import IMAGE_EXTENSIONS
from core.extract.pdf import PAGED_KINDS, kind_of, scanned_text
from core.extract.pdf_layout import Rect, layout_page, merged_line_rects
from core.text.words import word_pattern, word_spans

POINTS_PER_INCH = 72
SCREEN_DPI = 96  # "100 %" zoom shows a page at its printed size on a 96-dpi screen
MAX_MATCH_PAGES = 2000  # scanning more pages for query words takes longer than it is worth


def is_paged(path: str) -> bool:
    """Whether the preview renders this file as pages (PDF, DOCX, EPUB, pictures) or shows
    its text."""
    suffix = Path(path).suffix.lower()
    return suffix in PAGED_KINDS or suffix in IMAGE_EXTENSIONS


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
    path: Path,
    page_number: int,
    zoom: float | None,
    fit_width: float,
    device_pixel_ratio: float,
    span: tuple[int, int] | None,
    words: Sequence[str],
    cancel: CancelToken | None = None,
) -> RenderedPage:
    """Draw a page of a PDF/DOCX/EPUB. ``zoom`` is 1.0 for printed size; None fits the page
    to ``fit_width`` logical pixels. Pixels are rendered at the screen's device pixel ratio."""
    with open_document(path) as document:
        count = document.page_count
        number = min(max(page_number, 1), count)
        page = document.load_page(number - 1)
        if cancel is not None:
            cancel.raise_if_cancelled()
        logical = zoom * SCREEN_DPI / POINTS_PER_INCH if zoom else fit_width / page.rect.width
        scale = max(0.1, logical) * device_pixel_ratio
        matrix = pymupdf.Matrix(scale, scale)
        pixmap = page.get_pixmap(matrix=matrix, alpha=False)
        # Quads come in unrotated page space; the picture shows the page as rotated.
        to_pixels = page.rotation_matrix * matrix
        # A scan's words are where OCR finds them (read once here for the passage and the
        # query's words; a second or so, on the preview's worker thread).
        ocr_text = None
        if (span is not None or words) and not page.get_text("text").strip():
            ocr_text = scanned_text(page, kind_of(path))
        matches = [_transform(rect, to_pixels) for rect in word_rects(page, words, ocr_text)]
        samples, width, height, stride = (
            bytes(pixmap.samples), pixmap.width, pixmap.height, pixmap.stride,
        )
        quads: list[Rect] = []
        if span is not None and span[1] > span[0] and ocr_text is not None:
            quads = merged_line_rects(layout_page(page, ocr_text), span[0], span[1])
    if span is not None and span[1] > span[0] and ocr_text is None:
        quads = list(span_quads(path, number, span[0], span[1]))
    return RenderedPage(
        path=str(path),
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


def pages_with_words(
    path: Path, words: Sequence[str], cancel: CancelToken | None = None
) -> list[int]:
    """The pages (1-based) on which any of ``words`` occurs, for next/previous match."""
    if not words:
        return []
    found: list[int] = []
    with open_document(path) as document:
        for index in range(min(document.page_count, MAX_MATCH_PAGES)):
            if cancel is not None:
                cancel.raise_if_cancelled()
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
    path: Path, page_number: int | None, words: Sequence[str], cancel: CancelToken | None = None
) -> TextPage:
    """The page ``page_number`` of a text-like file (its first when there is no such page)."""
    document = extract(path)
    if cancel is not None:
        cancel.raise_if_cancelled()
    page = next((p for p in document.pages if p.number == page_number), document.pages[0])
    return TextPage(str(path), page.number, page.text, word_spans(page.text, words))


def word_rects(page: pymupdf.Page, words: Sequence[str],
               textpage: pymupdf.TextPage | None = None) -> list[Rect]:
    """Boxes of the page's words that match ``words`` (unrotated page coordinates, like
    ``span_quads``). Whole words only: "end" does not mark "Ending". ``textpage``: the page
    as OCR read it (a scan)."""
    pattern = word_pattern(words)
    if pattern is None:
        return []
    return [
        (x0, y0, x1, y1)
        for x0, y0, x1, y1, text, *_ in page.get_text("words", textpage=textpage)
        if pattern.match(text.lstrip("\"'([“‘"))
    ]


def _transform(rect: Sequence[float], matrix: pymupdf.Matrix) -> Rect:
    r = pymupdf.Rect(rect) * matrix
    return (r.x0, r.y0, r.x1, r.y1)

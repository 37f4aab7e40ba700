"""PDF, DOCX and EPUB through PyMuPDF: text per page, headings by font size, highlight boxes.

PyMuPDF is not thread-safe (MuPDF shares one context): callers must not run these functions
on two threads at once; serialise them (one lock or one worker) across indexing and preview.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pymupdf

from core.extract.errors import (
    ExtractionError,
    NothingToRead,
    ScansNotRead,
    checked_size,
    describe_os_error,
)
from core.extract.ocr import (
    IMAGE_EXTENSIONS,
    MAX_PAGES_PER_FILE,
    SCANNABLE_KINDS,
    PictureTooLarge,
    find_ocr_engine,
    is_scanned,
    read_scanned_page,
)
from core.extract.pdf_headings import detect_headings
from core.extract.pdf_layout import (
    PageLayout,
    Rect,
    TextLine,
    layout_page,
    layout_text,
    merged_line_rects,
)
from core.types import Document, Page

PAGED_KINDS = {
    ".pdf": "pdf", ".docx": "docx", ".epub": "epub",
    # E-books and fixed-layout documents MuPDF opens as well (laid out like EPUB).
    ".mobi": "mobi", ".fb2": "fb2", ".xps": "xps", ".oxps": "xps", ".cbz": "cbz",
}  # fmt: skip
DEFAULT_MAX_BYTES = 200 * 2**20

# DOCX and EPUB have no pages of their own: MuPDF lays them out. Pinning the layout (MuPDF's
# own defaults, written down) keeps page numbers and offsets identical between indexing and
# the preview, which must open files through ``open_document`` too.
REFLOW_WIDTH = 400
REFLOW_HEIGHT = 600
REFLOW_FONT_SIZE = 11

# Metadata titles that are file names, placeholders or filing numbers say nothing.
_MIN_TITLE_LETTERS = 3
_JUNK_TITLE = re.compile(
    r"^(untitled.*|microsoft word - .*|.*\.(docx?|pdf|rtf|odt|txt|tex|dvi|indd|qxd))$",
    re.IGNORECASE,
)


@contextmanager
def open_document(path: Path) -> Iterator[pymupdf.Document]:
    """Open a PDF/DOCX/EPUB for reading, laid out as it was indexed; closed on exit.

    Raises ``ExtractionError`` if the file cannot be opened or needs a password. Errors
    raised inside the ``with`` block pass through unchanged.
    """
    # MuPDF prints recoverable damage to stdout and keeps every message in a list that would
    # grow for the life of the process; both are noise for an indexer.
    pymupdf.TOOLS.mupdf_display_errors(False)
    pymupdf.TOOLS.mupdf_display_warnings(False)
    try:
        document = _open(path)
        try:
            _prepare(document, path)
            yield document
        finally:
            document.close()
    finally:
        pymupdf.TOOLS.reset_mupdf_warnings()


def _open(path: Path) -> pymupdf.Document:
    try:
        return pymupdf.open(path)
    except OSError as error:
        raise ExtractionError(describe_os_error(error)) from error
    except pymupdf.FileNotFoundError as error:  # PyMuPDF's own, not an OSError
        raise ExtractionError("file not found") from error
    except Exception as error:  # MuPDF raises a zoo of types; all mean "cannot open"
        why = _why_unread(path, repaired=True)
        if "truncated" in why:
            raise ExtractionError(f"damaged {_format_name(path)}: {why}") from error
        raise ExtractionError(f"damaged or unsupported {_format_name(path)}") from error


def _prepare(document: pymupdf.Document, path: Path) -> None:
    if document.needs_pass:
        raise ExtractionError(f"encrypted {_format_name(path)}; a password is needed")
    if document.is_reflowable:
        try:
            document.layout(width=REFLOW_WIDTH, height=REFLOW_HEIGHT, fontsize=REFLOW_FONT_SIZE)
        except Exception as error:  # MuPDF failed to lay out the content
            raise ExtractionError(f"damaged {_format_name(path)} (cannot lay it out)") from error


def extract_paged(
    path: Path,
    max_bytes: int = DEFAULT_MAX_BYTES,
    kind: str | None = None,
    ocr: bool = False,
    on_ocr_page: Callable[[], None] | None = None,
) -> Document:
    """Text of every page (numbered from 1), headings from font sizes, title from metadata.

    ``kind`` is "pdf", "docx", "epub" (...), or "image"; by default it follows the extension.
    MuPDF itself recognises the format from the content. A page that cannot be read becomes an
    empty page; the file fails only if none can be read. Pages without a text layer that show
    a picture (scans) are read by OCR when ``ocr`` is set and Tesseract is there
    (``core/extract/ocr.py``), ``on_ocr_page`` called after each; otherwise they are counted
    in ``Document.unread_scans``.
    """
    checked_size(path, max_bytes)
    kind = kind or kind_of(path)
    with open_document(path) as document:
        page_count = _page_count(document, path)
        # Text only (no character boxes): the same text layout_page gives, built faster.
        layouts: list[PageLayout | None] = [
            _read_page(document, i, layout_text) for i in range(page_count)
        ]
        metadata_title = _metadata_title(document)
        repaired = bool(document.is_repaired)
        unread = [i for i, layout in enumerate(layouts) if layout is None or (
            repaired and not layout.text.strip() and _content_lost(document, i))]
        scans = _read_scans(document, kind, layouts, set(unread), ocr, on_ocr_page)
    texts = [layout.text if layout else "" for layout in layouts]
    why = _why_unread(path, repaired=bool(unread) and repaired)
    if len(unread) == page_count or (unread and not any(text.strip() for text in texts)):
        raise ExtractionError(f"damaged {_format_name(path)}: {why}; no page could be read")
    notes = []
    if unread:
        notes.append(f"read {page_count - len(unread):,} of {page_count:,} pages; the rest "
                     f"could not be read: {why}")
    if scans.failed:
        notes.append(scans.failed)
    if not any(text.strip() for text in texts):
        raise scans.nothing_read(kind)
    lines: list[list[TextLine]] = [layout.lines if layout else [] for layout in layouts]
    headings = detect_headings(texts, lines)
    pages = [
        Page(number, text, page_headings)
        for number, (text, page_headings) in enumerate(zip(texts, headings, strict=True), 1)
    ]
    return Document(path=path, kind=kind, pages=pages, title=_title(metadata_title, pages),
                    note="; ".join(notes) or None, ocr_pages=scans.read,
                    unread_scans=scans.unread)


@dataclass
class _Scans:
    """What became of a document's scanned pages: read by OCR, or not (and why)."""

    read: int = 0
    unread: int = 0
    #: Why they were not read, when OCR was asked for ("Tesseract is not installed").
    why_unread: str | None = None
    #: Pages OCR was tried on and failed, as a note for the user.
    failed: str | None = None

    def nothing_read(self, kind: str) -> ExtractionError:
        """The error for a document none of whose pages has text."""
        if not self.unread:
            if not self.read:
                return ExtractionError("no text found")
            found = "no text found in the picture" if kind == "image" else "no text found"
            return NothingToRead(f"{found}, even by OCR")
        what = ("a picture of text" if kind == "image" else
                f"{self.unread:,} scanned page{'s' if self.unread != 1 else ''} without a "
                "text layer")
        if self.why_unread is None:  # OCR is off for the folder
            return ScansNotRead(f"{what}: turn on “Read scanned pages (OCR)” for this folder "
                                "to read them", self.unread)
        return ScansNotRead(f"{what}, not read: {self.why_unread}", self.unread)


def _read_scans(
    document: pymupdf.Document,
    kind: str,
    layouts: list[PageLayout | None],
    damaged: set[int],
    ocr: bool,
    on_ocr_page: Callable[[], None] | None,
) -> _Scans:
    """OCR (when asked and possible) the pages of ``document`` without text that show a
    picture, putting their text into ``layouts``; count the rest."""
    scans = _Scans()
    if kind not in SCANNABLE_KINDS:
        return scans
    scanned = [i for i, layout in enumerate(layouts)
               if layout is not None and i not in damaged and not layout.text.strip()
               and is_scanned(document.load_page(i), kind)]
    if not scanned:
        return scans
    engine = find_ocr_engine() if ocr else None
    if engine is None or not engine.available:
        scans.unread = len(scanned)
        scans.why_unread = engine.problem if engine is not None else None
        return scans
    failures: list[str] = []
    beyond = scanned[MAX_PAGES_PER_FILE:]
    for index in scanned[:MAX_PAGES_PER_FILE]:
        page = document.load_page(index)
        try:
            textpage = read_scanned_page(page, engine)
            layouts[index] = layout_text(page, textpage)
            scans.read += 1
        except PictureTooLarge as error:
            failures.append(f"page {index + 1} ({error})")
        except Exception as error:  # MuPDF or Tesseract failed on this page: keep the rest
            failures.append(f"page {index + 1} ({type(error).__name__})")
        if on_ocr_page is not None:
            on_ocr_page()
    notes = []
    if failures:
        shown = ", ".join(failures[:5]) + (", ..." if len(failures) > 5 else "")
        notes.append(f"{len(failures):,} scanned page{'s' if len(failures) != 1 else ''} "
                     f"could not be read by OCR: {shown}")
    if beyond:
        notes.append(f"OCR reads the first {MAX_PAGES_PER_FILE:,} scanned pages of a file; "
                     f"{len(beyond):,} more were left unread")
    if notes:
        scans.unread = len(failures) + len(beyond)
        scans.why_unread = "OCR could not read them"
        scans.failed = "; ".join(notes)
    return scans


def _content_lost(document: pymupdf.Document, index: int) -> bool:
    """In a file MuPDF had to repair: the page's content is gone (no content stream left, or
    one that is cut short), so its emptiness is damage, not a blank or scanned page."""
    try:
        page = document.load_page(index)
        streams = page.get_contents()
        return not streams or any(not document.xref_stream(xref) for xref in streams)
    except Exception:  # whatever MuPDF cannot answer here, it could not read either
        return True


def _why_unread(path: Path, repaired: bool) -> str:
    """Why pages could not be read: a PDF cut short (its end marker is missing; a file MuPDF
    had to repair, or could not open) or damage."""
    if repaired and path.suffix.lower() == ".pdf":
        try:
            with path.open("rb") as f:
                f.seek(max(0, path.stat().st_size - 1024))
                if b"%%EOF" not in f.read():
                    return "the file looks truncated (cut short, as by an interrupted download)"
        except OSError:
            pass
    return "the pages are damaged"


def span_quads(path: Path, page_number: int, start: int, end: int) -> list[Rect]:
    """Rectangles covering characters ``[start, end)`` of a page's indexed text, one per line.

    Coordinates are MuPDF page coordinates (points, origin top-left, unrotated page), the
    space ``Page.search_for`` and ``Page.add_highlight_annot`` use. The page is re-extracted
    the same way as at indexing time, so offsets agree exactly (a scanned page is read by OCR
    again, when Tesseract is there).

    >>> rects = span_quads(Path("report.pdf"), 3, 120, 164)  # doctest: +SKIP
    """
    with open_document(path) as document:
        page_count = _page_count(document, path)
        if not 1 <= page_number <= page_count:
            raise ExtractionError(f"page {page_number} does not exist (the file has {page_count})")
        page = document.load_page(page_number - 1)
        layout = _read_page(document, page_number - 1)
        if layout is not None and not layout.text.strip():
            textpage = scanned_text(page, kind_of(path))
            if textpage is not None:
                layout = layout_page(page, textpage)
    if layout is None:
        raise ExtractionError(f"page {page_number} cannot be read")
    return merged_line_rects(layout, start, end)


def scanned_text(page: pymupdf.Page, kind: str) -> pymupdf.TextPage | None:
    """A page without a text layer as OCR reads it, for the preview: its text was indexed
    from there (only OCR gives such a page text). None when it is no scan, Tesseract is
    missing, or OCR fails."""
    if not is_scanned(page, kind):
        return None
    engine = find_ocr_engine()
    if not engine.available:
        return None
    try:
        return read_scanned_page(page, engine)
    except Exception:  # no highlight is better than no page
        return None


def kind_of(path: Path) -> str:
    """The document kind ``extract_paged`` reads a file as, by its name."""
    suffix = path.suffix.lower()
    return "image" if suffix in IMAGE_EXTENSIONS else PAGED_KINDS.get(suffix, "pdf")


def _page_count(document: pymupdf.Document, path: Path) -> int:
    try:
        count = int(document.page_count)
    except Exception as error:  # a broken page tree
        raise ExtractionError(f"damaged {_format_name(path)} (cannot count its pages)") from error
    if count == 0:
        raise ExtractionError(f"the {_format_name(path)} has no pages")
    return count


def _metadata_title(document: pymupdf.Document) -> str:
    try:
        return str((document.metadata or {}).get("title") or "")
    except Exception:  # unreadable metadata is no reason to lose the text
        return ""


def _read_page(
    document: pymupdf.Document,
    index: int,
    layout: Callable[[pymupdf.Page], PageLayout] | None = None,
) -> PageLayout | None:
    """The page by ``layout`` (default ``layout_page``, with character boxes)."""
    try:
        return (layout or layout_page)(document.load_page(index))
    except Exception:  # one damaged page must not cost the rest of the document
        return None


def _title(metadata_title: str, pages: list[Page]) -> str | None:
    title = " ".join(metadata_title.split())
    letters = sum(char.isalpha() for char in title)
    if letters >= _MIN_TITLE_LETTERS and not _JUNK_TITLE.match(title):
        return title
    headings = [heading for page in pages for heading in page.headings]
    if not headings:
        return None
    return min(headings, key=lambda heading: heading.level).text


def _format_name(path: Path) -> str:
    """What to call the file in a message: "PDF", "DOCX", "EPUB", "picture" or "document"."""
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        return "picture"
    kind = PAGED_KINDS.get(path.suffix.lower())
    return kind.upper() if kind else "document"

"""Turn a file into a ``Document``: the extractor is chosen by extension, or by content.

>>> from pathlib import Path
>>> is_supported(Path("notes.md")), is_supported(Path("photo.jpg"))
(True, False)

Every problem with the input surfaces as ``ExtractionError`` with a reason for the user;
``span_quads`` maps a page text span back to highlight rectangles (PDF, DOCX, EPUB).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from core.extract.errors import ExtractionError, checked_size, describe_os_error
from core.extract.html_text import HTML_EXTENSIONS, extract_html
from core.extract.pdf import PAGED_KINDS, extract_paged, open_document, span_quads
from core.extract.text import TEXT_EXTENSIONS, TEXT_FILE_NAMES, extract_text
from core.types import Document

__all__ = [
    "EXTRACTOR_VERSION",
    "SUPPORTED_EXTENSIONS",
    "ExtractionError",
    "extract",
    "is_supported",
    "open_document",
    "span_quads",
]

SUPPORTED_EXTENSIONS = frozenset(PAGED_KINDS) | HTML_EXTENSIONS | TEXT_EXTENSIONS
# Bump whenever any extractor's page text (and so its offsets) changes for the same bytes:
# stored offsets are only valid with the extractor that produced them, and an unchanged
# content hash alone would keep stale ones.
EXTRACTOR_VERSION = 1

_SNIFF_BYTES = 1024  # PDF allows its "%PDF-" marker anywhere in the first kilobyte
_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body")
_ZIP_MAGIC = b"PK\x03\x04"


def is_supported(path: Path) -> bool:
    """Whether ``extract`` is meant for this file, judged by its name alone (for scanning)."""
    suffix = path.suffix.lower()
    if suffix:
        return suffix in SUPPORTED_EXTENSIONS
    return path.name.lower() in TEXT_FILE_NAMES


def extract(path: Path, max_bytes: int | None = None) -> Document:
    """Extract a file's text, pages and headings.

    ``max_bytes`` caps the file size; by default 200 MB for PDF/DOCX/EPUB and 20 MB for
    text and HTML. Raises ``ExtractionError`` (only) for files it cannot handle.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in PAGED_KINDS:
        return _paged(path, max_bytes, PAGED_KINDS[suffix])
    if suffix in HTML_EXTENSIONS:
        return _html(path, max_bytes)
    if suffix in TEXT_EXTENSIONS:
        return _text(path, max_bytes)
    return _by_content(path, max_bytes)


def _by_content(path: Path, max_bytes: int | None) -> Document:
    """Unknown or missing extension: look at the first bytes to decide."""
    checked_size(path, max_bytes if max_bytes is not None else 2**63)
    try:
        with path.open("rb") as stream:
            head = stream.read(_SNIFF_BYTES)
    except OSError as error:
        raise ExtractionError(describe_os_error(error)) from error
    if b"%PDF-" in head:
        return _paged(path, max_bytes, "pdf")
    if head.startswith(_ZIP_MAGIC):
        return _paged(path, max_bytes, _zip_kind(path))
    start = head.removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    if start.startswith(_HTML_STARTS):
        return _html(path, max_bytes)
    return _text(path, max_bytes)


def _zip_kind(path: Path) -> str:
    """Which ZIP-based format MuPDF reads this is ("docx", "epub"); anything else is refused."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (OSError, zipfile.BadZipFile) as error:
        raise ExtractionError("damaged ZIP archive") from error
    if "word/document.xml" in names:
        return "docx"
    if "META-INF/container.xml" in names:
        return "epub"
    raise ExtractionError("unsupported file type (a ZIP archive)")


def _paged(path: Path, max_bytes: int | None, kind: str) -> Document:
    if max_bytes is None:
        return extract_paged(path, kind=kind)
    return extract_paged(path, max_bytes, kind)


def _html(path: Path, max_bytes: int | None) -> Document:
    return extract_html(path) if max_bytes is None else extract_html(path, max_bytes)


def _text(path: Path, max_bytes: int | None) -> Document:
    return extract_text(path) if max_bytes is None else extract_text(path, max_bytes)

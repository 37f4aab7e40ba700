"""Turn a file into a ``Document``: the extractor is chosen by extension, or by content.

>>> from pathlib import Path
>>> is_supported(Path("notes.md")), is_supported(Path("photo.jpg"))
(True, False)
>>> is_supported(Path("photo.jpg"), ocr=True)  # pictures of text, read by OCR
True

Every problem with the input surfaces as ``ExtractionError`` with a reason for the user;
``span_quads`` maps a page text span back to highlight rectangles (the formats MuPDF lays out:
PDF, DOCX, EPUB, MOBI, FB2, XPS, CBZ).
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from pathlib import Path

from core.extract.errors import ExtractionError, checked_size, describe_os_error
from core.extract.html_text import HTML_EXTENSIONS, extract_html
from core.extract.mail import DEFAULT_MAX_BYTES as MAIL_MAX_BYTES
from core.extract.mail import DEFAULT_MAX_MAILBOX_BYTES, extract_eml, extract_mbox
from core.extract.ocr import IMAGE_EXTENSIONS
from core.extract.opendoc import extract_odt
from core.extract.pdf import DEFAULT_MAX_BYTES as PAGED_MAX_BYTES
from core.extract.pdf import PAGED_KINDS, extract_paged, open_document, span_quads
from core.extract.rtf import extract_rtf
from core.extract.sheets import extract_csv, extract_ods, extract_xlsx
from core.extract.slides import extract_odp, extract_pptx
from core.extract.text import DEFAULT_MAX_BYTES as TEXT_MAX_BYTES
from core.extract.text import TEXT_EXTENSIONS, extract_text, is_text_by_name
from core.extract.zipped import check_zip_file
from core.types import Document

__all__ = [
    "EXTRACTOR_VERSION",
    "SUPPORTED_EXTENSIONS",
    "ExtractionError",
    "extract",
    "is_supported",
    "is_text_by_name",
    "open_document",
    "size_cap",
    "span_quads",
]

_Reader = Callable[..., Document]
# Formats read by Kenning's own readers (one page per slide, sheet or message; or one page).
READERS: dict[str, _Reader] = {
    ".pptx": extract_pptx, ".pptm": extract_pptx, ".odp": extract_odp,
    ".xlsx": extract_xlsx, ".xlsm": extract_xlsx, ".ods": extract_ods,
    ".csv": extract_csv, ".tsv": extract_csv,
    ".odt": extract_odt, ".rtf": extract_rtf,
    ".eml": extract_eml, ".mbox": extract_mbox,
}  # fmt: skip
SUPPORTED_EXTENSIONS = (
    frozenset(PAGED_KINDS) | frozenset(READERS) | HTML_EXTENSIONS | TEXT_EXTENSIONS
)
# Bump whenever any extractor's page text (and so its offsets) changes for the same bytes:
# stored offsets are only valid with the extractor that produced them, and an unchanged
# content hash alone would keep stale ones.
EXTRACTOR_VERSION = 2

_SNIFF_BYTES = 1024  # PDF allows its "%PDF-" marker anywhere in the first kilobyte
_HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body")
_ZIP_MAGIC = b"PK\x03\x04"


# Size caps where they differ from the 200 MB of documents read by their structure.
_TEXT_CAPPED = HTML_EXTENSIONS | TEXT_EXTENSIONS | {".csv", ".tsv", ".rtf"}
# A picture larger than this is a photograph or a poster, not a page of text.
IMAGE_MAX_BYTES = 50 * 2**20
_CAPS = {".eml": MAIL_MAX_BYTES, ".mbox": DEFAULT_MAX_MAILBOX_BYTES,
         **dict.fromkeys(IMAGE_EXTENSIONS, IMAGE_MAX_BYTES)}


def size_cap(path: Path) -> int:
    """The largest file ``extract`` reads for this name by default (larger ones are refused
    before anything is read). A name without an extension gets the largest cap any content
    it may turn out to be has.

    >>> size_cap(Path("a.txt")) // 2**20, size_cap(Path("a.pdf")) // 2**20
    (20, 200)
    """
    suffix = path.suffix.lower()
    if suffix in _CAPS:
        return _CAPS[suffix]
    if suffix in _TEXT_CAPPED:
        return TEXT_MAX_BYTES
    if suffix in PAGED_KINDS or suffix in READERS:
        return PAGED_MAX_BYTES
    return max(DEFAULT_MAX_MAILBOX_BYTES, PAGED_MAX_BYTES)


def is_supported(path: Path, ocr: bool = False) -> bool:
    """Whether ``extract`` is meant for this file, judged by its name alone (for scanning).
    Pictures (.png, .jpg, .tiff...) are, where OCR is on (``ocr``)."""
    suffix = path.suffix.lower()
    if suffix in SUPPORTED_EXTENSIONS or (ocr and suffix in IMAGE_EXTENSIONS):
        return True
    return is_text_by_name(path.name)


def extract(
    path: Path,
    max_bytes: int | None = None,
    ocr: bool = False,
    on_ocr_page: Callable[[], None] | None = None,
) -> Document:
    """Extract a file's text, pages and headings.

    ``max_bytes`` caps the file size; by default 200 MB for PDF/DOCX/EPUB and 20 MB for
    text and HTML. ``ocr``: read scanned pages, and pictures, by OCR (``on_ocr_page`` is
    called after each page read so). Raises ``ExtractionError`` (only) for files it cannot
    handle.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in PAGED_KINDS:
        return _paged(path, max_bytes, PAGED_KINDS[suffix], ocr, on_ocr_page)
    if suffix in IMAGE_EXTENSIONS:
        if not ocr:
            raise ExtractionError("unsupported file type (a picture: pictures of text are read "
                                  "only with OCR on for their folder)")
        return _paged(path, max_bytes, "image", ocr, on_ocr_page)
    if suffix in READERS:
        return _read(READERS[suffix], path, max_bytes)
    if suffix in HTML_EXTENSIONS:
        return _html(path, max_bytes)
    if suffix in TEXT_EXTENSIONS:
        return _text(path, max_bytes)
    return _by_content(path, max_bytes, ocr, on_ocr_page)


def _by_content(path: Path, max_bytes: int | None, ocr: bool,
                on_ocr_page: Callable[[], None] | None) -> Document:
    """Unknown or missing extension: look at the first bytes to decide."""
    checked_size(path, max_bytes if max_bytes is not None else 2**63)
    try:
        with path.open("rb") as stream:
            head = stream.read(_SNIFF_BYTES)
    except OSError as error:
        raise ExtractionError(describe_os_error(error)) from error
    if b"%PDF-" in head:
        return _paged(path, max_bytes, "pdf", ocr, on_ocr_page)
    if head.startswith(_ZIP_MAGIC):
        kind = _zip_kind(path)
        if kind in PAGED_KINDS.values():
            return _paged(path, max_bytes, kind, ocr, on_ocr_page)
        return _read(READERS["." + kind], path, max_bytes)
    if _MBOX_START.match(head):  # mail programs keep mailboxes without an extension
        return _read(extract_mbox, path, max_bytes)
    start = head.removeprefix(b"\xef\xbb\xbf").lstrip().lower()
    if start.startswith(_HTML_STARTS):
        return _html(path, max_bytes)
    return _text(path, max_bytes)


def _zip_kind(path: Path) -> str:
    """Which ZIP-based format this is ("docx", "xlsx", "odt", ...); anything else is refused."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            mimetype = archive.read("mimetype")[:100] if "mimetype" in names else b""
    except (OSError, zipfile.BadZipFile, EOFError, ValueError) as error:
        raise ExtractionError("damaged ZIP archive") from error
    for part, kind in _ZIP_PARTS:
        if part in names:
            return kind
    for marker, kind in _ODF_TYPES:
        if mimetype.startswith(marker):
            return kind
    raise ExtractionError("unsupported file type (a ZIP archive)")


_ZIP_PARTS = (
    ("word/document.xml", "docx"), ("ppt/presentation.xml", "pptx"),
    ("xl/workbook.xml", "xlsx"), ("META-INF/container.xml", "epub"),
)  # fmt: skip
_ODF_TYPES = (
    (b"application/vnd.oasis.opendocument.text", "odt"),
    (b"application/vnd.oasis.opendocument.spreadsheet", "ods"),
    (b"application/vnd.oasis.opendocument.presentation", "odp"),
)
_MBOX_START = re.compile(rb"From \S+ [^\n]*\n[\w-]+: ")

# The parts MuPDF reads text from, bounded before it unpacks them (pictures are only counted
# in the whole archive's bound).
_ZIP_TEXT_PARTS: dict[str, Callable[[str], bool]] = {
    "docx": lambda name: name.startswith("word/") and name.endswith(".xml"),
    "epub": lambda name: name.lower().endswith((".xhtml", ".html", ".htm", ".xml", ".ncx")),
    "xps": lambda name: name.lower().endswith((".fpage", ".fdoc", ".fdseq", ".xml")),
    "cbz": lambda name: False,
}


def _paged(path: Path, max_bytes: int | None, kind: str, ocr: bool = False,
           on_ocr_page: Callable[[], None] | None = None) -> Document:
    if kind in _ZIP_TEXT_PARTS and _is_zip(path):
        check_zip_file(path, max_bytes or 2**63, _ZIP_TEXT_PARTS[kind])
    if max_bytes is None:
        max_bytes = size_cap(path) if kind == "image" else PAGED_MAX_BYTES
    return extract_paged(path, max_bytes, kind, ocr, on_ocr_page)


def _is_zip(path: Path) -> bool:
    try:
        with path.open("rb") as stream:
            return stream.read(4) == _ZIP_MAGIC
    except OSError as error:
        raise ExtractionError(describe_os_error(error)) from error


def _read(reader: _Reader, path: Path, max_bytes: int | None) -> Document:
    return reader(path) if max_bytes is None else reader(path, max_bytes)


def _html(path: Path, max_bytes: int | None) -> Document:
    return extract_html(path) if max_bytes is None else extract_html(path, max_bytes)


def _text(path: Path, max_bytes: int | None) -> Document:
    return extract_text(path) if max_bytes is None else extract_text(path, max_bytes)

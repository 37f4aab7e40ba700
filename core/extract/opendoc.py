"""OpenDocument text (.odt) with the standard library, and the XML helpers every ZIP-of-XML
reader here shares (OpenDocument and Office Open XML alike).

The standard library's ElementTree reads these parts faster than odfpy builds its DOM and
weighs nothing to install; it never fetches external entities, and expat refuses entity
expansion bombs. Paragraphs become blocks separated by a blank line, headings (``text:h``)
keep their outline level, table rows become lines with cells separated by tabs.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterator
from pathlib import Path

from core.extract.errors import ExtractionError
from core.extract.zipped import check_text_parts, open_zip, read_member
from core.types import Document, Heading, Page

DEFAULT_MAX_BYTES = 200 * 2**20

_ODF = "urn:oasis:names:tc:opendocument:xmlns:"
OFFICE = "{" + _ODF + "office:1.0}"
TEXT = "{" + _ODF + "text:1.0}"
TABLE = "{" + _ODF + "table:1.0}"
DRAW = "{" + _ODF + "drawing:1.0}"
PRESENTATION = "{" + _ODF + "presentation:1.0}"
_DC = "{http://purl.org/dc/elements/1.1/}"

# Parts of a paragraph that are not its running text.
_SKIPPED_INLINE = frozenset(
    {TEXT + "note-citation", TEXT + "tracked-changes", OFFICE + "annotation"}
)
# Whole subtrees with no readable text of the document (deleted text, form and field
# declarations).
_SKIPPED_BLOCKS = frozenset(
    {TEXT + "tracked-changes", OFFICE + "forms", TEXT + "sequence-decls",
     TEXT + "variable-decls", TEXT + "user-field-decls", OFFICE + "annotation"}
)  # fmt: skip


def parse_xml(data: bytes, name: str) -> ET.Element:
    try:
        return ET.fromstring(data)
    except ET.ParseError as error:
        raise ExtractionError(f"damaged file: its part {name} is not well-formed XML") from error


def odf_text(element: ET.Element) -> str:
    """The text of one OpenDocument paragraph (or any element holding inline text)."""
    parts: list[str] = []
    _inline(element, parts)
    return "".join(parts)


def _inline(element: ET.Element, parts: list[str]) -> None:
    if element.text:
        parts.append(element.text)
    for child in element:
        tag = child.tag
        if tag == TEXT + "s":
            parts.append(" " * int(child.get(TEXT + "c", "1") or 1))
        elif tag == TEXT + "tab":
            parts.append("\t")
        elif tag == TEXT + "line-break":
            parts.append("\n")
        elif tag in (TEXT + "p", TEXT + "h"):  # a text box or note inside the paragraph
            parts.append(" ")
            _inline(child, parts)
            parts.append(" ")
        elif tag not in _SKIPPED_INLINE:
            _inline(child, parts)
        if child.tail:
            parts.append(child.tail)


def odf_blocks(element: ET.Element) -> Iterator[tuple[str, int]]:
    """Paragraphs in reading order as (text, heading level or 0); table rows as one block
    each, cells separated by tabs."""
    for child in element:
        tag = child.tag
        if tag == TEXT + "h":
            yield odf_text(child), int(child.get(TEXT + "outline-level", "1") or 1)
        elif tag == TEXT + "p":
            yield odf_text(child), 0
        elif tag == TABLE + "table-row":
            cells = [" ".join(text for text, _ in odf_blocks(cell)) for cell in child]
            yield "\t".join(cells).rstrip("\t"), 0
        elif tag not in _SKIPPED_BLOCKS:
            yield from odf_blocks(child)


def join_blocks(blocks: Iterator[tuple[str, int]]) -> Page:
    """One page of blocks separated by blank lines; headings where the level says so."""
    parts: list[str] = []
    headings: list[Heading] = []
    length = 0
    for raw, level in blocks:
        text = raw.strip()
        if not text:
            continue
        if parts:
            parts.append("\n\n")
            length += 2
        if level:
            headings.append(Heading(length, min(level, 6), text))
        parts.append(text)
        length += len(text)
    return Page(None, "".join(parts), headings)


def odf_title(archive_meta: bytes | None) -> str | None:
    if not archive_meta:
        return None
    try:
        root = ET.fromstring(archive_meta)
    except ET.ParseError:  # a damaged meta.xml is no reason to lose the text
        return None
    title = root.find(f".//{_DC}title")
    text = " ".join((title.text or "").split()) if title is not None else ""
    return text or None


def read_meta(archive: zipfile.ZipFile) -> bytes | None:
    if "meta.xml" not in archive.namelist():
        return None
    try:
        return read_member(archive, "meta.xml", 2**20)
    except ExtractionError:  # a damaged meta.xml is no reason to lose the text
        return None


def extract_odt(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Document:
    """An OpenDocument text as one page with its headings; title from its metadata."""
    with open_zip(path, max_bytes) as archive:
        check_text_parts(archive, lambda name: name == "content.xml")
        content = parse_xml(read_member(archive, "content.xml"), "content.xml")
        meta = read_meta(archive)
    body = content.find(f"{OFFICE}body/{OFFICE}text")
    if body is None:
        raise ExtractionError("damaged OpenDocument text: it has no body")
    page = join_blocks(odf_blocks(body))
    if not page.text.strip():
        raise ExtractionError("no text found")
    title = odf_title(meta)
    if title is None and page.headings:
        title = min(page.headings, key=lambda heading: heading.level).text
    return Document(path=path, kind="odt", pages=[page], title=title)

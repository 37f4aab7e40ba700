"""Presentations (.pptx, .odp): one page per slide, its text in reading order, then its
speaker notes; cited as "slide N".

Read with the standard library's ZIP and XML modules: python-pptx would bring lxml, Pillow
and XlsxWriter (about 25 MB in every installer) to read the same ``a:t`` runs, and was slower
on the measured decks (docs/benchmarks.md).
"""

from __future__ import annotations

import posixpath
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from core.extract.errors import ExtractionError
from core.extract.opendoc import (
    DRAW,
    OFFICE,
    PRESENTATION,
    TABLE,
    odf_blocks,
    odf_title,
    parse_xml,
    read_meta,
)
from core.extract.zipped import check_text_parts, open_zip, read_member
from core.types import Document, Heading, Page

DEFAULT_MAX_BYTES = 200 * 2**20
NOTES_HEADING = "Notes"

_A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
_P = "{http://schemas.openxmlformats.org/presentationml/2006/main}"
_R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
_NOTES_TYPE = "/notesSlide"
_TITLE_PLACEHOLDERS = frozenset({"title", "ctrTitle"})

# (text, is the slide's title)
_Line = tuple[str, bool]


def slide_page(number: int, lines: Iterable[_Line], notes: Iterable[str]) -> Page:
    """A slide's page: its lines, then a "Notes" heading and the notes, if any."""
    parts: list[str] = []
    headings: list[Heading] = []
    length = 0

    def add(text: str, level: int = 0) -> None:
        nonlocal length
        if parts:
            parts.append("\n")
            length += 1
        if level:
            headings.append(Heading(length, level, text))
        parts.append(text)
        length += len(text)

    titled = False
    for raw, is_title in lines:
        text = raw.strip()
        if text:
            add(text, 1 if is_title and not titled else 0)
            titled = titled or is_title
    note_lines = [line.strip() for line in notes if line.strip()]
    if note_lines:
        if parts:
            parts.append("\n")
            length += 1
        add(NOTES_HEADING, 2)
        for line in note_lines:
            add(line)
    return Page(number, "".join(parts), headings, label=f"slide {number}")


def _document(path: Path, kind: str, pages: list[Page], title: str | None) -> Document:
    if not pages:
        raise ExtractionError("the presentation has no slides")
    if not any(page.text.strip() for page in pages):
        raise ExtractionError("no text found (the slides may hold only pictures)")
    if title is None:
        title = next((h.text for page in pages for h in page.headings if h.level == 1), None)
    return Document(path=path, kind=kind, pages=pages, title=title)


# -- PowerPoint ---------------------------------------------------------------------------


def extract_pptx(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Document:
    with open_zip(path, max_bytes) as archive:
        check_text_parts(archive, _is_pptx_text)
        slides = _pptx_slide_parts(archive)
        pages = []
        for number, part in enumerate(slides, 1):
            slide = parse_xml(read_member(archive, part), part)
            notes_part = _related(archive, part, _NOTES_TYPE)
            notes: list[str] = []
            if notes_part is not None:
                notes_xml = parse_xml(read_member(archive, notes_part), notes_part)
                notes = [text for text, _ in _shape_lines(notes_xml, body_only=True)]
            pages.append(slide_page(number, _shape_lines(slide), notes))
        title = _core_title(archive)
    return _document(path, "pptx", pages, title)


def _is_pptx_text(name: str) -> bool:
    return name.startswith(("ppt/slides/", "ppt/notesSlides/")) and name.endswith(".xml")


def _pptx_slide_parts(archive: zipfile.ZipFile) -> list[str]:
    """Slide parts in the order the presentation shows them."""
    presentation = parse_xml(read_member(archive, "ppt/presentation.xml"), "presentation.xml")
    targets = _relationships(archive, "ppt/presentation.xml")
    parts = []
    for slide_id in presentation.iter(_P + "sldId"):
        part = targets.get(slide_id.get(_R + "id", ""))
        if part is not None and part in archive.NameToInfo:
            parts.append(part)
    return parts


def _relationships(archive: zipfile.ZipFile, part: str) -> dict[str, str]:
    """Relationship id -> the part it points at, for ``part``."""
    folder, name = posixpath.split(part)
    rels_name = posixpath.join(folder, "_rels", name + ".rels")
    if rels_name not in archive.NameToInfo:
        return {}
    rels = parse_xml(read_member(archive, rels_name), rels_name)
    targets = {}
    for rel in rels.iter(_REL + "Relationship"):
        target = rel.get("Target", "")
        if rel.get("TargetMode") == "External" or not target:
            continue
        resolved = target.lstrip("/") if target.startswith("/") else posixpath.join(folder, target)
        targets[rel.get("Id", "")] = posixpath.normpath(resolved)
        targets["type:" + rel.get("Type", "").rsplit("/", 1)[-1]] = targets[rel.get("Id", "")]
    return targets


def _related(archive: zipfile.ZipFile, part: str, rel_type: str) -> str | None:
    target = _relationships(archive, part).get("type:" + rel_type.lstrip("/"))
    return target if target is not None and target in archive.NameToInfo else None


def _shape_lines(root: ET.Element, body_only: bool = False) -> Iterator[_Line]:
    """Paragraphs of a slide's shapes in their order (table rows as tab-separated lines).
    ``body_only``: only body placeholders (a notes page also holds the slide's picture and
    its number)."""
    tree = root.find(f"{_P}cSld/{_P}spTree")
    if tree is not None:
        yield from _tree_lines(tree, body_only)


def _tree_lines(tree: ET.Element, body_only: bool) -> Iterator[_Line]:
    for shape in tree:
        if shape.tag == _P + "grpSp":
            yield from _tree_lines(shape, body_only)
        elif shape.tag == _P + "sp":
            placeholder = shape.find(f"{_P}nvSpPr/{_P}nvPr/{_P}ph")
            kind = placeholder.get("type", "body") if placeholder is not None else ""
            if body_only and kind != "body":
                continue
            body = shape.find(_P + "txBody")
            if body is not None:
                for paragraph in body.iter(_A + "p"):
                    yield _paragraph(paragraph), kind in _TITLE_PLACEHOLDERS
        elif shape.tag == _P + "graphicFrame" and not body_only:
            for row in shape.iter(_A + "tr"):
                cells = [
                    " ".join(_paragraph(p) for p in cell.iter(_A + "p")).strip()
                    for cell in row.iter(_A + "tc")
                ]
                yield "\t".join(cells).rstrip("\t"), False


def _paragraph(paragraph: ET.Element) -> str:
    parts = []
    for element in paragraph.iter():
        if element.tag == _A + "t" and element.text:
            parts.append(element.text)
        elif element.tag == _A + "br":
            parts.append("\n")
    return "".join(parts)


def _core_title(archive: zipfile.ZipFile) -> str | None:
    if "docProps/core.xml" not in archive.NameToInfo:
        return None
    try:
        root = ET.fromstring(read_member(archive, "docProps/core.xml", 2**20))
    except (ET.ParseError, ExtractionError):  # damaged metadata is no reason to lose the text
        return None
    title = root.find("{http://purl.org/dc/elements/1.1/}title")
    text = " ".join((title.text or "").split()) if title is not None else ""
    return text or None


# -- OpenDocument presentation ------------------------------------------------------------


def extract_odp(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Document:
    with open_zip(path, max_bytes) as archive:
        check_text_parts(archive, lambda name: name == "content.xml")
        content = parse_xml(read_member(archive, "content.xml"), "content.xml")
        meta = read_meta(archive)
    body = content.find(f"{OFFICE}body/{OFFICE}presentation")
    if body is None:
        raise ExtractionError("damaged OpenDocument presentation: it has no slides")
    pages = []
    for number, slide in enumerate(body.iter(DRAW + "page"), 1):
        lines: list[_Line] = []
        notes: list[str] = []
        for child in slide:
            if child.tag == PRESENTATION + "notes":
                notes.extend(text for text, _ in odf_blocks(child))
                continue
            is_title = child.get(PRESENTATION + "class") == "title"
            if child.tag == TABLE + "table":
                lines.extend((text, False) for text, _ in odf_blocks(child))
            else:
                lines.extend((text, is_title) for text, _ in odf_blocks(child))
        pages.append(slide_page(number, lines, notes))
    return _document(path, "odp", pages, odf_title(meta))

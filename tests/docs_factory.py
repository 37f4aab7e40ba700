"""Real files for tests: PDFs (plain, encrypted, corrupt), DOCX, EPUB and HTML.

Everything is written with PyMuPDF or the standard library, so the extractors are tested on
the same kind of bytes users have, not on mocks.

>>> import tempfile
>>> path = make_pdf(Path(tempfile.mkdtemp()) / "a.pdf", ["Hello there."], heading="Intro")
>>> path.stat().st_size > 0
True
"""

from __future__ import annotations

import zipfile
from html import escape
from pathlib import Path

import pymupdf

PAGE_MARGIN = 72
BODY_FONT_SIZE = 11
HEADING_FONT_SIZE = 20
TABLE_CELL_WIDTH = 120
TABLE_ROW_HEIGHT = 18


def make_pdf(
    path: Path,
    pages: list[str],
    heading: str | None = None,
    table: list[list[str]] | None = None,
    *,
    title: str | None = None,
    rotate: int = 0,
) -> Path:
    """A PDF with one page per string of body text (11 pt Helvetica, wrapped, "\\n\\n" starts a
    paragraph). ``heading`` goes at the top of page 1 in 20 pt bold; ``table`` is drawn below
    the last page's text as a grid of text cells; ``title`` is stored in the metadata."""
    document = pymupdf.open()
    for index, body in enumerate(pages):
        page = document.new_page()
        top = PAGE_MARGIN
        if heading is not None and index == 0:
            page.insert_text(
                (PAGE_MARGIN, top + HEADING_FONT_SIZE),
                heading,
                fontsize=HEADING_FONT_SIZE,
                fontname="hebo",
            )
            top += HEADING_FONT_SIZE * 2
        body_box = pymupdf.Rect(PAGE_MARGIN, top, page.rect.width - PAGE_MARGIN, top + 400)
        spare = page.insert_textbox(body_box, body, fontsize=BODY_FONT_SIZE, fontname="helv")
        if spare < 0:
            raise ValueError(f"page {index + 1} text does not fit on the page")
        if table is not None and index == len(pages) - 1:
            _draw_table(page, table, top=body_box.y1 - spare + TABLE_ROW_HEIGHT)
        if rotate:
            page.set_rotation(rotate)
    if title is not None:
        document.set_metadata({"title": title})
    document.save(path)
    document.close()
    return path


# Heading styles by level for make_sectioned_pdf: size and font (helv regular, hebo bold).
SECTION_STYLES = {1: (20.0, "helv"), 2: (15.0, "helv"), 3: (float(BODY_FONT_SIZE), "hebo")}


def make_sectioned_pdf(path: Path, sections: list[tuple[int, str, str]]) -> Path:
    """A PDF of (level, heading, body) sections: level 1 and 2 headings are larger regular
    type, level 3 is bold body-size type. A section that does not fit starts a new page."""
    document = pymupdf.open()
    page = document.new_page()
    y = float(PAGE_MARGIN)
    for level, heading, body in sections:
        size, font = SECTION_STYLES[level]
        if y > page.rect.height - 200:
            page, y = document.new_page(), float(PAGE_MARGIN)
        page.insert_text((PAGE_MARGIN, y + size), heading, fontsize=size, fontname=font)
        y += size * 2
        box = pymupdf.Rect(PAGE_MARGIN, y, page.rect.width - PAGE_MARGIN, y + 150)
        spare = page.insert_textbox(box, body, fontsize=BODY_FONT_SIZE, fontname="helv")
        if spare < 0:
            raise ValueError(f"section {heading!r} is too long")
        y = box.y1 - spare + BODY_FONT_SIZE * 2
    document.save(path)
    document.close()
    return path


def _draw_table(page: pymupdf.Page, rows: list[list[str]], top: float) -> None:
    for row_index, row in enumerate(rows):
        y = top + row_index * TABLE_ROW_HEIGHT
        for column, cell in enumerate(row):
            x = PAGE_MARGIN + column * TABLE_CELL_WIDTH
            page.draw_rect(pymupdf.Rect(x, y, x + TABLE_CELL_WIDTH, y + TABLE_ROW_HEIGHT))
            page.insert_text((x + 4, y + TABLE_ROW_HEIGHT - 5), cell, fontsize=BODY_FONT_SIZE)


def make_encrypted_pdf(
    path: Path, text: str = "Top secret plans.", user_pw: str = "s3cret"
) -> Path:
    """A PDF that cannot be opened without ``user_pw`` (AES-256)."""
    plain = pymupdf.open()
    plain.new_page().insert_text((PAGE_MARGIN, PAGE_MARGIN), text, fontsize=BODY_FONT_SIZE)
    plain.save(
        path,
        encryption=pymupdf.PDF_ENCRYPT_AES_256,
        user_pw=user_pw,
        owner_pw=user_pw + "-owner",
    )
    plain.close()
    return path


def make_owner_locked_pdf(path: Path, text: str = "Readable but locked.") -> Path:
    """An encrypted PDF with only an owner password: anyone may read it, not edit it."""
    plain = pymupdf.open()
    plain.new_page().insert_text((PAGE_MARGIN, PAGE_MARGIN), text, fontsize=BODY_FONT_SIZE)
    plain.save(path, encryption=pymupdf.PDF_ENCRYPT_AES_256, owner_pw="owner", permissions=0)
    plain.close()
    return path


def make_corrupt_pdf(path: Path) -> Path:
    """A file that starts like a PDF and then is noise MuPDF cannot repair."""
    path.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 8)
    return path


def make_truncated_pdf(path: Path, pages: list[str]) -> Path:
    """A real PDF cut off before its cross-reference table: MuPDF repairs it, with warnings."""
    make_pdf(path, pages)
    data = path.read_bytes()
    path.write_bytes(data[: data.rindex(b"xref")])
    return path


def make_damaged_pdf(path: Path, pages: list[str]) -> Path:
    """A real PDF whose page tree first names an object that does not exist: MuPDF reports
    errors (not just warnings) and shows an empty page in its place."""
    make_pdf(path, pages)
    data = path.read_bytes()
    path.write_bytes(data.replace(b"/Kids[", b"/Kids[99 0 R ", 1))
    return path


def make_blank_pdf(path: Path, page_count: int = 1) -> Path:
    """Pages with no text at all, like a scan without OCR."""
    document = pymupdf.open()
    for _ in range(page_count):
        document.new_page().draw_rect(pymupdf.Rect(100, 100, 200, 200))
    document.save(path)
    document.close()
    return path


def make_scanned_pdf(
    path: Path, pages: list[str], text_layer: dict[int, str] | None = None, dpi: int = 150
) -> Path:
    """A scanner's PDF: each text drawn, then the page kept only as a picture (no text
    layer), as a scanner without OCR writes it. ``text_layer``: pages (0-based) that hold
    real text instead."""
    document = pymupdf.open()
    for index, text in enumerate(pages):
        page = document.new_page()
        if text_layer and index in text_layer:
            page.insert_textbox(pymupdf.Rect(72, 72, 540, 720), text_layer[index], fontsize=12)
            continue
        page.insert_image(page.rect, pixmap=_picture_of(text, dpi))
    document.save(path)
    document.close()
    return path


def make_picture(path: Path, text: str, dpi: int = 150) -> Path:
    """A picture of a page of text (PNG or JPEG, by the name's extension)."""
    _picture_of(text, dpi).save(path)
    return path


def _picture_of(text: str, dpi: int) -> pymupdf.Pixmap:
    drawn = pymupdf.open()
    page = drawn.new_page()
    page.insert_textbox(pymupdf.Rect(72, 72, 540, 720), text, fontsize=12)
    pixmap = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY)
    drawn.close()
    return pixmap


_DOCX_CONTENT_TYPES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/word/document.xml"
 ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>
</Types>"""
_DOCX_PACKAGE_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
<Relationship Id="rId1" Target="word/document.xml"
 Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"/>
</Relationships>"""
# MuPDF refuses a DOCX without this part, even when it lists nothing.
_DOCX_DOCUMENT_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"/>"""
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def make_docx(path: Path, paragraphs: list[str], heading: str | None = None) -> Path:
    """A minimal, valid Word document: an optional bold 20 pt Heading 1, then paragraphs."""
    body = []
    if heading is not None:
        body.append(
            '<w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:rPr><w:b/>'
            f'<w:sz w:val="40"/></w:rPr><w:t>{escape(heading)}</w:t></w:r></w:p>'
        )
    body += [f"<w:p><w:r><w:t>{escape(text)}</w:t></w:r></w:p>" for text in paragraphs]
    document = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<w:document xmlns:w="{_W}"><w:body>{"".join(body)}</w:body></w:document>'
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", _DOCX_CONTENT_TYPES)
        archive.writestr("_rels/.rels", _DOCX_PACKAGE_RELS)
        archive.writestr("word/_rels/document.xml.rels", _DOCX_DOCUMENT_RELS)
        archive.writestr("word/document.xml", document)
    return path


_EPUB_CONTAINER = """<?xml version="1.0"?>
<container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">
<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>
</rootfiles></container>"""


def make_epub(path: Path, chapters: list[tuple[str, str]], title: str = "A Small Book") -> Path:
    """An EPUB 2 book: one XHTML file per (chapter heading, chapter text), in spine order."""
    manifest = "".join(
        f'<item id="c{n}" href="c{n}.xhtml" media-type="application/xhtml+xml"/>'
        for n in range(1, len(chapters) + 1)
    )
    spine = "".join(f'<itemref idref="c{n}"/>' for n in range(1, len(chapters) + 1))
    package = f"""<?xml version="1.0" encoding="UTF-8"?>
<package xmlns="http://www.idpf.org/2007/opf" version="2.0" unique-identifier="uid">
<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:identifier id="uid">kenning-test
</dc:identifier><dc:title>{escape(title)}</dc:title><dc:language>en</dc:language></metadata>
<manifest>{manifest}</manifest><spine>{spine}</spine></package>"""
    with zipfile.ZipFile(path, "w") as archive:
        # The mimetype entry must come first and be stored uncompressed.
        archive.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        archive.writestr("META-INF/container.xml", _EPUB_CONTAINER)
        archive.writestr("OEBPS/content.opf", package)
        for n, (heading, text) in enumerate(chapters, 1):
            archive.writestr(
                f"OEBPS/c{n}.xhtml",
                '<?xml version="1.0" encoding="UTF-8"?>\n'
                '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>'
                f"{escape(heading)}</title></head><body><h1>{escape(heading)}</h1>"
                f"<p>{escape(text)}</p></body></html>",
            )
    return path


def make_html(
    path: Path,
    body: str,
    title: str | None = None,
    head: str = "",
    encoding: str = "utf-8",
) -> Path:
    """An HTML page with ``body`` markup; ``head`` adds markup inside <head> (style, script).

    The file declares ``encoding`` in a meta tag and is written in it."""
    title_tag = f"<title>{escape(title)}</title>" if title is not None else ""
    markup = (
        f'<!DOCTYPE html>\n<html><head><meta charset="{encoding}">{title_tag}{head}</head>\n'
        f"<body>{body}</body></html>\n"
    )
    path.write_bytes(markup.encode(encoding))
    return path

"""Real Office, OpenDocument, mail and RTF files for tests, written by hand with the standard
library (ZIP + XML as the specifications lay them out, ``email`` for messages), so the readers
are tested on the bytes users have, and on damaged and hostile variants of them.

>>> import tempfile
>>> path = make_pptx(Path(tempfile.mkdtemp()) / "a.pptx", [("Title", ["Body"], "Notes")])
>>> zipfile.is_zipfile(path)
True
"""

from __future__ import annotations

import email.utils
import zipfile
from collections.abc import Sequence
from email.message import EmailMessage
from html import escape
from pathlib import Path

_CT = "http://schemas.openxmlformats.org/package/2006/content-types"
_PR = "http://schemas.openxmlformats.org/package/2006/relationships"
_OR = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_A = "http://schemas.openxmlformats.org/drawingml/2006/main"
_P = "http://schemas.openxmlformats.org/presentationml/2006/main"
_S = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

# Office files carry document properties; some readers expect them.
_CORE = (
    f'{_XML}<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/'
    'metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/">'
    "<dc:creator>Kenning tests</dc:creator></cp:coreProperties>"
)
# (title, body paragraphs, notes)
Slide = tuple[str, Sequence[str], str]
# (sheet name, rows); a cell is a str, a number, or ("=FORMULA", cached value)
Sheet = tuple[str, Sequence[Sequence[object]]]


def _rels(targets: Sequence[tuple[str, str, str]]) -> str:
    rels = "".join(
        f'<Relationship Id="{rid}" Type="{_OR}/{kind}" Target="{target}"/>'
        for rid, kind, target in targets
    )
    return f'{_XML}<Relationships xmlns="{_PR}">{rels}</Relationships>'


def _paragraphs(lines: Sequence[str]) -> str:
    return "".join(f"<a:p><a:r><a:t>{escape(line)}</a:t></a:r></a:p>" for line in lines)


def _shape(shape_id: int, placeholder: str | None, lines: Sequence[str]) -> str:
    ph = f'<p:nvPr><p:ph type="{placeholder}"/></p:nvPr>' if placeholder else "<p:nvPr/>"
    return (
        f'<p:sp><p:nvSpPr><p:cNvPr id="{shape_id}" name="s{shape_id}"/><p:cNvSpPr/>{ph}'
        f"</p:nvSpPr><p:spPr/><p:txBody><a:bodyPr/>{_paragraphs(lines)}</p:txBody></p:sp>"
    )


def _slide_xml(shapes: str) -> str:
    return (
        f'{_XML}<p:sld xmlns:a="{_A}" xmlns:p="{_P}" xmlns:r="{_OR}"><p:cSld><p:spTree>'
        f'<p:nvGrpSpPr><p:cNvPr id="1" name=""/><p:cNvGrpSpPr/><p:nvPr/></p:nvGrpSpPr>'
        f"<p:grpSpPr/>{shapes}</p:spTree></p:cSld></p:sld>"
    )


def make_pptx(
    path: Path, slides: Sequence[Slide], *, table: Sequence[Sequence[str]] | None = None
) -> Path:
    """A PowerPoint deck: per slide a title placeholder, a body text box and speaker notes.
    ``table`` goes on the last slide. Slides are listed in reverse part order on purpose: the
    presentation's own order must win over file names."""
    count = len(slides)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "[Content_Types].xml",
            f'{_XML}<Types xmlns="{_CT}"><Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/ppt/presentation.xml" ContentType="application/'
            f'vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"/></Types>',
        )
        archive.writestr("_rels/.rels", _rels([("rId1", "officeDocument", "ppt/presentation.xml")]))
        archive.writestr("docProps/core.xml", _CORE)
        ids = "".join(f'<p:sldId id="{256 + n}" r:id="rId{n + 1}"/>' for n in range(count))
        archive.writestr(
            "ppt/presentation.xml",
            f'{_XML}<p:presentation xmlns:a="{_A}" xmlns:p="{_P}" xmlns:r="{_OR}">'
            f"<p:sldIdLst>{ids}</p:sldIdLst></p:presentation>",
        )
        # Slide n is stored as part slide{count - n}.xml.
        archive.writestr(
            "ppt/_rels/presentation.xml.rels",
            _rels([(f"rId{n + 1}", "slide", f"slides/slide{count - n}.xml") for n in range(count)]),
        )
        for n, (title, body, notes) in enumerate(slides):
            part = count - n
            shapes = _shape(2, "title", [title]) + _shape(3, None, body)
            if table is not None and n == count - 1:
                rows = "".join(
                    "<a:tr>"
                    + "".join(
                        f"<a:tc><a:txBody><a:bodyPr/>{_paragraphs([cell])}</a:txBody></a:tc>"
                        for cell in row
                    )
                    + "</a:tr>"
                    for row in table
                )
                shapes += (
                    '<p:graphicFrame><p:nvGraphicFramePr><p:cNvPr id="9" name="t"/>'
                    "<p:cNvGraphicFramePr/><p:nvPr/></p:nvGraphicFramePr><p:xfrm/><a:graphic>"
                    f'<a:graphicData uri="{_A}/table"><a:tbl>{rows}</a:tbl></a:graphicData>'
                    "</a:graphic></p:graphicFrame>"
                )
            archive.writestr(f"ppt/slides/slide{part}.xml", _slide_xml(shapes))
            if notes:
                archive.writestr(
                    f"ppt/slides/_rels/slide{part}.xml.rels",
                    _rels([("rId1", "notesSlide", f"../notesSlides/notesSlide{part}.xml")]),
                )
                notes_shapes = _shape(2, "sldImg", []) + _shape(3, "body", [notes])
                notes_shapes += _shape(4, "sldNum", [str(n + 1)])
                archive.writestr(
                    f"ppt/notesSlides/notesSlide{part}.xml",
                    _slide_xml(notes_shapes)
                    .replace("p:sld ", "p:notes ")
                    .replace("</p:sld>", "</p:notes>"),
                )
    return path


def _column(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def make_xlsx(path: Path, sheets: Sequence[Sheet], *, start_row: int = 1) -> Path:
    """An Excel workbook: text as shared strings, numbers as numbers, a ``datetime.date`` as a
    day number in a date style, ("=F", value) as a formula with its cached value."""
    import datetime as dt

    shared: list[str] = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", f'{_XML}<Types xmlns="{_CT}"/>')
        archive.writestr("_rels/.rels", _rels([("rId1", "officeDocument", "xl/workbook.xml")]))
        archive.writestr("docProps/core.xml", _CORE)
        entries = "".join(
            f'<sheet name="{escape(name)}" sheetId="{n + 1}" r:id="rId{n + 1}"/>'
            for n, (name, _) in enumerate(sheets)
        )
        archive.writestr(
            "xl/workbook.xml",
            f'{_XML}<workbook xmlns="{_S}" xmlns:r="{_OR}"><sheets>{entries}</sheets></workbook>',
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            _rels(
                [
                    (f"rId{n + 1}", "worksheet", f"worksheets/sheet{n + 1}.xml")
                    for n in range(len(sheets))
                ]
            ),
        )
        archive.writestr(
            "xl/styles.xml",
            f'{_XML}<styleSheet xmlns="{_S}"><numFmts count="1">'
            '<numFmt numFmtId="164" formatCode="dd/mm/yyyy"/></numFmts>'
            '<cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="164"/></cellXfs></styleSheet>',
        )
        for n, (_, rows) in enumerate(sheets):
            xml_rows = []
            for r, row in enumerate(rows, start_row):
                cells = []
                for c, value in enumerate(row):
                    ref = f"{_column(c)}{r}"
                    if value is None or value == "":
                        continue
                    if isinstance(value, tuple):
                        formula, cached = value
                        kind = ' t="str"' if isinstance(cached, str) else ""
                        cells.append(
                            f'<c r="{ref}"{kind}><f>{escape(str(formula)[1:])}</f>'
                            f"<v>{escape(str(cached))}</v></c>"
                        )
                    elif isinstance(value, dt.date):
                        serial = (value - dt.date(1899, 12, 30)).days
                        cells.append(f'<c r="{ref}" s="1"><v>{serial}</v></c>')
                    elif isinstance(value, (int, float)):
                        cells.append(f'<c r="{ref}"><v>{value}</v></c>')
                    else:
                        shared.append(str(value))
                        cells.append(f'<c r="{ref}" t="s"><v>{len(shared) - 1}</v></c>')
                xml_rows.append(f'<row r="{r}">{"".join(cells)}</row>')
            archive.writestr(
                f"xl/worksheets/sheet{n + 1}.xml",
                f'{_XML}<worksheet xmlns="{_S}"><sheetData>{"".join(xml_rows)}'
                "</sheetData></worksheet>",
            )
        strings = "".join(f"<si><t>{escape(s)}</t></si>" for s in shared)
        archive.writestr(
            "xl/sharedStrings.xml",
            f'{_XML}<sst xmlns="{_S}" count="{len(shared)}">{strings}</sst>',
        )
    return path


_ODF_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0" '
    'xmlns:presentation="urn:oasis:names:tc:opendocument:xmlns:presentation:1.0" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" office:version="1.3"'
)


def _odf(path: Path, mimetype: str, body: str, title: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", mimetype, compress_type=zipfile.ZIP_STORED)
        archive.writestr(
            "content.xml",
            f"{_XML}<office:document-content {_ODF_NS}><office:body>{body}</office:body>"
            "</office:document-content>",
        )
        title_xml = f"<dc:title>{escape(title)}</dc:title>" if title is not None else ""
        archive.writestr(
            "meta.xml",
            f"{_XML}<office:document-meta {_ODF_NS}><office:meta>{title_xml}"
            "<meta:generator>Kenning tests</meta:generator></office:meta></office:document-meta>",
        )
        archive.writestr("META-INF/manifest.xml", f"{_XML}<manifest/>")
    return path


def make_odt(
    path: Path,
    blocks: Sequence[tuple[int, str]],
    *,
    title: str | None = None,
    table: Sequence[Sequence[str]] | None = None,
) -> Path:
    """An OpenDocument text: (outline level, text) blocks, level 0 a paragraph; runs of two
    spaces written as ``text:s``, as office suites do."""
    parts = []
    for level, text in blocks:
        inner = escape(text).replace("  ", ' <text:s text:c="1"/>')
        if level:
            parts.append(f'<text:h text:outline-level="{level}">{inner}</text:h>')
        else:
            parts.append(f"<text:p>{inner}</text:p>")
    if table is not None:
        rows = "".join(
            "<table:table-row>"
            + "".join(
                f"<table:table-cell><text:p>{escape(c)}</text:p></table:table-cell>" for c in row
            )
            + "</table:table-row>"
            for row in table
        )
        parts.append(f'<table:table table:name="T">{rows}</table:table>')
    parts.append("<text:tracked-changes><text:p>deletedword</text:p></text:tracked-changes>")
    return _odf(
        path, "application/vnd.oasis.opendocument.text",
        f"<office:text>{''.join(parts)}</office:text>", title,
    )  # fmt: skip


def make_odp(path: Path, slides: Sequence[Slide]) -> Path:
    pages = []
    for n, (title, body, notes) in enumerate(slides, 1):
        lines = "".join(f"<text:p>{escape(line)}</text:p>" for line in body)
        pages.append(
            f'<draw:page draw:name="page{n}">'
            f'<draw:frame presentation:class="title"><draw:text-box><text:p>{escape(title)}'
            "</text:p></draw:text-box></draw:frame>"
            f'<draw:frame presentation:class="outline"><draw:text-box>{lines}</draw:text-box>'
            "</draw:frame>"
            + (
                f"<presentation:notes><draw:page-thumbnail/><draw:frame presentation:class="
                f'"notes"><draw:text-box><text:p>{escape(notes)}</text:p></draw:text-box>'
                "</draw:frame></presentation:notes>"
                if notes
                else ""
            )
            + "</draw:page>"
        )
    return _odf(
        path,
        "application/vnd.oasis.opendocument.presentation",
        f"<office:presentation>{''.join(pages)}</office:presentation>",
    )


def make_ods(path: Path, sheets: Sequence[Sheet], *, repeat_last: int = 1) -> Path:
    """An OpenDocument spreadsheet; the last row of each sheet repeated ``repeat_last`` times
    (as office suites store identical rows), then a million empty rows as they write."""
    tables = []
    for name, rows in sheets:
        xml_rows = []
        for index, row in enumerate(rows):
            cells = []
            for value in row:
                if isinstance(value, tuple):
                    formula, cached = value
                    cells.append(
                        f'<table:table-cell table:formula="of:{escape(str(formula))}" '
                        f'office:value-type="float" office:value="{cached}">'
                        f"<text:p>{cached}</text:p></table:table-cell>"
                    )
                else:
                    cells.append(
                        f"<table:table-cell><text:p>{escape(str(value))}</text:p></table:table-cell>"
                    )
            cells.append('<table:table-cell table:number-columns-repeated="16000"/>')
            repeat = (
                f' table:number-rows-repeated="{repeat_last}"'
                if index == len(rows) - 1 and repeat_last > 1
                else ""
            )
            xml_rows.append(f"<table:table-row{repeat}>{''.join(cells)}</table:table-row>")
        xml_rows.append(
            '<table:table-row table:number-rows-repeated="1048000"><table:table-cell/>'
            "</table:table-row>"
        )
        tables.append(f'<table:table table:name="{escape(name)}">{"".join(xml_rows)}</table:table>')
    return _odf(
        path,
        "application/vnd.oasis.opendocument.spreadsheet",
        f"<office:spreadsheet>{''.join(tables)}</office:spreadsheet>",
    )


def make_message(
    subject: str,
    body: str,
    *,
    sender: str = "Ada Lovelace <ada@example.org>",
    to: str = "Charles Babbage <charles@example.org>",
    date: str = "Mon, 04 Mar 2024 10:15:00 +0000",
    html: str | None = None,
    attachments: Sequence[tuple[str, bytes]] = (),
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Date"] = date
    message["Subject"] = subject
    message["Message-ID"] = email.utils.make_msgid(domain="example.org")
    message.set_content(body)
    if html is not None:
        message.add_alternative(html, subtype="html")
    for name, data in attachments:
        message.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return message


def make_eml(path: Path, message: EmailMessage) -> Path:
    path.write_bytes(message.as_bytes())
    return path


def make_mbox(path: Path, messages: Sequence[EmailMessage | bytes]) -> Path:
    """An mbox (mboxrd): each message after its "From " line, body lines starting "From "
    quoted, as mail programs write them."""
    with path.open("wb") as stream:
        for message in messages:
            data = message if isinstance(message, bytes) else message.as_bytes(unixfrom=False)
            data = data.replace(b"\nFrom ", b"\n>From ")
            stream.write(b"From MAILER-DAEMON Mon Mar  4 10:15:00 2024\n")
            stream.write(data.rstrip(b"\n") + b"\n\n")
    return path


def make_rtf(path: Path, paragraphs: Sequence[str], title: str | None = None) -> Path:
    """RTF as word processors write it: code page 1252, accents as ``\\'xx``, other
    characters as ``\\uN?``."""

    def encode(text: str) -> str:
        out = []
        for char in text:
            if char in "\\{}":
                out.append("\\" + char)
            elif ord(char) < 128:
                out.append(char)
            elif ord(char) < 256:
                out.append(f"\\'{ord(char):02x}")
            else:
                out.append(f"\\u{ord(char)}?")
        return "".join(out)

    info = f"{{\\info{{\\title {encode(title)}}}}}" if title else ""
    body = "".join(f"\\pard {encode(p)}\\par\n" for p in paragraphs)
    path.write_text(
        "{\\rtf1\\ansi\\ansicpg1252\\deff0{\\fonttbl{\\f0 Times New Roman;}}"
        f"{info}{{\\*\\generator Kenning tests;}}\\f0\\fs24\n{body}}}",
        encoding="ascii",
    )
    return path

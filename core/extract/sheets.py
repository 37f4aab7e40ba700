"""Spreadsheets (.xlsx, .ods, .csv/.tsv): one page per sheet, one line per row with cells
separated by tabs, cited as "sheet NAME, row N" with the row numbers the spreadsheet shows.

The header row (a sheet's first row with text) is written again every few rows, each group
after a blank line, so any passage cut from the middle of a long sheet still says what its
columns are. Formula cells read as the values the spreadsheet last computed and saved; dates
stored as day numbers read as dates.

Both ZIP formats are streamed with the standard library's ``iterparse``: faster than openpyxl
on the measured sheets (docs/benchmarks.md) and nothing more to install. Sheets are bounded
like text files: the markup read is capped before unpacking (``core.extract.zipped``), and the
text written is capped too, since OpenDocument can repeat one row a million times in a few
bytes.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from core.extract.decode import decode_text
from core.extract.errors import ExtractionError, describe_size, read_capped
from core.extract.opendoc import OFFICE, TABLE, TEXT, odf_text, odf_title, parse_xml, read_meta
from core.extract.text import DEFAULT_MAX_BYTES as TEXT_MAX_BYTES
from core.extract.zipped import check_text_parts, open_zip, read_member
from core.types import Document, Page

DEFAULT_MAX_BYTES = 200 * 2**20
# The same bound as a text file's: a sheet larger than this is a data dump, not a document.
MAX_TEXT_CHARS = TEXT_MAX_BYTES
# Rows are grouped under a repeated header up to about this many characters: well inside one
# passage of the chunker (256 tokens), so every passage starts with the column names.
GROUP_CHARS = 600
# Columns read per row: past this a row is a data dump, not something read as a line.
MAX_COLUMNS = 1000
# A row OpenDocument repeats is written at most this many times (row numbers stay right).
_MAX_REPEATED_ROWS = 1000

CSV_EXTENSIONS = frozenset({".csv", ".tsv"})

_Row = tuple[int, list[str]]


class _TooLarge(ExtractionError):
    def __init__(self) -> None:
        super().__init__(
            f"too large to read: its sheets hold more than {describe_size(MAX_TEXT_CHARS)} of text"
        )


class _SheetWriter:
    """Builds a workbook's pages, counting the text of all its sheets against the cap."""

    def __init__(self) -> None:
        self.total = 0

    def page(self, number: int | None, name: str | None, rows: Iterable[_Row]) -> Page:
        parts: list[str] = []
        marks: list[tuple[int, int]] = []
        length = 0
        header: tuple[int, str] | None = None
        group = 0
        for row_number, cells in rows:
            line = "\t".join(" ".join(cell.split()) for cell in cells[:MAX_COLUMNS]).rstrip()
            if not line.strip():
                continue
            if header is None:
                header = (row_number, line)
            elif group + len(line) > GROUP_CHARS and group > len(header[1]):
                parts.append("\n")  # the line before ends in one: a blank line between groups
                length += 1
                marks.append((length, header[0]))
                parts.append(header[1] + "\n")
                length += len(header[1]) + 1
                group = len(header[1])
            marks.append((length, row_number))
            parts.append(line + "\n")
            length += len(line) + 1
            group += len(line) + 1
            if self.total + length > MAX_TEXT_CHARS:
                raise _TooLarge()
        self.total += length
        label = f"sheet {name}" if name is not None else None
        return Page(number, "".join(parts), label=label, rows=marks)


def _document(path: Path, kind: str, pages: list[Page], title: str | None = None) -> Document:
    if not any(page.text.strip() for page in pages):
        raise ExtractionError("no text found (the sheets are empty)")
    return Document(path=path, kind=kind, pages=pages, title=title)


# -- CSV ----------------------------------------------------------------------------------


def extract_csv(path: Path, max_bytes: int = TEXT_MAX_BYTES) -> Document:
    """A CSV or TSV file as one sheet (page number None), cited by row."""
    text = decode_text(read_capped(path, max_bytes))
    dialect: type[csv.Dialect] | csv.Dialect
    if path.suffix.lower() == ".tsv":
        dialect = csv.excel_tab
    else:
        try:
            dialect = csv.Sniffer().sniff(text[:65536], delimiters=",;\t|")
        except csv.Error:  # one column, or too irregular to tell: commas
            dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        page = _SheetWriter().page(None, None, enumerate(reader, 1))
    except csv.Error as error:
        raise ExtractionError(f"damaged CSV file ({error})") from error
    return _document(path, "csv", [page])


# -- Excel --------------------------------------------------------------------------------

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_REL = "{http://schemas.openxmlformats.org/package/2006/relationships}"
# Built-in number formats that show dates and times (ECMA-376 §18.8.30, and the East Asian
# ones Excel writes).
_DATE_FORMAT_IDS = frozenset(
    {
        14,
        15,
        16,
        17,
        18,
        19,
        20,
        21,
        22,
        27,
        28,
        29,
        30,
        31,
        32,
        33,
        34,
        35,
        36,
        45,
        46,
        47,
        50,
        51,
        52,
        53,
        54,
        55,
        56,
        57,
        58,
    }
)
_FORMAT_LITERALS = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]|_.|\*.')
_DATE_PARTS = re.compile(r"[dmyhs]", re.IGNORECASE)
_COLUMN = re.compile(r"[A-Z]+")


def extract_xlsx(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Document:
    with open_zip(path, max_bytes) as archive:
        check_text_parts(archive, _is_xlsx_text)
        workbook = parse_xml(read_member(archive, "xl/workbook.xml"), "workbook.xml")
        targets = _relationships(archive, "xl/_rels/workbook.xml.rels")
        shared = _shared_strings(archive)
        date_styles = _date_styles(archive)
        properties = workbook.find(_MAIN + "workbookPr")
        epoch = (
            dt.datetime(1904, 1, 1)
            if properties is not None and properties.get("date1904") in ("1", "true")
            else dt.datetime(1899, 12, 30)
        )
        writer = _SheetWriter()
        pages = []
        for number, sheet in enumerate(workbook.iter(_MAIN + "sheet"), 1):
            name = sheet.get("name", f"Sheet{number}")
            part = targets.get(sheet.get(_R + "id", ""))
            if part is None or part not in archive.NameToInfo:  # a chart sheet, or damage
                pages.append(Page(number, "", label=f"sheet {name}"))
                continue
            data = read_member(archive, part)
            rows = _xlsx_rows(data, part, shared, date_styles, epoch)
            pages.append(writer.page(number, name, rows))
    return _document(path, "xlsx", pages)


def _is_xlsx_text(name: str) -> bool:
    return name.startswith("xl/worksheets/") or name == "xl/sharedStrings.xml"


def _relationships(archive: zipfile.ZipFile, rels_name: str) -> dict[str, str]:
    if rels_name not in archive.NameToInfo:
        return {}
    rels = parse_xml(read_member(archive, rels_name), rels_name)
    targets = {}
    for rel in rels.iter(_REL + "Relationship"):
        target = rel.get("Target", "")
        targets[rel.get("Id", "")] = (
            target.lstrip("/") if target.startswith("/") else "xl/" + target
        )
    return targets


def _shared_strings(archive: zipfile.ZipFile) -> list[str]:
    name = "xl/sharedStrings.xml"
    if name not in archive.NameToInfo:
        return []
    strings = []
    for _, element in _iterparse(read_member(archive, name), name, _MAIN + "si"):
        strings.append(_rich_text(element))
        element.clear()
    return strings


def _rich_text(element: ET.Element) -> str:
    """A string item's text: its runs, without the phonetic guide (``rPh``)."""
    parts = []
    for child in element:
        if child.tag == _MAIN + "t":
            parts.append(child.text or "")
        elif child.tag == _MAIN + "r":
            parts.extend(t.text or "" for t in child.iter(_MAIN + "t"))
    return "".join(parts)


def _date_styles(archive: zipfile.ZipFile) -> frozenset[int]:
    """Indexes of the cell styles whose number format shows a date or time."""
    name = "xl/styles.xml"
    if name not in archive.NameToInfo:
        return frozenset()
    try:
        styles = ET.fromstring(read_member(archive, name))
    except ET.ParseError:  # without styles, numbers show as numbers
        return frozenset()
    date_ids = set(_DATE_FORMAT_IDS)
    for fmt in styles.iter(_MAIN + "numFmt"):
        code = _FORMAT_LITERALS.sub("", fmt.get("formatCode", ""))
        if _DATE_PARTS.search(code) and fmt.get("numFmtId", "").isdigit():
            date_ids.add(int(fmt.get("numFmtId", "0")))
    cell_formats = styles.find(_MAIN + "cellXfs")
    if cell_formats is None:
        return frozenset()
    return frozenset(
        index
        for index, xf in enumerate(cell_formats.iter(_MAIN + "xf"))
        if xf.get("numFmtId", "").isdigit() and int(xf.get("numFmtId", "0")) in date_ids
    )


def _xlsx_rows(
    data: bytes, part: str, shared: list[str], date_styles: frozenset[int], epoch: dt.datetime
) -> Iterator[_Row]:
    next_row = 1
    for _, row in _iterparse(data, part, _MAIN + "row"):
        number = int(row.get("r") or next_row)
        next_row = number + 1
        cells: list[str] = []
        for cell in row.iter(_MAIN + "c"):
            column = _column_index(cell.get("r"), len(cells))
            if column >= MAX_COLUMNS:
                break
            value = _cell_value(cell, shared, date_styles, epoch)
            if value:
                cells.extend([""] * (column - len(cells)))
                cells.append(value)
        row.clear()
        yield number, cells


def _column_index(reference: str | None, default: int) -> int:
    match = _COLUMN.match(reference or "")
    if match is None:
        return default
    index = 0
    for letter in match.group():
        index = index * 26 + ord(letter) - 64
    return index - 1


def _cell_value(
    cell: ET.Element, shared: list[str], date_styles: frozenset[int], epoch: dt.datetime
) -> str:
    kind = cell.get("t", "n")
    if kind == "inlineStr":
        inline = cell.find(_MAIN + "is")
        return _rich_text(inline) if inline is not None else ""
    value_element = cell.find(_MAIN + "v")
    value = (value_element.text or "") if value_element is not None else ""
    if not value:
        return ""
    if kind == "s":
        index = int(value) if value.isdigit() else -1
        return shared[index] if 0 <= index < len(shared) else ""
    if kind == "b":
        return "TRUE" if value == "1" else "FALSE"
    if kind != "n":  # "str" (a formula's text), "e" (an error such as #DIV/0!), "d" (ISO date)
        return value
    try:
        number = float(value)
    except ValueError:
        return value
    style = cell.get("s", "")
    if style.isdigit() and int(style) in date_styles:
        return _date(number, epoch)
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    return format(number, ".15g")


def _date(serial: float, epoch: dt.datetime) -> str:
    try:
        moment = epoch + dt.timedelta(days=serial)
    except OverflowError:
        return format(serial, ".15g")
    if serial == int(serial):
        return moment.date().isoformat()
    if 0 <= serial < 1:
        return moment.time().isoformat(timespec="seconds")
    return moment.isoformat(sep=" ", timespec="minutes")


def _iterparse(data: bytes, part: str, tag: str) -> Iterator[tuple[str, ET.Element]]:
    try:
        for event, element in ET.iterparse(io.BytesIO(data), events=("end",)):
            if element.tag == tag:
                yield event, element
    except ET.ParseError as error:
        raise ExtractionError(f"damaged file: its part {part} is not well-formed XML") from error


# -- OpenDocument spreadsheet -------------------------------------------------------------


def extract_ods(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Document:
    with open_zip(path, max_bytes) as archive:
        check_text_parts(archive, lambda name: name == "content.xml")
        data = read_member(archive, "content.xml")
        meta = read_meta(archive)
    writer = _SheetWriter()
    pages = [
        writer.page(number, name, rows) for number, (name, rows) in enumerate(_ods_sheets(data), 1)
    ]
    if not pages:
        raise ExtractionError("damaged OpenDocument spreadsheet: it has no sheets")
    return _document(path, "ods", pages, odf_title(meta))


def _ods_sheets(data: bytes) -> Iterator[tuple[str, list[_Row]]]:
    """(sheet name, rows) per sheet. Rows of one sheet are gathered before it is written, but
    the XML is streamed, so only text is held, never the whole tree."""
    rows: list[_Row] = []
    name = ""
    next_row = 1
    try:
        for event, element in ET.iterparse(io.BytesIO(data), events=("start", "end")):
            if element.tag == TABLE + "table":
                if event == "start":
                    name, rows, next_row = element.get(TABLE + "name", ""), [], 1
                else:
                    yield name, rows
                    element.clear()
            elif event == "end" and element.tag == TABLE + "table-row":
                repeat = _count(element, TABLE + "number-rows-repeated")
                cells = _ods_cells(element)
                if any(cells):
                    rows.extend(
                        (next_row + i, cells) for i in range(min(repeat, _MAX_REPEATED_ROWS))
                    )
                    if len(rows) * 8 > MAX_TEXT_CHARS:  # bound memory before the writer counts
                        raise _TooLarge()
                next_row += repeat
                element.clear()
    except ET.ParseError as error:
        raise ExtractionError(
            "damaged file: its part content.xml is not well-formed XML"
        ) from error


def _ods_cells(row: ET.Element) -> list[str]:
    cells: list[str] = []
    empty = 0  # empty cells not written yet: only needed if text follows them
    for cell in row:
        if cell.tag not in (TABLE + "table-cell", TABLE + "covered-table-cell"):
            continue
        repeat = _count(cell, TABLE + "number-columns-repeated")
        text = " ".join(odf_text(p) for p in cell.iter(TEXT + "p"))
        if not text and cell.get(OFFICE + "value"):  # a value with no display text saved
            text = cell.get(OFFICE + "value", "")
        if not text:
            empty += repeat
            continue
        if len(cells) + empty >= MAX_COLUMNS:
            break
        cells.extend([""] * empty)
        cells.extend([text] * min(repeat, MAX_COLUMNS - len(cells)))
        empty = 0
    return cells


def _count(element: ET.Element, attribute: str) -> int:
    value = element.get(attribute, "1")
    return max(1, int(value)) if value.isdigit() else 1

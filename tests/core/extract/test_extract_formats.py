"""Slides, spreadsheets, OpenDocument, e-mail, RTF and the e-book formats MuPDF opens: real
files written by tests/formats_factory.py, and broken or hostile variants of each."""

from __future__ import annotations

import datetime as dt
import random
import zipfile
from pathlib import Path

import pymupdf
import pytest

from core.extract import SUPPORTED_EXTENSIONS, ExtractionError, extract, is_supported
from core.extract import mail as mail_module
from core.types import Document
from tests.docs_factory import make_docx
from tests.formats_factory import (
    make_eml,
    make_mbox,
    make_message,
    make_odp,
    make_ods,
    make_odt,
    make_pptx,
    make_rtf,
    make_xlsx,
)

SLIDES = [
    ("Quarterly plan", ["Hire two engineers", "Ship the kestrel release"], "Mention the budget"),
    ("Risks", ["Suppliers may be late"], ""),
    ("Thanks", ["Questions welcome"], "Smile"),
]
ROWS: list[list[object]] = [["Name", "Amount", "Paid on"]] + [
    [f"client{i}", i * 10 + 0.5, dt.date(2024, 1, 1) + dt.timedelta(days=i)] for i in range(60)
]


def assert_headings_point_at_their_text(doc: Document) -> None:
    for page in doc.pages:
        for heading in page.headings:
            assert page.text[heading.start :].startswith(heading.text), heading


# --- presentations ----------------------------------------------------------------------------


@pytest.mark.parametrize("maker", [make_pptx, make_odp], ids=["pptx", "odp"])
def test_slides_are_pages_with_their_notes_after_the_text(tmp_path: Path, maker) -> None:
    doc = extract(maker(tmp_path / f"deck.{maker.__name__[-4:]}", SLIDES))
    assert [page.number for page in doc.pages] == [1, 2, 3]
    assert [page.label for page in doc.pages] == ["slide 1", "slide 2", "slide 3"]
    first = doc.pages[0].text
    assert first.startswith("Quarterly plan\nHire two engineers\nShip the kestrel release\n")
    assert first.endswith("Notes\nMention the budget")
    assert "Notes" not in doc.pages[1].text
    assert doc.pages[0].headings[0].text == "Quarterly plan"
    assert doc.title == "Quarterly plan"
    assert doc.pages[0].location(0, 5) == "slide 1"
    assert_headings_point_at_their_text(doc)


def test_pptx_follows_the_presentation_order_and_reads_tables(tmp_path: Path) -> None:
    # The factory stores slide 1 in part slide3.xml: the order must come from the
    # presentation, not from part names; notes placeholders other than the body are left out.
    doc = extract(
        make_pptx(tmp_path / "d.pptx", SLIDES, table=[["Region", "Sales"], ["North", "12"]])
    )
    assert doc.pages[2].text.startswith("Thanks\nQuestions welcome\nRegion\tSales\nNorth\t12")
    assert "3" not in doc.pages[2].text.split("Notes")[1]  # the slide-number placeholder


# --- spreadsheets -----------------------------------------------------------------------------


def test_xlsx_sheets_are_pages_with_rows_as_lines_and_values_as_shown(tmp_path: Path) -> None:
    rows = [*ROWS, ["Total", ("=SUM(B2:B61)", 17730)], ["Flag", ("=B2>1", "yes")]]
    doc = extract(make_xlsx(tmp_path / "book.xlsx", [("Payments", rows), ("Blank", [])]))
    assert [page.label for page in doc.pages] == ["sheet Payments", "sheet Blank"]
    text = doc.pages[0].text
    assert text.startswith(
        "Name\tAmount\tPaid on\nclient0\t0.5\t2024-01-01\nclient1\t10.5\t2024-01-02\n"
    )
    assert "Total\t17730\n" in text and "Flag\tyes\n" in text  # formulas as last computed
    assert doc.pages[1].text == ""


def test_the_header_is_repeated_and_rows_keep_their_sheet_numbers(tmp_path: Path) -> None:
    doc = extract(make_xlsx(tmp_path / "b.xlsx", [("Payments", ROWS)], start_row=3))
    page = doc.pages[0]
    groups = page.text.strip().split("\n\n")
    assert len(groups) > 2
    assert all(group.startswith("Name\tAmount\tPaid on\n") for group in groups)
    # Row numbers are the sheet's (the table starts on row 3), header repeats not counted.
    at = page.text.index("client40\t")
    assert page.location(at, at + 5) == "sheet Payments, row 44"
    second_group = page.text.index("\n\n") + 2
    end = page.text.index("\n\n", second_group)
    lines = page.text[second_group:end].split("\n")  # the header, then client rows
    first = int(lines[1].split("\t")[0].removeprefix("client")) + 4
    last = int(lines[-1].split("\t")[0].removeprefix("client")) + 4
    assert page.location(second_group, end) == f"sheet Payments, rows {first}–{last}"


@pytest.mark.parametrize("maker", [make_xlsx, make_ods], ids=["xlsx", "ods"])
def test_sparse_cells_stay_in_their_columns(tmp_path: Path, maker) -> None:
    doc = extract(
        maker(tmp_path / f"s.{maker.__name__[-4:]}", [("S", [["a", "", "c"], ["", "b"]])])
    )
    assert doc.pages[0].text == "a\t\tc\n\tb\n"


def test_ods_repeated_rows_and_a_million_empty_ones(tmp_path: Path) -> None:
    rows: list[list[object]] = [
        ["Item", "Cost"],
        ["lamp", 12],
        ["sum", ("SUM(B2)", 12)],
        ["same", 1],
    ]
    doc = extract(make_ods(tmp_path / "c.ods", [("Kitchen", rows)], repeat_last=3))
    page = doc.pages[0]
    assert page.label == "sheet Kitchen"
    assert page.text == "Item\tCost\nlamp\t12\nsum\t12\nsame\t1\nsame\t1\nsame\t1\n"
    assert page.location(page.text.rindex("same"), len(page.text)) == "sheet Kitchen, row 6"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("name,city\nalice,oslo\nbob,lima\n", "name\tcity\nalice\toslo\nbob\tlima\n"),
        ("name;city\nalice;oslo\n", "name\tcity\nalice\toslo\n"),
        ('name,note\nalice,"two\nlines"\nbob,x\n', "name\tnote\nalice\ttwo lines\nbob\tx\n"),
    ],
)
def test_csv_rows_are_lines_cited_by_row(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "people.csv"
    path.write_text(content)
    page = extract(path).pages[0]
    assert page.text == expected
    at = page.text.index("bob") if "bob" in page.text else page.text.index("alice")
    row = 3 if "bob" in page.text else 2
    assert page.location(at, at + 3) == f"row {row}"


# --- documents --------------------------------------------------------------------------------


def test_odt_like_docx_headings_tables_and_no_deleted_text(tmp_path: Path) -> None:
    path = make_odt(
        tmp_path / "letter.odt",
        [(1, "Tenancy"), (0, "The tenant  gives notice."), (2, "Rent")],
        title="Lease terms",
        table=[["Month", "Due"], ["May", "900"]],
    )
    doc = extract(path)
    assert doc.kind == "odt" and doc.title == "Lease terms"
    assert (
        doc.pages[0].text
        == "Tenancy\n\nThe tenant  gives notice.\n\nRent\n\nMonth\tDue\n\nMay\t900"
    )
    assert [(h.level, h.text) for h in doc.pages[0].headings] == [(1, "Tenancy"), (2, "Rent")]
    assert "deletedword" not in doc.pages[0].text
    assert_headings_point_at_their_text(doc)


def test_rtf_accents_unicode_and_title(tmp_path: Path) -> None:
    doc = extract(
        make_rtf(tmp_path / "l.rtf", ["Dear café owner,", "Costs 5 € {net}."], title="Offer")
    )
    assert doc.pages[0].text == "Dear café owner,\nCosts 5 € {net}.\n"
    assert doc.title == "Offer" and doc.pages[0].number is None


# --- mail -------------------------------------------------------------------------------------


def test_eml_headers_body_and_attachments_in_supported_formats(tmp_path: Path) -> None:
    deck = make_pptx(tmp_path / "deck.pptx", SLIDES).read_bytes()
    message = make_message(
        "Kestrel launch",
        "Hi Charles,\nthe plan is attached.\n",
        attachments=[
            ("plan.pptx", deck),
            ("notes.txt", b"ospreys nest early"),
            ("x.bin", b"\x00\x01"),
        ],
    )
    doc = extract(make_eml(tmp_path / "launch.eml", message))
    text = doc.pages[0].text
    assert text.startswith(
        "From: Ada Lovelace <ada@example.org>\nTo: Charles Babbage <charles@example.org>\n"
        "Date: Mon, 04 Mar 2024 10:15:00 +0000\nSubject: Kestrel launch\n\nHi Charles,\n"
    )
    assert "\nAttachment: plan.pptx\nQuarterly plan\n" in text
    assert "\nAttachment: notes.txt\nospreys nest early\n" in text
    assert "x.bin" not in text
    assert doc.title == "Kestrel launch"
    assert_headings_point_at_their_text(doc)


def test_encoded_headers_and_forwarded_messages_are_read(tmp_path: Path) -> None:
    inner = make_message("Inner news", "The smew is back.\n")
    outer = make_message("Grüße aus Köln", "Forwarding this.\n", sender="Jörg <j@example.org>")
    outer.add_attachment(inner)
    raw = outer.as_bytes()
    assert b"=?utf-8?" in raw  # the subject and sender are stored as encoded words
    text = extract(make_eml(tmp_path / "f.eml", outer)).pages[0].text
    assert text.startswith("From: Jörg <j@example.org>\n")
    assert "Subject: Grüße aus Köln\n" in text
    assert "\nForwarded message\n" in text and "Subject: Inner news\n" in text
    assert "The smew is back." in text


def test_html_only_mail_reads_as_its_visible_text(tmp_path: Path) -> None:
    only_html = make_message("News", "x")
    only_html.set_content("<p>Rich <b>heron</b> news</p><script>x()</script>", subtype="html")
    text = extract(make_eml(tmp_path / "n.eml", only_html)).pages[0].text
    assert text.endswith("\n\nRich heron news\n") and "x()" not in text


def test_mbox_messages_are_pages_labelled_with_their_dates(tmp_path: Path) -> None:
    path = make_mbox(
        tmp_path / "inbox.mbox",
        [
            make_message("First", "From the start, all good.\n"),
            make_message("Second", "Bitterns seen.\n", date="Tue, 05 Mar 2024 08:00:00 +0100"),
            make_message("No date", "Undated.\n", date="not a date"),
        ],
    )
    doc = extract(path)
    assert [page.label for page in doc.pages] == [
        "message 1, 2024-03-04", "message 2, 2024-03-05", "message 3",
    ]  # fmt: skip
    assert "\nFrom the start, all good.\n" in doc.pages[0].text  # ">From" unquoted
    assert "Bitterns" in doc.pages[1].text and "Bitterns" not in doc.pages[0].text
    assert doc.pages[1].headings[0].text == "Second"


def test_mailbox_without_extension_is_recognised(tmp_path: Path) -> None:
    path = make_mbox(tmp_path / "Inbox", [make_message("Hello", "Words.\n")])
    assert extract(path).kind == "mbox"


def test_a_very_large_message_is_kept_by_its_headers(tmp_path: Path) -> None:
    huge = make_message(
        "Scans", "See the attachment.\n", attachments=[("scan.txt", b"A" * (30 * 2**20))]
    )
    path = make_mbox(
        tmp_path / "big.mbox",
        [make_message("Before", "Small one.\n"), huge, make_message("After", "Dunlin.\n")],
    )
    doc = extract(path)
    assert [page.label for page in doc.pages] == [
        "message 1, 2024-03-04", "message 2, 2024-03-04", "message 3, 2024-03-04",
    ]  # fmt: skip
    assert "Subject: Scans" in doc.pages[1].text
    assert "only its headers were read" in doc.pages[1].text
    assert "AAAA" not in doc.pages[1].text
    assert "Dunlin" in doc.pages[2].text


def test_attachment_too_large_is_named_not_read(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(mail_module, "MAX_ATTACHMENT_BYTES", 100)
    message = make_message("Big", "Body.\n", attachments=[("log.txt", b"word " * 100)])
    text = extract(make_eml(tmp_path / "b.eml", message)).pages[0].text
    assert "Attachment: log.txt (not read: larger than 100 bytes)" in text


# --- the formats MuPDF opens ------------------------------------------------------------------


def test_fb2_book_is_read_through_the_paged_path(tmp_path: Path) -> None:
    path = tmp_path / "tale.fb2"
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?>'
        '<FictionBook xmlns="http://www.gribuser.ru/xml/fictionbook/2.0">'
        "<description><title-info><book-title>A Tale</book-title></title-info></description>"
        "<body><section><title><p>Chapter One</p></title><p>The ptarmigan walked.</p>"
        "</section></body></FictionBook>",
        encoding="utf-8",
    )
    doc = extract(path)
    assert doc.kind == "fb2" and doc.pages[0].number == 1
    assert any("The ptarmigan walked." in page.text for page in doc.pages)
    assert doc.title == "A Tale"


def test_comic_without_text_says_so(tmp_path: Path) -> None:
    picture = pymupdf.open()
    picture.new_page(width=100, height=100)
    png = picture[0].get_pixmap().tobytes("png")
    path = tmp_path / "comic.cbz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("001.png", png)
    # Its page is a picture: the reason says OCR would read it (tests/core/extract/test_ocr.py).
    with pytest.raises(ExtractionError, match="1 scanned page without a text layer: turn on"):
        extract(path)


def test_new_formats_are_supported() -> None:
    for suffix in (
        ".pptx",
        ".odp",
        ".xlsx",
        ".ods",
        ".csv",
        ".odt",
        ".rtf",
        ".eml",
        ".mbox",
        ".mobi",
        ".fb2",
        ".xps",
        ".cbz",
    ):
        assert suffix in SUPPORTED_EXTENSIONS and is_supported(Path("x" + suffix))


def test_content_decides_for_office_files_without_their_extension(tmp_path: Path) -> None:
    cases = {
        "pptx": make_pptx(tmp_path / "a.pptx", SLIDES),
        "xlsx": make_xlsx(tmp_path / "a.xlsx", [("S", ROWS)]),
        "odt": make_odt(tmp_path / "a.odt", [(0, "Words here.")]),
        "ods": make_ods(tmp_path / "a.ods", [("S", [["a"]])]),
        "odp": make_odp(tmp_path / "a.odp", SLIDES),
    }
    for kind, path in cases.items():
        assert extract(path.rename(tmp_path / f"download-{kind}")).kind == kind


# --- broken and hostile files -----------------------------------------------------------------


def _all_zip_formats(tmp_path: Path) -> list[Path]:
    return [
        make_pptx(tmp_path / "a.pptx", SLIDES),
        make_odp(tmp_path / "a.odp", SLIDES),
        make_xlsx(tmp_path / "a.xlsx", [("S", ROWS)]),
        make_ods(tmp_path / "a.ods", [("S", ROWS)]),
        make_odt(tmp_path / "a.odt", [(1, "Title"), (0, "Body text here.")]),
        make_docx(tmp_path / "a.docx", ["Body text here."]),
    ]


def test_truncated_zip_files_fail_with_a_reason(tmp_path: Path) -> None:
    for path in _all_zip_formats(tmp_path):
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        with pytest.raises(ExtractionError, match="damaged"):
            extract(path)


def test_malformed_xml_fails_with_a_reason(tmp_path: Path) -> None:
    broken = {
        "a.pptx": "ppt/slides/slide1.xml",
        "a.xlsx": "xl/worksheets/sheet1.xml",
        "a.odt": "content.xml",
        "a.ods": "content.xml",
        "a.odp": "content.xml",
    }
    for path in _all_zip_formats(tmp_path):
        if path.name not in broken:
            continue
        copy = tmp_path / ("bad-" + path.name)
        with zipfile.ZipFile(path) as source, zipfile.ZipFile(copy, "w") as target:
            for info in source.infolist():
                data = source.read(info)
                if info.filename == broken[path.name]:
                    data = data[: len(data) // 2] + b"<unclosed"
                target.writestr(info, data)
        with pytest.raises(ExtractionError, match="not well-formed XML"):
            extract(copy)


def _with_member(path: Path, name: str, data: bytes) -> Path:
    """``path`` with member ``name`` added or replaced (deflated fast: these are large)."""
    with zipfile.ZipFile(path) as source:
        kept = [(info, source.read(info)) for info in source.infolist() if info.filename != name]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for info, member in kept:
            archive.writestr(info, member)
        archive.writestr(name, data)
    return path


def test_zip_bomb_is_refused_before_unpacking(tmp_path: Path) -> None:
    zeros = b"\0" * (60 * 2**20)
    for path in _all_zip_formats(tmp_path):
        _with_member(path, "padding.bin", zeros)
        assert path.stat().st_size < 2**20
        with pytest.raises(ExtractionError, match="ZIP bomb"):
            extract(path)


def test_text_that_unpacks_to_30_mb_fails_fast_with_the_reason(tmp_path: Path) -> None:
    # Text that does not compress like a bomb does (2:1): the archive is honest, only large.
    filler = (
        b"<x>" + random.Random(7).randbytes(15 * 2**20).hex()[: 30 * 2**20 - 7].encode() + b"</x>"
    )
    assert len(filler) == 30 * 2**20
    members = {
        "a.pptx": "ppt/slides/slide9.xml",
        "a.xlsx": "xl/worksheets/sheet9.xml",
        "a.odt": "content.xml",
        "a.docx": "word/extra.xml",
    }
    paths = [path for path in _all_zip_formats(tmp_path) if path.name in members]
    for path in paths:
        _with_member(path, members[path.name], filler)
        with pytest.raises(ExtractionError, match=r"too large to read: its text unpacks to 30 MB"):
            extract(path)


def test_hostile_files_get_an_outcome_through_the_reading_children(tmp_path: Path) -> None:
    from core.extract.worker import IsolatedExtractor

    bomb = _with_member(make_xlsx(tmp_path / "bomb.xlsx", [("S", ROWS)]), "x.bin", b"\0" * 2**26)
    truncated = tmp_path / "cut.pptx"
    truncated.write_bytes(make_pptx(tmp_path / "whole.pptx", SLIDES).read_bytes()[:300])
    not_mail = tmp_path / "x.mbox"
    not_mail.write_text("hello\n")
    rtf = tmp_path / "x.rtf"
    rtf.write_text("{\\rtf1 " + "{" * 5000 + "deep")
    with IsolatedExtractor(timeout=30) as extractor:
        for path, reason in [
            (bomb, "ZIP bomb"),
            (truncated, "damaged"),
            (not_mail, "not a mailbox"),
            (rtf, ""),
        ]:
            try:
                extractor.extract(path)
            except ExtractionError as error:
                assert reason in str(error)
            else:
                assert path == rtf  # a reader may make sense of it; it must not hang or crash


GARBAGE = [
    bytes(range(256)) * 16,
    b"PK\x03\x04" + b"\x00\xff" * 300,
    b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'aaaa'><!ENTITY b '&a;&a;&a;&a;'>]><x>&b;</x>",
    b"{\\rtf1 {\\*\\unknown" + b"}" * 50,
    b"From nobody Mon Jan  1 00:00:00 2024\nSubject: =?bogus?q?x?=\nContent-Type: multipart/mixed"
    b'; boundary="b"\n\n--b\nContent-Transfer-Encoding: base64\n\n!!!not base64\n',
    b"",
]


@pytest.mark.parametrize(
    "suffix", [".pptx", ".odp", ".xlsx", ".ods", ".csv", ".odt", ".rtf", ".eml", ".mbox",
               ".fb2", ".xps", ".cbz", ".mobi"],
)  # fmt: skip
@pytest.mark.parametrize("data", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_in_any_new_format_raises_only_extraction_error(
    tmp_path: Path, suffix: str, data: bytes
) -> None:
    path = tmp_path / f"junk{suffix}"
    path.write_bytes(data)
    try:
        doc = extract(path)
    except ExtractionError as error:
        assert str(error)
    else:
        assert doc.pages and any(page.text.strip() for page in doc.pages)


def test_entity_expansion_bomb_is_refused_fast(tmp_path: Path) -> None:
    # A billion laughs inside a well-formed document part: expat refuses the amplification.
    entities = "".join(f'<!ENTITY e{i} "{f"&e{i - 1};" * 10}">' for i in range(1, 10))
    content = (
        f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e0 "lol">{entities}]>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"'
        ' xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"><office:body>'
        "<office:text><text:p>&e9;</text:p></office:text></office:body></office:document-content>"
    )
    path = tmp_path / "laughs.odt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text")
        archive.writestr("content.xml", content)
    with pytest.raises(ExtractionError, match="not well-formed XML"):
        extract(path)


@pytest.mark.parametrize("maker", [make_xlsx, make_ods], ids=["xlsx", "ods"])
def test_sheets_holding_more_text_than_a_text_file_may_are_refused(
    tmp_path: Path, maker, monkeypatch
) -> None:
    from core.extract import sheets

    monkeypatch.setattr(sheets, "MAX_TEXT_CHARS", 500)
    with pytest.raises(ExtractionError, match="too large to read: its sheets hold more than"):
        extract(maker(tmp_path / f"big.{maker.__name__[-4:]}", [("S", ROWS)]))
    monkeypatch.setattr(sheets, "MAX_TEXT_CHARS", 20 * 2**20)
    assert extract(tmp_path / f"big.{maker.__name__[-4:]}").pages[0].text


SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def test_files_written_by_the_common_libraries_are_read() -> None:
    deck = extract(SAMPLES / "survey.pptx")
    assert deck.title == "Harbour survey"
    assert deck.pages[1].text == (
        "Findings\nSeals rest on the north jetty\nA turnstone flock of forty\n"
        "Species\tCount\nEider\t12\n\nNotes\nAsk about the cormorant roost"
    )
    book = extract(SAMPLES / "counts.xlsx")
    assert [page.label for page in book.pages] == ["sheet Counts", "sheet Notes"]
    # openpyxl saves formulas without a computed value: nothing is invented for them.
    assert book.pages[0].text == (
        "Species\tCount\tSeen on\nEider\t12\t2024-04-02\nTurnstone\t40\t2024-04-03\nTotal\n"
    )
    assert book.pages[1].text == "\tFog on the third morning\n"
    assert book.pages[1].location(0, 5) == "sheet Notes, row 3"
    rules = extract(SAMPLES / "rules.odt")
    assert rules.title == "Mooring rules"
    assert "Boats may stay for three nights at the visitor pontoon." in rules.pages[0].text
    assert [h.text for h in rules.pages[0].headings] == ["Mooring rules", "Fees"]
    tides = extract(SAMPLES / "tides.ods")
    assert tides.pages[0].text == "Day\tHigh water\nMonday\t06:12\nTuesday\t06:58\n"

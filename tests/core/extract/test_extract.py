"""Extraction of real files: pages, headings, encodings, and every way a file can be refused."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import pymupdf
import pytest

from core.extract import SUPPORTED_EXTENSIONS, ExtractionError, extract, is_supported
from core.extract.pdf_layout import PageLayout
from core.types import Document, Heading
from tests.docs_factory import (
    make_blank_pdf,
    make_corrupt_pdf,
    make_damaged_pdf,
    make_docx,
    make_encrypted_pdf,
    make_epub,
    make_html,
    make_owner_locked_pdf,
    make_pdf,
    make_sectioned_pdf,
    make_truncated_pdf,
)

LONG_LINE = "The quick brown fox jumps over the lazy dog near the riverbank while the farmer naps."


def assert_headings_point_at_their_text(doc: Document) -> None:
    for page in doc.pages:
        for heading in page.headings:
            assert page.text[heading.start :].startswith(heading.text), heading


# --- PDF --------------------------------------------------------------------------------------


def test_pdf_pages_are_numbered_from_one_with_their_own_text(tmp_path: Path) -> None:
    path = make_pdf(
        tmp_path / "report.pdf",
        ["Alpha page about otters.", "Beta page about herons.", "Gamma page about voles."],
        heading="Wetland Survey",
    )
    doc = extract(path)
    assert doc.kind == "pdf"
    assert [page.number for page in doc.pages] == [1, 2, 3]
    assert "otters" in doc.pages[0].text and "otters" not in doc.pages[1].text
    assert doc.pages[1].text == "Beta page about herons."
    assert doc.pages[2].text == "Gamma page about voles."


def test_pdf_heading_found_by_font_size_and_used_as_title(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "r.pdf", [LONG_LINE, LONG_LINE], heading="Wetland Survey")
    doc = extract(path)
    assert doc.pages[0].headings == [Heading(0, 1, "Wetland Survey")]
    assert doc.pages[1].headings == []
    assert doc.title == "Wetland Survey"


def test_pdf_heading_levels_rank_sizes_then_bold(tmp_path: Path) -> None:
    sections = [(1, "Wetlands", LONG_LINE), (2, "Birds", LONG_LINE), (3, "Herons", LONG_LINE)]
    sections += [(2, "Carbon", LONG_LINE), (1, "Forests", LONG_LINE), (3, "Oaks", LONG_LINE)]
    label = (3, "Totals:", LONG_LINE)  # a bold label, not a heading
    doc = extract(make_sectioned_pdf(tmp_path / "survey.pdf", [*sections, label]))
    page = doc.pages[0]
    assert [(h.level, h.text) for h in page.headings] == [(lv, t) for lv, t, _ in sections]
    assert_headings_point_at_their_text(doc)
    assert all(page.text[h.start - 2 : h.start] == "\n\n" for h in page.headings[1:])
    assert LONG_LINE not in [h.text for h in page.headings]


def test_pdf_metadata_title_wins_over_headings(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "r.pdf", [LONG_LINE], heading="Wetland Survey", title="Field Notes")
    assert extract(path).title == "Field Notes"


@pytest.mark.parametrize(
    "junk", ["0000320193-23-000006", "Microsoft Word - draft3.docx", "scan_0001.pdf", "Untitled"]
)
def test_pdf_meaningless_metadata_title_is_ignored(tmp_path: Path, junk: str) -> None:
    path = make_pdf(tmp_path / "r.pdf", [LONG_LINE], heading="Wetland Survey", title=junk)
    assert extract(path).title == "Wetland Survey"


def test_pdf_layout_blocks_lines_hyphens_and_table_rows(tmp_path: Path) -> None:
    body = f"{LONG_LINE} {LONG_LINE}\n\nSecond paragraph, hyphen-\nated across lines."
    path = make_pdf(tmp_path / "r.pdf", [body], table=[["Name", "Qty"], ["Apples", "12"]])
    text = extract(path).pages[0].text
    paragraphs = text.split("\n\n")
    assert paragraphs[0].count("\n") == 1  # one paragraph wrapped onto two lines
    assert paragraphs[1] == "Second paragraph, hyphenated across lines."
    assert "Name\tQty" in text and "Apples\t12" in text  # cells of a row stay on one line


def test_indexing_text_matches_the_highlighting_layout_exactly(tmp_path: Path) -> None:
    # Indexing reads pages with layout_text, highlighting with layout_page: stored offsets
    # only find the right glyphs if both give the same text and lines, character for character.
    from core.extract.pdf import open_document
    from core.extract.pdf_layout import layout_page, layout_text

    hyphenated = f"{LONG_LINE} {LONG_LINE}\n\nSecond paragraph, hyphen-\nated across lines."
    files = [
        make_pdf(tmp_path / "table.pdf", [hyphenated, "Page two."],
                 heading="Wetland Survey", table=[["Name", "Qty"], ["Apples", "12"]]),
        make_pdf(tmp_path / "rotated.pdf", [LONG_LINE], heading="Turned", rotate=90),
        make_sectioned_pdf(tmp_path / "sections.pdf", [
            (1, "Methods", LONG_LINE), (2, "Sampling", LONG_LINE), (3, "Bold aside", "Short.")]),
        make_docx(tmp_path / "memo.docx", [LONG_LINE, "Second  paragraph ."], heading="Memo"),
        make_epub(tmp_path / "book.epub", [("One", LONG_LINE), ("Two", "Short chapter.")]),
    ]
    pages = 0
    for path in files:
        with open_document(path) as document:
            for page in document:
                full, text_only = layout_page(page), layout_text(page)
                assert (text_only.text, text_only.lines) == (full.text, full.lines), path.name
                pages += 1
    assert pages >= len(files)


def test_pdf_with_a_broken_page_keeps_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import core.extract.pdf as pdf_module

    path = make_pdf(tmp_path / "r.pdf", ["First page.", "Second page.", "Third page."])
    real_layout = pdf_module.layout_text  # what indexing reads pages with

    def layout_failing_on_page_two(page: pymupdf.Page) -> PageLayout:
        if page.number == 1:
            raise RuntimeError("damaged content stream")
        return real_layout(page)

    monkeypatch.setattr(pdf_module, "layout_text", layout_failing_on_page_two)
    doc = extract(path)
    assert [(page.number, page.text) for page in doc.pages] == [
        (1, "First page."),
        (2, ""),
        (3, "Third page."),
    ]


def test_pdf_where_no_page_can_be_read_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import core.extract.pdf as pdf_module

    def always_fails(page: pymupdf.Page) -> PageLayout:
        raise RuntimeError("boom")

    monkeypatch.setattr(pdf_module, "layout_text", always_fails)
    with pytest.raises(ExtractionError, match="no page could be read"):
        extract(make_pdf(tmp_path / "r.pdf", ["One.", "Two."]))


def test_encrypted_pdf_is_refused_with_a_reason(tmp_path: Path) -> None:
    with pytest.raises(ExtractionError, match="encrypted PDF; a password is needed"):
        extract(make_encrypted_pdf(tmp_path / "locked.pdf"))


def test_pdf_with_only_an_owner_password_is_read(tmp_path: Path) -> None:
    doc = extract(make_owner_locked_pdf(tmp_path / "locked.pdf", "Readable but locked."))
    assert doc.pages[0].text == "Readable but locked."


def test_corrupt_pdf_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ExtractionError, match="damaged"):
        extract(make_corrupt_pdf(tmp_path / "broken.pdf"))


@pytest.mark.parametrize("make_broken", [make_truncated_pdf, make_damaged_pdf])
def test_broken_pdf_is_read_without_mupdf_noise(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make_broken: Callable[..., Path]
) -> None:
    # PyMuPDF prints MuPDF's messages to the stream it found at import time; catch them there.
    messages = io.StringIO()
    monkeypatch.setattr(pymupdf, "_g_out_message", messages)
    previous = pymupdf.TOOLS.mupdf_display_errors(True), pymupdf.TOOLS.mupdf_display_warnings(True)
    try:
        doc = extract(make_broken(tmp_path / "broken.pdf", ["Still readable.", "Also readable."]))
    finally:
        pymupdf.TOOLS.mupdf_display_errors(previous[0])
        pymupdf.TOOLS.mupdf_display_warnings(previous[1])
    assert "Still readable." in [page.text for page in doc.pages]
    assert messages.getvalue() == ""
    assert pymupdf.TOOLS.mupdf_warnings() == ""  # the message log does not grow per file


def test_pdf_without_text_is_refused(tmp_path: Path) -> None:
    # Blank pages are no scans: nothing to suggest (tests/core/extract/test_ocr.py has scans).
    with pytest.raises(ExtractionError, match=r"^no text found$"):
        extract(make_blank_pdf(tmp_path / "blank.pdf", page_count=2))


# --- DOCX and EPUB ----------------------------------------------------------------------------


def test_docx_is_extracted_with_its_heading(tmp_path: Path) -> None:
    path = make_docx(
        tmp_path / "memo.docx",
        ["The zebra crossing was repainted in March.", "Penguins were not consulted."],
        heading="Quarterly Report",
    )
    doc = extract(path)
    assert doc.kind == "docx"
    assert doc.pages[0].number == 1
    assert doc.pages[0].text.split("\n\n") == [
        "Quarterly Report",
        "The zebra crossing was repainted in March.",
        "Penguins were not consulted.",
    ]
    assert doc.pages[0].headings == [Heading(0, 1, "Quarterly Report")]
    assert doc.title == "Quarterly Report"


def test_long_docx_is_laid_out_on_several_pages(tmp_path: Path) -> None:
    paragraphs = [f"Paragraph {n}. {LONG_LINE}" for n in range(60)]
    doc = extract(make_docx(tmp_path / "long.docx", paragraphs))
    assert len(doc.pages) > 1
    assert [page.number for page in doc.pages] == list(range(1, len(doc.pages) + 1))
    assert "Paragraph 59." in doc.pages[-1].text


def test_epub_chapters_become_pages_with_headings(tmp_path: Path) -> None:
    path = make_epub(
        tmp_path / "book.epub",
        [
            ("Chapter One", "The lighthouse keeper counted gulls."),
            ("Chapter Two", "Fog rolled in."),
        ],
        title="Harbour Tales",
    )
    doc = extract(path)
    assert doc.kind == "epub"
    assert doc.title == "Harbour Tales"
    assert [page.text for page in doc.pages] == [
        "Chapter One\n\nThe lighthouse keeper counted gulls.",
        "Chapter Two\n\nFog rolled in.",
    ]
    assert [page.headings for page in doc.pages] == [
        [Heading(0, 1, "Chapter One")],
        [Heading(0, 1, "Chapter Two")],
    ]


# --- plain text and encodings -----------------------------------------------------------------

FRENCH = "Le café était déjà fermé quand nous sommes arrivés à la gare.\n"
TYPOGRAPHIC = "Le prix : 3 € — c’est « très » cher… dit l’œuvre.\n"
RUSSIAN = "Привет, как дела? Это тестовый текст на русском языке. Москва — столица.\n"


@pytest.mark.parametrize(
    ("text", "encoding"),
    [(FRENCH, "latin-1"), (TYPOGRAPHIC, "cp1252"), (RUSSIAN, "cp1251"), (FRENCH, "utf-8-sig")],
)
def test_legacy_encodings_are_decoded_right(tmp_path: Path, text: str, encoding: str) -> None:
    path = tmp_path / "note.txt"
    path.write_bytes(text.encode(encoding))
    doc = extract(path)
    assert doc.kind == "text"
    assert doc.pages[0].number is None
    assert doc.pages[0].text == text


def test_utf16_with_bom_is_text_not_binary(tmp_path: Path) -> None:
    path = tmp_path / "windows.txt"
    path.write_bytes("Größe und Gewicht\r\n".encode("utf-16"))
    assert extract(path).pages[0].text == "Größe und Gewicht\n"


def test_invalid_utf8_is_replaced_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "damaged.log"
    log_lines = "".join(f"{n} naïve café opened\n" for n in range(20)).encode()
    path.write_bytes(log_lines + b"cut off mid-char \xc3\n\xff\xfe stray bytes, then more\n")
    text = extract(path).pages[0].text
    assert text.startswith("0 naïve café opened\n")
    assert text.endswith("cut off mid-char \ufffd\n\ufffd\ufffd stray bytes, then more\n")


def test_newlines_are_normalised(tmp_path: Path) -> None:
    path = tmp_path / "mixed.txt"
    path.write_bytes(b"one\r\ntwo\rthree\n")
    assert extract(path).pages[0].text == "one\ntwo\nthree\n"


@pytest.mark.parametrize(
    "data",
    [
        b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4,  # NUL bytes
        b"abc\x01\x02\x03\x04\x05\x06\x07" * 50,  # control codes
        b"\xff\xfe" + b"\xfd\xff\xfe\xd8" * 100,  # a UTF-16 BOM, then broken surrogates
    ],
    ids=["nul", "control", "utf16-garbage"],
)
def test_binary_data_named_txt_is_refused(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "program.txt"
    path.write_bytes(data)
    with pytest.raises(ExtractionError, match=r"not a text file \(binary data\)"):
        extract(path)


@pytest.mark.parametrize("name", ["empty.txt", "empty.pdf", "empty.html", "empty"])
def test_empty_file_is_refused(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"")
    with pytest.raises(ExtractionError, match=r"^empty file$"):
        extract(path)


def test_blank_text_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "blank.md"
    path.write_text(" \n\t\n")
    with pytest.raises(ExtractionError, match="empty file"):
        extract(path)


# --- headings in markup -----------------------------------------------------------------------


def test_markdown_headings(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_bytes(
        b"---\r\ntitle: Garden Log\r\nauthor: me\r\n---\r\n# Spring ##\r\nText.\r\n\r\n"
        b"Summer\r\n======\r\n\r\nWarm.\r\n\r\nAutumn leaves\r\n---\r\n\r\n"
        b"```sh\r\n# not a heading\r\n```\r\n    ## indented code, not a heading\r\n\r\n"
        b"- list item\r\n---\r\n### Winter\r\n#hashtag is not a heading\r\n"
    )
    doc = extract(path)
    page = doc.pages[0]
    assert doc.kind == "markdown"
    assert doc.title == "Garden Log"
    assert [(h.level, h.text) for h in page.headings] == [
        (1, "Spring"),
        (1, "Summer"),
        (2, "Autumn leaves"),
        (3, "Winter"),
    ]
    assert page.text.index("# Spring") + 2 == page.headings[0].start
    assert_headings_point_at_their_text(doc)


def test_markdown_title_falls_back_to_the_top_heading(tmp_path: Path) -> None:
    path = tmp_path / "readme.markdown"
    path.write_text("## Install\n\n# Kenning\n\nSearch your files.\n")
    assert extract(path).title == "Kenning"


def test_rst_headings_levels_follow_first_use(tmp_path: Path) -> None:
    path = tmp_path / "guide.rst"
    path.write_text(
        "============\n User Guide\n============\n\nIntro text.\n\nInstalling\n----------\n\n"
        "Steps.\n\nOn Linux\n~~~~~~~~\n\nMore.\n\nUsing\n-----\n\nA paragraph line\n"
        "followed by text, then::\n\n    literal\n\n----\n\nAfter a transition.\n\n"
        "A paragraph whose\nlast line is underlined\n=======================\n"
    )
    doc = extract(path)
    assert doc.kind == "rst"
    assert [(h.level, h.text) for h in doc.pages[0].headings] == [
        (1, "User Guide"),
        (2, "Installing"),
        (3, "On Linux"),
        (2, "Using"),
    ]
    assert doc.title == "User Guide"
    assert_headings_point_at_their_text(doc)


def test_org_headings(tmp_path: Path) -> None:
    path = tmp_path / "plan.org"
    path.write_text(
        "#+TITLE: Plans\n* TODO Buy seeds  :garden:\nSome text.\n** [#A] Tomatoes\n"
        "#+BEGIN_SRC python\n* not a heading\n#+END_SRC\n*bold* is not a heading\n"
    )
    doc = extract(path)
    assert doc.title == "Plans"
    assert [(h.level, h.text) for h in doc.pages[0].headings] == [
        (1, "Buy seeds"),
        (2, "Tomatoes"),
    ]
    assert_headings_point_at_their_text(doc)


def test_latex_headings_ranked_by_depth_used(tmp_path: Path) -> None:
    path = tmp_path / "paper.tex"
    path.write_text(
        "\\title{On Voles}\n\\section{Introduction}\nText.\n% \\section{Commented out}\n"
        "\\subsection*{ Method }\n"
    )
    doc = extract(path)
    assert doc.title == "On Voles"
    assert [(h.level, h.text) for h in doc.pages[0].headings] == [
        (1, "Introduction"),
        (2, "Method"),
    ]
    assert_headings_point_at_their_text(doc)


def test_source_code_has_no_headings(tmp_path: Path) -> None:
    path = tmp_path / "tool.py"
    path.write_text("# A comment, not a heading\nprint('hi')\n")
    doc = extract(path)
    assert doc.kind == "code" and doc.pages[0].headings == [] and doc.title is None


# --- HTML -------------------------------------------------------------------------------------


def test_html_visible_text_headings_and_title(tmp_path: Path) -> None:
    path = make_html(
        tmp_path / "page.html",
        "<nav><a href='/'>Home</a></nav><h1>Main <em>Title</em></h1>"
        "<p>First   paragraph,\n  spread over source lines &amp; with an entity.</p>"
        "<h2>Prices<br>and stock</h2><table><tr><th>Name</th><th>Qty</th></tr>"
        "<tr><td>Apples</td><td>12</td></tr></table><ul><li>one</li><li>two</li></ul>"
        "<pre>\n  keep   this\n    indent\n</pre><h3><div>Nested</div><div>blocks</div></h3>"
        "<p>End.</p>",
        title="  My   Page ",
        head="<style>body { color: red }</style><script>var secret = 'nope';</script>",
    )
    doc = extract(path)
    page = doc.pages[0]
    assert doc.kind == "html"
    assert doc.title == "My Page"
    assert page.number is None
    assert page.text == (
        "Home\n\nMain Title\n\nFirst paragraph, spread over source lines & with an entity."
        "\n\nPrices and stock\n\nName\tQty\nApples\t12\n\none\ntwo\n\n  keep   this\n"
        "    indent\n\nNested blocks\n\nEnd."
    )
    assert [(h.level, h.text) for h in page.headings] == [
        (1, "Main Title"),
        (2, "Prices and stock"),
        (3, "Nested blocks"),
    ]
    assert page.headings[0].start == page.text.index("Main Title")
    assert_headings_point_at_their_text(doc)


def test_html_script_style_and_hidden_parts_are_left_out(tmp_path: Path) -> None:
    path = make_html(
        tmp_path / "app.htm",
        "<p>Visible</p><script>document.write('script text')</script>"
        "<style>.x { content: 'style text' }</style><noscript>noscript text</noscript>"
        "<template><p>template text</p></template><svg><title>svg title</title></svg>"
        "<p>Also visible</p>",
    )
    doc = extract(path)
    assert doc.pages[0].text == "Visible\n\nAlso visible"
    assert doc.title is None


def test_html_with_unclosed_head_shows_the_body(tmp_path: Path) -> None:
    path = tmp_path / "sloppy.html"
    path.write_text("<html><head><title>Sloppy</title><style>p {}</style><body><p>Shown</p>")
    doc = extract(path)
    assert (doc.title, doc.pages[0].text) == ("Sloppy", "Shown")
    path.write_text("<head><meta charset=utf-8><title>No body tag</title><p>Also shown")
    assert extract(path).pages[0].text == "Also shown"


def test_html_title_falls_back_to_first_h1(tmp_path: Path) -> None:
    path = make_html(tmp_path / "a.xhtml", "<h2>Minor</h2><h1>Major</h1><p>x</p>")
    assert extract(path).title == "Major"


def test_html_in_a_declared_legacy_charset(tmp_path: Path) -> None:
    path = make_html(tmp_path / "old.html", "<p>Grüße aus Köln – 5 €</p>", encoding="windows-1252")
    assert extract(path).pages[0].text == "Grüße aus Köln – 5 €"


@pytest.mark.parametrize(
    ("text", "encoding"), [("Καλημέρα κόσμε", "iso-8859-7"), ("Šťastný nový rok", "iso-8859-2")]
)
def test_html_declared_charset_beats_guessing(tmp_path: Path, text: str, encoding: str) -> None:
    path = make_html(tmp_path / "page.html", f"<p>{text}</p>", encoding=encoding)
    assert extract(path).pages[0].text == text


def test_html_without_visible_text_is_refused(tmp_path: Path) -> None:
    path = make_html(tmp_path / "blank.html", "<script>app()</script>", title="App")
    with pytest.raises(ExtractionError, match="no visible text"):
        extract(path)


# --- size cap ---------------------------------------------------------------------------------


def test_size_cap_is_checked_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    with path.open("wb") as stream:
        stream.truncate(20 * 2**20 + 1)  # sparse: all NUL bytes, which would read as binary
    with pytest.raises(ExtractionError, match=r"larger than the size cap \(20 MB\)"):
        extract(path)


def test_size_cap_applies_to_every_format(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "r.pdf", [LONG_LINE])
    size = pdf.stat().st_size
    with pytest.raises(ExtractionError, match="size cap"):
        extract(pdf, max_bytes=size - 1)
    assert extract(pdf, max_bytes=size).pages[0].text == LONG_LINE
    note = tmp_path / "n.md"
    note.write_text("# Big\n" + "word " * 400)
    with pytest.raises(ExtractionError, match=r"size cap \(1 KB\)"):
        extract(note, max_bytes=1024)


# --- choosing an extractor --------------------------------------------------------------------


def test_supported_extensions(tmp_path: Path) -> None:
    for suffix in (".pdf", ".docx", ".epub", ".html", ".htm", ".md", ".rst", ".txt", ".py"):
        assert suffix in SUPPORTED_EXTENSIONS
    assert is_supported(Path("Report.PDF"))
    assert is_supported(Path("README"))
    assert not is_supported(Path("photo.jpg"))
    assert not is_supported(Path("archive.zip"))
    assert not is_supported(Path("mystery"))


def test_text_files_known_by_their_name_with_a_variant_after_the_dot(tmp_path: Path) -> None:
    for name in ("README.Debian", "LICENSE.MIT", "CHANGES.old", "notes.2019", "Makefile.am"):
        assert is_supported(Path(name)), name
    # a packed or binary ending wins over the name; an ordinary name with one is not text
    for name in ("README.gz", "README.Debian.gz", "readme.jpg", "NOTES.pages", "report.draft",
                 "readmes.txt.bak"):
        assert not is_supported(Path(name)), name
    assert is_supported(Path("readme.jpg"), ocr=True)
    variant = tmp_path / "README.Debian"
    variant.write_text("Configuration lives in /etc/example.\n")
    document = extract(variant)
    assert document.kind == "text"
    assert document.pages[0].text == "Configuration lives in /etc/example.\n"
    binary = tmp_path / "README.bin2"
    binary.write_bytes(b"\x00\x01\x02binary")
    with pytest.raises(ExtractionError, match="not a text file"):
        extract(binary)


def test_content_decides_when_the_extension_is_unknown(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "scan.pdf", ["Sniffed PDF text."])
    disguised = pdf.rename(tmp_path / "download")
    assert extract(disguised).kind == "pdf"
    docx = make_docx(tmp_path / "memo.docx", ["Sniffed memo."]).rename(tmp_path / "memo.bin")
    assert extract(docx).kind == "docx"
    epub = make_epub(tmp_path / "b.epub", [("One", "Sniffed book.")]).rename(tmp_path / "b.dat")
    assert extract(epub).kind == "epub"
    page = make_html(tmp_path / "p.html", "<p>Sniffed page.</p>").rename(tmp_path / "p.cache")
    assert extract(page).pages[0].text == "Sniffed page."
    notes = tmp_path / "NOTES"
    notes.write_text("Plain words.\n")
    assert extract(notes).kind == "text"


def test_unsupported_zip_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bundle"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("data.csv", "a,b\n")
    with pytest.raises(ExtractionError, match="unsupported file type"):
        extract(path)


def test_missing_file_and_directory_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ExtractionError, match="file not found"):
        extract(tmp_path / "gone.pdf")
    with pytest.raises(ExtractionError, match="not a regular file"):
        extract(tmp_path)


GARBAGE = [
    bytes(range(256)) * 16,
    b"PK\x03\x04" + b"\x00\xff" * 300,
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF",
    b"<html><body><h1>unclosed <p>tags & &bogus; entities <script>",
    b"\xff\xfe\xfd" * 100,
]


@pytest.mark.parametrize("suffix", [".pdf", ".docx", ".epub", ".html", ".md", ".txt", ".rst", ""])
@pytest.mark.parametrize("data", GARBAGE, ids=range(len(GARBAGE)))
def test_bad_input_raises_only_extraction_error(tmp_path: Path, suffix: str, data: bytes) -> None:
    path = tmp_path / f"junk{suffix}"
    path.write_bytes(data)
    try:
        doc = extract(path)
    except ExtractionError as error:
        assert str(error)
    else:
        assert doc.pages


def test_a_truncated_pdf_says_how_much_was_read_and_why_not_the_rest(tmp_path):
    from tests.docs_factory import make_pdf

    whole = make_pdf(tmp_path / "whole.pdf",
                     [f"Page {i} is about the lease and its notice." for i in range(200)])
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * 0.65)])
    document = extract(cut)
    assert document.note is not None
    read = sum(1 for page in document.pages if page.text.strip())
    assert 100 < read < 200
    assert document.note.startswith(f"read {read} of 200 pages; the rest could not be read: ")
    assert "truncated" in document.note
    assert extract(whole).note is None


def test_a_truncated_one_page_pdf_is_called_damaged_not_scanned(tmp_path):
    from tests.docs_factory import make_pdf

    whole = make_pdf(tmp_path / "one.pdf", ["A single page about the lease and its notice."])
    cut = tmp_path / "cut.pdf"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(ExtractionError) as caught:
        extract(cut)
    assert "truncated" in str(caught.value) and "OCR" not in str(caught.value)

    many = make_pdf(tmp_path / "many.pdf", [f"Page {i} about the harbour." for i in range(60)])
    cut.write_bytes(many.read_bytes()[: int(many.stat().st_size * 0.6)])  # MuPDF cannot open it
    with pytest.raises(ExtractionError, match=r"^damaged PDF: the file looks truncated"):
        extract(cut)

"""Scanned pages and pictures of text read by OCR (Tesseract through PyMuPDF), on request;
and what happens when OCR is off or Tesseract cannot be found.

The files are made here as a scanner makes them: text drawn, then kept only as a picture."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.extract import ExtractionError, extract, is_supported, span_quads
from core.extract.errors import ScansNotRead
from core.extract.ocr import NOT_INSTALLED, find_ocr_engine, forget_ocr_engine
from core.extract.worker import IsolatedExtractor
from tests.docs_factory import make_blank_pdf, make_picture, make_scanned_pdf

requires_tesseract = pytest.mark.skipif(
    not find_ocr_engine().available,
    reason=f"OCR tests need Tesseract with English data ({find_ocr_engine().problem}); "
    "tests/run.sh installs it (apt-get install tesseract-ocr tesseract-ocr-eng)",
)


@pytest.fixture
def without_tesseract(hide_tesseract):
    """A machine without Tesseract, for the whole test."""
    with hide_tesseract():
        yield


@requires_tesseract
def test_a_scanned_page_is_read_by_ocr_and_a_text_page_keeps_its_text(tmp_path: Path) -> None:
    pdf = make_scanned_pdf(tmp_path / "scan.pdf",
                           ["The zebrafish clause ends the lease.", "unused"],
                           text_layer={1: "A real text layer about wombats."})
    read: list[None] = []
    doc = extract(pdf, ocr=True, on_ocr_page=lambda: read.append(None))
    assert "zebrafish" in doc.pages[0].text
    assert doc.pages[1].text == "A real text layer about wombats."
    assert [page.number for page in doc.pages] == [1, 2]
    assert (doc.ocr_pages, doc.unread_scans, len(read)) == (1, 0, 1)


def test_with_ocr_off_scanned_pages_are_counted_not_read(tmp_path: Path) -> None:
    pdf = make_scanned_pdf(tmp_path / "scan.pdf", ["The zebrafish clause.", "unused"],
                           text_layer={1: "A real text layer about wombats."})
    doc = extract(pdf)
    assert doc.pages[0].text == "" and "wombats" in doc.pages[1].text
    assert (doc.ocr_pages, doc.unread_scans) == (0, 1)
    only_scans = make_scanned_pdf(tmp_path / "only.pdf", ["One.", "Two."])
    with pytest.raises(ScansNotRead, match="2 scanned pages without a text layer: turn on") as e:
        extract(only_scans)
    assert e.value.unread_scans == 2


def test_blank_pages_are_not_scans(tmp_path: Path) -> None:
    with pytest.raises(ExtractionError, match=r"^no text found$"):
        extract(make_blank_pdf(tmp_path / "blank.pdf", page_count=2), ocr=True)


@requires_tesseract
@pytest.mark.parametrize("name", ["note.png", "note.jpg"])
def test_a_picture_of_text_is_read_only_with_ocr_on(tmp_path: Path, name: str) -> None:
    picture = make_picture(tmp_path / name, "Meet at the platypus lighthouse.")
    assert not is_supported(picture) and is_supported(picture, ocr=True)
    doc = extract(picture, ocr=True)
    assert doc.kind == "image" and "platypus lighthouse" in doc.pages[0].text
    with pytest.raises(ExtractionError, match="only with OCR on"):
        extract(picture)


@requires_tesseract
def test_a_passage_read_by_ocr_is_highlighted_where_the_words_are(tmp_path: Path) -> None:
    pdf = make_scanned_pdf(tmp_path / "scan.pdf", ["Rent is due.\nThe zebrafish clause."])
    text = extract(pdf, ocr=True).pages[0].text
    start = text.index("zebrafish")
    rects = span_quads(pdf, 1, start, start + len("zebrafish"))
    assert len(rects) == 1
    x0, y0, x1, y1 = rects[0]
    # The second line of 12-point text drawn from (72, 72): one word's width, one line down.
    assert 80 < x0 < 140 and 30 < x1 - x0 < 80 and 80 < y0 < 110 and 8 < y1 - y0 < 20


@pytest.mark.usefixtures("without_tesseract")
def test_without_tesseract_nothing_fails_and_the_reason_is_given(tmp_path: Path) -> None:
    engine = find_ocr_engine()
    assert not engine.available and engine.problem == NOT_INSTALLED
    only_scans = make_scanned_pdf(tmp_path / "only.pdf", ["One."])
    with pytest.raises(ScansNotRead, match="not read: Tesseract is not installed"):
        extract(only_scans, ocr=True)
    mixed = make_scanned_pdf(tmp_path / "mixed.pdf", ["One.", "x"], text_layer={1: "Words."})
    doc = extract(mixed, ocr=True)
    assert (doc.ocr_pages, doc.unread_scans, doc.pages[1].text) == (0, 1, "Words.")
    with pytest.raises(ScansNotRead, match="a picture of text, not read: Tesseract"):
        extract(make_picture(tmp_path / "note.png", "Hello there."), ocr=True)


def test_language_data_missing_from_tessdata_prefix_is_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setenv("TESSDATA_PREFIX", str(tmp_path))
        forget_ocr_engine()
        engine = find_ocr_engine()
    forget_ocr_engine()
    assert not engine.available and "no eng.traineddata" in (engine.problem or "")


@requires_tesseract
def test_the_reader_children_read_scans_and_report_each_page(tmp_path: Path) -> None:
    pdf = make_scanned_pdf(tmp_path / "scan.pdf", ["The zebrafish clause.", "Quokka rules."])
    pages: list[None] = []
    with IsolatedExtractor(timeout=60) as extractor:
        extractor.on_ocr_page = lambda: pages.append(None)
        doc = extractor.extract(pdf, ocr=True)
        assert "zebrafish" in doc.pages[0].text and "Quokka" in doc.pages[1].text
        assert len(pages) == 2
        with pytest.raises(ScansNotRead) as caught:  # the page count crosses the pipe too
            extractor.extract(pdf)
        assert caught.value.unread_scans == 2


def test_a_child_without_tesseract_skips_scans_with_the_reason(tmp_path: Path,
                                                               without_tesseract: None) -> None:
    pdf = make_scanned_pdf(tmp_path / "scan.pdf", ["The zebrafish clause."])
    assert os.environ["PATH"].endswith("empty-bin")
    with IsolatedExtractor(timeout=60) as extractor, pytest.raises(
        ScansNotRead, match="Tesseract is not installed"
    ):
        extractor.extract(pdf, ocr=True)


@requires_tesseract
def test_the_preview_marks_the_passage_and_the_query_words_on_a_scan(tmp_path: Path) -> None:
    from core.extract.render import is_paged, render_page

    pdf = make_scanned_pdf(tmp_path / "scan.pdf", ["Rent is due.\nThe zebrafish clause."])
    text = extract(pdf, ocr=True).pages[0].text
    start = text.index("zebrafish")
    page = render_page(pdf, 1, zoom=1.0, fit_width=0, device_pixel_ratio=1.0,
                       span=(start, start + len("zebrafish")), words=["zebrafish"])
    assert page.highlight_quads == span_quads(pdf, 1, start, start + len("zebrafish"))
    assert len(page.match_pixels) == 1
    picture = make_picture(tmp_path / "note.png", "Meet at the platypus lighthouse.")
    assert is_paged(str(picture))
    shown = render_page(picture, 1, zoom=None, fit_width=400, device_pixel_ratio=1.0,
                        span=None, words=["platypus"])
    assert shown.width == 400 and len(shown.match_pixels) == 1

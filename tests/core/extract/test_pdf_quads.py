"""span_quads: offsets in indexed page text map back to the right boxes on the page."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from core.extract import ExtractionError, extract, open_document, span_quads
from tests.docs_factory import make_docx, make_epub, make_pdf

Rect = tuple[float, float, float, float]
TOLERANCE = 0.5  # points

BODY = (
    "Kenning indexes the documents on this machine and never sends them anywhere. "
    "The highlighted passage must match the words the reader sees on the page, down to the "
    "exact line where each phrase begins and ends.\n\nA short final paragraph with a "
    "hyphen-\nated word in it."
)


def contains(outer: Rect, inner: Rect) -> bool:
    return (
        outer[0] - TOLERANCE <= inner[0]
        and outer[1] - TOLERANCE <= inner[1]
        and inner[2] <= outer[2] + TOLERANCE
        and inner[3] <= outer[3] + TOLERANCE
    )


def same_box(left: Rect, right: Rect) -> bool:
    return contains(left, right) and contains(right, left)


def span_of(text: str, phrase: str) -> tuple[int, int]:
    start = text.index(phrase)
    return start, start + len(phrase)


@pytest.fixture
def report(tmp_path: Path) -> Path:
    return make_pdf(
        tmp_path / "report.pdf",
        ["Cover page.", BODY],
        heading="Privacy Notes",
        table=[["Name", "Qty"], ["Apples", "12"]],
    )


def search(path: Path, page_number: int, phrase: str) -> list[Rect]:
    with open_document(path) as document:
        return [tuple(rect) for rect in document[page_number - 1].search_for(phrase)]


def test_phrase_on_one_line_matches_search_for(report: Path) -> None:
    text = extract(report).pages[1].text
    rects = span_quads(report, 2, *span_of(text, "never sends them anywhere"))
    expected = search(report, 2, "never sends them anywhere")
    assert len(rects) == len(expected) == 1
    assert same_box(rects[0], expected[0])


def test_phrase_across_a_line_break_gives_one_rect_per_line(report: Path) -> None:
    text = extract(report).pages[1].text
    first_line = text.split("\n")[0]
    last_words = " ".join(first_line.split()[-2:])  # the end of line one...
    phrase = last_words + "\n" + text.split("\n")[1].split()[0]  # ...and the start of line two
    rects = span_quads(report, 2, *span_of(text, phrase))
    assert len(rects) == 2
    assert rects[0][1] < rects[1][1]  # in reading order: upper line first
    assert contains(rects[0], search(report, 2, last_words)[0])


def test_every_word_on_the_page_is_covered_by_the_whole_page_span(report: Path) -> None:
    doc = extract(report)
    for page in doc.pages:
        assert page.number is not None
        rects = span_quads(report, page.number, 0, len(page.text))
        with open_document(report) as document:
            words = document[page.number - 1].get_text("words")
        assert words
        for word in words:
            if word[4].endswith("-"):  # the line-end hyphen is dropped from the indexed text
                continue
            assert any(contains(rect, tuple(word[:4])) for rect in rects), word[4]


def test_each_word_maps_to_its_own_box(report: Path) -> None:
    """Offsets agree exactly with the indexed text: word N's span gives word N's box."""
    text = extract(report).pages[1].text
    with open_document(report) as document:
        words = document[1].get_text("words")
    offset = 0
    checked = 0
    for word in words:
        if "-" in word[4]:  # "hyphen-" was joined with "ated" in the indexed text
            continue
        offset = text.index(word[4], offset)
        rects = span_quads(report, 2, offset, offset + len(word[4]))
        assert len(rects) == 1
        assert same_box(rects[0], tuple(word[:4])), word[4]
        offset += len(word[4])
        checked += 1
    assert checked > 30


def test_rejoined_hyphenated_word_spans_both_lines(report: Path) -> None:
    text = extract(report).pages[1].text
    rects = span_quads(report, 2, *span_of(text, "hyphenated"))
    assert len(rects) == 2
    assert contains(rects[0], search(report, 2, "hyphen")[0])


def test_table_cells_are_separate_fragments(report: Path) -> None:
    text = extract(report).pages[1].text
    rects = span_quads(report, 2, *span_of(text, "Apples\t12"))
    assert len(rects) == 2
    assert contains(rects[0], search(report, 2, "Apples")[0])
    assert contains(rects[1], search(report, 2, "12")[-1])


def test_line_with_mixed_font_sizes_gets_one_rect_around_all(tmp_path: Path) -> None:
    document = pymupdf.open()
    page = document.new_page()
    x = 72.0
    for words, size in (("Small words ", 9), ("BIG ", 24), ("small again", 9)):
        page.insert_text((x, 100), words, fontsize=size)
        x += pymupdf.get_text_length(words, fontsize=size)
    document.save(tmp_path / "mixed.pdf")
    path = tmp_path / "mixed.pdf"
    text = extract(path).pages[0].text
    rects = span_quads(path, 1, *span_of(text, "words BIG small"))
    assert len(rects) == 1
    for word in ("words", "BIG", "small"):
        assert contains(rects[0], search(path, 1, word)[-1]), word  # [-1]: not "Small"


def test_heading_span(report: Path) -> None:
    doc = extract(report)
    heading = doc.pages[0].headings[0]
    rects = span_quads(report, 1, heading.start, heading.start + len(heading.text))
    assert len(rects) == 1
    assert same_box(rects[0], search(report, 1, "Privacy Notes")[0])


def test_separators_and_out_of_range_offsets(report: Path) -> None:
    text = extract(report).pages[1].text
    paragraph_break = text.index("\n\n")
    assert span_quads(report, 2, paragraph_break, paragraph_break + 2) == []
    assert span_quads(report, 2, len(text) + 5, len(text) + 50) == []
    assert span_quads(report, 2, 5, 5) == []
    assert len(span_quads(report, 2, -10, 3)) == 1


def test_missing_page_or_file_raises_extraction_error(report: Path, tmp_path: Path) -> None:
    with pytest.raises(ExtractionError, match="page 3 does not exist"):
        span_quads(report, 3, 0, 10)
    with pytest.raises(ExtractionError, match="page 0 does not exist"):
        span_quads(report, 0, 0, 10)
    with pytest.raises(ExtractionError, match="file not found"):
        span_quads(tmp_path / "gone.pdf", 1, 0, 10)


def test_rotated_page_uses_the_same_space_as_search_for(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "turned.pdf", [BODY], rotate=90)
    text = extract(path).pages[0].text
    rects = span_quads(path, 1, *span_of(text, "Kenning indexes"))
    assert same_box(rects[0], search(path, 1, "Kenning indexes")[0])


@pytest.mark.parametrize("kind", ["docx", "epub"])
def test_reflowed_formats_map_spans_too(tmp_path: Path, kind: str) -> None:
    phrase = "counted every gull on the northern pier"
    sentence = f"The lighthouse keeper {phrase} before dawn."
    if kind == "docx":
        path = make_docx(tmp_path / "log.docx", [sentence], heading="Keeper's Log")
    else:
        path = make_epub(tmp_path / "log.epub", [("Keeper's Log", sentence)])
    text = extract(path).pages[0].text
    rects = span_quads(path, 1, *span_of(text, phrase))
    expected = search(path, 1, phrase)
    assert rects and len(rects) == len(expected)
    for rect, want in zip(rects, expected, strict=True):
        assert same_box(rect, want)


def test_open_document_lays_out_reflowable_files_as_indexed(tmp_path: Path) -> None:
    paragraphs = [f"Paragraph {n} of a long memo about harbour logistics." for n in range(80)]
    path = make_docx(tmp_path / "memo.docx", paragraphs)
    indexed_pages = len(extract(path).pages)
    with open_document(path) as document:
        assert document.page_count == indexed_pages
        assert document[0].rect == pymupdf.Rect(0, 0, 400, 600)

"""Searching from the query box, and the preview of a hit with its passage highlighted."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtGui import QColor, QImage
from pytestqt.qtbot import QtBot

from app.window import MainWindow
from core.extract import extract, span_quads

WAIT_MS = 10_000


def names(window: MainWindow) -> list[str]:
    return [Path(hit.path).name for hit in window.results_model.hits]


def search_for(qtbot: QtBot, window: MainWindow, text: str) -> None:
    window.query_box.setFocus()
    window.query_box.clear()
    qtbot.keyClicks(window.query_box, text)


def test_typing_shows_the_matching_files_with_marked_snippets(
    qtbot: QtBot, indexed_window: MainWindow
) -> None:
    search_for(qtbot, indexed_window, "tomatoes")
    qtbot.waitUntil(lambda: names(indexed_window)[:1] == ["garden.md"], timeout=WAIT_MS)
    hit = indexed_window.results_model.hits[0]
    marked = [hit.snippet[s:e].lower() for s, e in hit.snippet_matches]
    assert "tomatoes" in marked
    count = len(indexed_window.results_model.hits)
    assert indexed_window.filters.summary.text().startswith(f"{count} result")

    search_for(qtbot, indexed_window, "lentils")
    qtbot.waitUntil(lambda: names(indexed_window)[:1] == ["soup.txt"], timeout=WAIT_MS)
    # The rows are painted by the delegate; painting must work and give rows a real height.
    assert indexed_window.results_view.sizeHintForRow(0) > 40
    assert not indexed_window.results_view.grab().isNull()


def test_filters_narrow_the_results(qtbot: QtBot, indexed_window: MainWindow) -> None:
    search_for(qtbot, indexed_window, "the")
    qtbot.waitUntil(lambda: len(names(indexed_window)) >= 2, timeout=WAIT_MS)
    pdf = indexed_window.filters.file_type.findText("PDF")
    indexed_window.filters.file_type.setCurrentIndex(pdf)
    qtbot.waitUntil(lambda: names(indexed_window) == ["lease.pdf"], timeout=WAIT_MS)
    assert "ext:pdf" in indexed_window.search.query


def test_down_and_enter_move_from_the_query_into_the_results(
    qtbot: QtBot, indexed_window: MainWindow
) -> None:
    search_for(qtbot, indexed_window, "tomatoes")
    qtbot.waitUntil(lambda: names(indexed_window) == ["garden.md"], timeout=WAIT_MS)
    qtbot.keyClick(indexed_window.query_box, Qt.Key.Key_Down)
    assert indexed_window.results_view.currentIndex().row() == 0
    qtbot.waitUntil(lambda: indexed_window.preview.text_highlight is not None, timeout=WAIT_MS)
    qtbot.keyClick(indexed_window.results_view, Qt.Key.Key_Up)
    assert indexed_window.query_box.hasFocus()


def marker_pixels(image: QImage, rect: tuple[float, float, float, float]) -> int:
    """How many pixels inside ``rect`` show a highlight colour (the passage's yellow, or the
    amber of a query word painted over it): red stays high, blue drops well below it."""
    count = 0
    for y in range(max(0, int(rect[1])), min(image.height(), int(rect[3]))):
        for x in range(max(0, int(rect[0])), min(image.width(), int(rect[2]))):
            color = QColor(image.pixel(x, y))
            if color.red() > 230 and color.green() > 140 and color.blue() < 170:
                count += 1
    return count


def test_selecting_a_pdf_hit_renders_its_page_with_the_passage_highlighted(
    qtbot: QtBot, indexed_window: MainWindow
) -> None:
    window = indexed_window
    search_for(qtbot, window, "sixty days notice")
    qtbot.waitUntil(lambda: "lease.pdf" in names(window), timeout=WAIT_MS)
    row = names(window).index("lease.pdf")
    hit = window.results_model.hits[row]
    assert hit.page == 2

    window.results_view.selectionModel().setCurrentIndex(
        window.results_model.index(row), QItemSelectionModel.SelectionFlag.ClearAndSelect
    )
    assert not window.preview.settled  # the page is being rendered
    qtbot.waitUntil(lambda: window.preview.highlight_rects != [], timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.preview.settled, timeout=WAIT_MS)

    preview = window.preview
    assert preview.current_page == 2
    assert preview.page_count == 2
    # The passage is the snippet widened to whole sentences, inside the hit's chunk.
    assert preview.target is not None
    start, end = preview.target.start, preview.target.end
    assert hit.start <= start <= hit.snippet_start < end <= hit.end
    page_text = extract(Path(hit.path)).pages[1].text
    assert "The tenant must give sixty days written notice" in page_text[start:end]
    expected = span_quads(Path(hit.path), hit.page, start, end)
    assert preview.highlight_rects == [tuple(q) for q in expected]

    rendered = preview.pages.rendered
    image = preview.pages.page_image
    assert rendered is not None and image is not None
    assert image.width() == rendered.width
    for rect in rendered.highlight_pixels:
        area = (rect[2] - rect[0]) * (rect[3] - rect[1])
        assert marker_pixels(image, rect) > 0.3 * area  # marker between the glyphs
    # ... and nowhere else: the top margin of the page is plain white.
    top_margin = (0.0, 0.0, float(image.width()), rendered.highlight_pixels[0][1] / 4)
    assert marker_pixels(image, top_margin) == 0


def test_a_slide_hit_names_its_slide_and_previews_that_slide_marked(
    qtbot: QtBot, make_window, paths, folder: Path
) -> None:
    from tests.app.conftest import index_folder
    from tests.formats_factory import make_pptx

    make_pptx(
        folder / "deck.pptx",
        [("Opening", ["Welcome all"], ""), ("Birds", ["The hoopoe nests here"], "Point at it")],
    )
    index_folder(paths, folder)
    window = make_window()
    search_for(qtbot, window, "hoopoe")
    qtbot.waitUntil(lambda: "deck.pptx" in names(window), timeout=WAIT_MS)
    hit = window.results_model.hits[names(window).index("deck.pptx")]
    assert (hit.page, hit.location) == (2, "slide 2")
    delegate = window.results_view.itemDelegate()
    assert delegate._meta_text(hit).startswith("slide 2")

    row = names(window).index("deck.pptx")
    window.results_view.selectionModel().setCurrentIndex(
        window.results_model.index(row), QItemSelectionModel.SelectionFlag.ClearAndSelect
    )
    text_view = window.preview.text
    qtbot.waitUntil(lambda: "hoopoe" in text_view.toPlainText(), timeout=WAIT_MS)
    shown = text_view.toPlainText()
    assert shown == "Birds\nThe hoopoe nests here\n\nNotes\nPoint at it"  # slide 2 only
    start, end = text_view.span
    assert "hoopoe" in shown[start:end]
    marked = [shown[s:e] for s, e in text_view.matches]
    assert marked == ["hoopoe"]

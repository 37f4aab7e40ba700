"""The preview's pages without a window: drawn pixels, highlight boxes and matched words."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from core.cancel import Cancelled, CancelToken
from core.extract.render import (
    is_paged,
    load_text_page,
    pages_with_words,
    render_page,
    word_rects,
)
from tests.docs_factory import make_pdf


def test_page_words_are_marked_whole(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "a.pdf", ["We attend at the weekend. At the end, notices apply."])
    document = pymupdf.open(path)
    try:
        page = document.load_page(0)
        marked = [page.get_textbox(pymupdf.Rect(r)).strip() for r in word_rects(page, ["end"])]
        assert marked == ["end,"]
        assert len(word_rects(page, ["notice"])) == 1  # "notices": endings count
    finally:
        document.close()


def test_a_page_is_drawn_at_the_asked_zoom_with_its_passage_and_words_located(
    tmp_path: Path,
) -> None:
    body = "The tenant gives sixty days notice. Rent is due monthly."
    path = make_pdf(tmp_path / "lease.pdf", ["Cover page.", body])
    start = body.index("Rent")
    page = render_page(path, 2, zoom=1.0, fit_width=0, device_pixel_ratio=2.0,
                       span=(start, len(body)), words=["notice"])
    assert (page.page, page.page_count) == (2, 2)
    assert page.points_to_pixels == pytest.approx(2 * 96 / 72)
    assert page.width == round(pymupdf.open(path)[1].rect.width * page.points_to_pixels)
    assert len(page.samples) == page.stride * page.height
    assert page.highlight_quads and len(page.highlight_pixels) == len(page.highlight_quads)
    [match] = page.match_pixels
    assert 0 <= match[0] < match[2] <= page.width
    fitted = render_page(path, 9, zoom=None, fit_width=300, device_pixel_ratio=1.0,
                         span=None, words=[])
    assert (fitted.page, fitted.width, fitted.highlight_quads) == (2, 300, [])


def test_the_pages_holding_a_word_are_found_and_a_cancel_stops_the_scan(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "a.pdf", ["Rent is due.", "Notice is sixty days.", "Notices."])
    assert pages_with_words(path, ["notice"]) == [2, 3]
    assert pages_with_words(path, []) == []
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        pages_with_words(path, ["notice"], cancel)


def test_a_text_file_page_comes_with_its_words_found(tmp_path: Path) -> None:
    path = tmp_path / "note.md"
    path.write_text("# Notice\n\nGive notice in writing.\n", encoding="utf-8")
    page = load_text_page(path, None, ["notice"])
    assert [page.text[s:e] for s, e in page.matches] == ["Notice", "notice"]
    assert is_paged("a.PDF") and is_paged("b.epub") and not is_paged(str(path))

"""The preview's own controls on a real three-page PDF: pages, zoom, and the next/previous
match buttons that step through the query's words across pages."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.preview import PreviewPane, PreviewTarget
from app.tasks import TaskRunner
from core.config import AppPaths
from core.store.database import Store
from tests.docs_factory import make_pdf

WAIT_MS = 10_000
PAGES = [
    "The boiler was serviced in March. The engineer checked the flue.",
    "Nothing about heating here: the garden needs watering twice a week.",
    "The boiler pressure should read between one and two bar when cold.",
]


@pytest.fixture
def pane(qtbot: QtBot, paths: AppPaths, tmp_path: Path) -> PreviewPane:
    Store.open(paths.database).close()
    tasks = TaskRunner(paths.database)
    pane = PreviewPane(tasks)
    pane.resize(700, 600)
    pane.show()
    qtbot.addWidget(pane)
    pdf = make_pdf(tmp_path / "boiler.pdf", PAGES)
    pane.show_target(PreviewTarget(str(pdf), 1, 0, 10, ("boiler",)))
    qtbot.waitUntil(lambda: pane.current_page == 1 and pane.settled, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: pane.next_match.isEnabled(), timeout=WAIT_MS)
    yield pane
    tasks.shutdown()


def settle(qtbot: QtBot, pane: PreviewPane) -> None:
    qtbot.waitUntil(lambda: pane.settled, timeout=WAIT_MS)


def test_page_buttons_move_through_the_document(qtbot: QtBot, pane: PreviewPane) -> None:
    assert pane.page_count == 3 and pane.page_label.text() == "1 / 3"
    assert not pane.prev_page.isEnabled() and pane.next_page.isEnabled()
    pane.next_page.click()
    qtbot.waitUntil(lambda: pane.current_page == 2, timeout=WAIT_MS)
    pane.next_page.click()
    qtbot.waitUntil(lambda: pane.current_page == 3, timeout=WAIT_MS)
    assert pane.page_label.text() == "3 / 3" and not pane.next_page.isEnabled()
    pane.prev_page.click()
    qtbot.waitUntil(lambda: pane.current_page == 2, timeout=WAIT_MS)


def test_zoom_buttons_change_the_rendered_size_and_fit_restores_it(
    qtbot: QtBot, pane: PreviewPane
) -> None:
    rendered = pane.pages.rendered
    assert rendered is not None
    fitted = rendered.width
    pane.zoom_in.click()
    qtbot.waitUntil(lambda: pane.pages.rendered.width > fitted * 1.1, timeout=WAIT_MS)
    pane.zoom_out.click()
    pane.zoom_out.click()
    qtbot.waitUntil(lambda: pane.pages.rendered.width < fitted * 0.95, timeout=WAIT_MS)
    assert pane.current_page == 1  # zoom keeps the page
    pane.fit.click()
    qtbot.waitUntil(lambda: abs(pane.pages.rendered.width - fitted) <= 4, timeout=WAIT_MS)


def test_next_match_skips_pages_without_the_words(qtbot: QtBot, pane: PreviewPane) -> None:
    # Page 1 holds one "boiler"; the next match is on page 3, not page 2.
    pane.next_match.click()
    settle(qtbot, pane)
    pane.next_match.click()
    qtbot.waitUntil(lambda: pane.current_page == 3, timeout=WAIT_MS)
    settle(qtbot, pane)
    pane.prev_match.click()
    qtbot.waitUntil(lambda: pane.current_page == 1, timeout=WAIT_MS)

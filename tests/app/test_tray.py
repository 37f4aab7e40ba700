"""The tray's quick search box and its pause/resume switch."""

from __future__ import annotations

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app import theme
from app.tray import Tray
from app.window import MainWindow
from tests.app.conftest import first_hit_names

WAIT_MS = 10_000


def test_quick_search_brings_up_the_window_with_the_results(
    qtbot: QtBot, indexed_window: MainWindow
) -> None:
    window = indexed_window
    window.showMinimized()
    window.popup_quick_search()
    box = window.quick_box
    assert box.isVisible()
    qtbot.keyClicks(box.box, "tomatoes")
    qtbot.keyClick(box.box, Qt.Key.Key_Return)

    assert not box.isVisible()
    assert window.query_box.text() == "tomatoes"
    assert not window.isMinimized()
    qtbot.waitUntil(
        lambda: first_hit_names(window) == ["garden.md"],
        timeout=WAIT_MS,
    )


def test_escape_puts_the_quick_search_away_without_searching(
    qtbot: QtBot, indexed_window: MainWindow
) -> None:
    window = indexed_window
    window.popup_quick_search()
    qtbot.keyClicks(window.quick_box.box, "compost")
    qtbot.keyClick(window.quick_box, Qt.Key.Key_Escape)
    assert not window.quick_box.isVisible()
    assert window.query_box.text() == ""


def test_the_tray_pauses_and_resumes_indexing(qtbot: QtBot, indexed_window: MainWindow) -> None:
    window = indexed_window
    asked: list[str] = []
    tray = Tray(theme.app_icon(), window.engine, lambda: asked.append("search"), lambda: None,
                window)  # fmt: skip
    tray.pause_action.trigger()
    assert window.engine.paused
    window.engine.set_paused(False)  # from the window's own control: the tray follows
    assert not tray.pause_action.isChecked()
    assert not window.engine.paused
    search = next(a for a in tray.contextMenu().actions() if a.text().startswith("Search"))
    search.trigger()
    assert asked == ["search"]

"""Colours and icons that follow the system palette.

Everything uses palette roles except the highlight, which has to look like a marker pen in
both light and dark mode: bright yellow behind dark text, deep amber behind light text.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QIcon, QPalette

from core.resources import resource

APP_ICON = resource("icons", "kenning.svg")
SAMPLE_DOCUMENTS = resource("samples", "documents")

# Pages are drawn on white whatever the theme, so their marks are always yellow; they are
# multiplied onto the page so the print stays crisp. The passage is a wash; the query's words
# are painted on top in a stronger amber so they stand out inside it.
PAGE_PASSAGE = QColor(255, 238, 140)
PAGE_WORD = QColor(255, 190, 50)


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def passage_highlight(palette: QPalette) -> QColor:
    """Behind the passage a hit or citation points at: a wash the words stand out from."""
    return QColor(84, 70, 24) if is_dark(palette) else QColor(255, 243, 176)


def word_highlight(palette: QPalette) -> QColor:
    """Behind query words, in snippets and previews."""
    return QColor(150, 108, 0) if is_dark(palette) else QColor(255, 212, 72)


def dim_text(palette: QPalette) -> QColor:
    """Secondary text (folders, dates): the text colour part-way to the background."""
    text = palette.color(QPalette.ColorRole.Text)
    base = palette.color(QPalette.ColorRole.Base)
    return QColor(
        (text.red() * 3 + base.red() * 2) // 5,
        (text.green() * 3 + base.green() * 2) // 5,
        (text.blue() * 3 + base.blue() * 2) // 5,
    )


def app_icon() -> QIcon:
    return QIcon(str(APP_ICON))

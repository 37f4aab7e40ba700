"""A text-like file (Markdown, plain text, HTML as its visible text, code) with the passage
washed in and the query's words marked, scrolled to the passage.

The text is exactly the page text that was indexed, so a hit's character offsets land on the
right words.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent
from PySide6.QtGui import QColor, QTextCursor
from PySide6.QtWidgets import QPlainTextEdit, QTextEdit, QWidget

from app import theme
from core.extract.render import TextPage


class TextView(QPlainTextEdit):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.matches: list[tuple[int, int]] = []
        self.span: tuple[int, int] | None = None
        self._match_index = -1

    def show_page(self, page: TextPage, span: tuple[int, int]) -> None:
        self.matches = page.matches
        self.span = span
        self._match_index = -1
        self.setPlainText(page.text)
        self._apply_marks()
        self._scroll_to(*span)

    def clear_page(self) -> None:
        self.matches, self.span = [], None
        self.clear()

    def step_match(self, step: int) -> None:
        """Select the next (+1) or previous (-1) query word, wrapping around."""
        if not self.matches:
            return
        self._match_index = (self._match_index + step) % len(self.matches)
        start, end = self.matches[self._match_index]
        cursor = QTextCursor(self.document())
        cursor.setPosition(start)
        cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
        self.setTextCursor(cursor)
        self.centerCursor()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and self.span is not None:
            self._apply_marks()  # light/dark switch: marks follow the new palette

    def _apply_marks(self) -> None:
        if self.span is None:
            return
        palette = self.palette()
        word, passage = theme.word_highlight(palette), theme.passage_highlight(palette)
        # Words after the passage, so they are painted over its wash.
        selections = [self._selection(*self.span, passage)]
        selections += [self._selection(s, e, word) for s, e in self.matches]
        self.setExtraSelections(selections)

    def _clamp(self, position: int) -> int:
        return max(0, min(position, self.document().characterCount() - 1))

    def _selection(self, start: int, end: int, color: QColor) -> QTextEdit.ExtraSelection:
        selection = QTextEdit.ExtraSelection()
        cursor = QTextCursor(self.document())
        cursor.setPosition(self._clamp(start))
        cursor.setPosition(self._clamp(end), QTextCursor.MoveMode.KeepAnchor)
        selection.cursor = cursor
        selection.format.setBackground(color)
        return selection

    def _scroll_to(self, start: int, end: int) -> None:
        # Show the end first, then the start centred: the whole passage is in view when it fits.
        cursor = QTextCursor(self.document())
        cursor.setPosition(self._clamp(end))
        self.setTextCursor(cursor)
        self.ensureCursorVisible()
        cursor.setPosition(self._clamp(start))
        self.setTextCursor(cursor)
        self.centerCursor()

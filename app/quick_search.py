"""The tray's quick search: a small box that floats above other windows. Enter brings up the
main window with the results; Escape (or clicking elsewhere) puts it away.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication, QKeyEvent
from PySide6.QtWidgets import QLabel, QLineEdit, QVBoxLayout, QWidget

WIDTH = 520


class QuickSearch(QWidget):
    #: The words typed, when the user pressed Enter.
    submitted = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(
            parent,
            Qt.WindowType.Tool
            | Qt.WindowType.FramelessWindowHint
            | Qt.WindowType.WindowStaysOnTopHint,
        )
        self.setWindowTitle("Kenning quick search")
        self.box = QLineEdit()
        self.box.setPlaceholderText("Search your files…")
        self.box.setClearButtonEnabled(True)
        font = self.box.font()
        font.setPointSizeF(font.pointSizeF() * 1.3)
        self.box.setFont(font)
        self.box.returnPressed.connect(self._submit)
        hint = QLabel("Enter shows the results · Esc closes")
        hint.setEnabled(False)  # the palette's dim text colour, light or dark
        layout = QVBoxLayout(self)
        layout.addWidget(self.box)
        layout.addWidget(hint)
        self.setFixedWidth(WIDTH)

    def popup(self) -> None:
        """Show near the top of the screen with the cursor, the previous words selected."""
        screen = QGuiApplication.screenAt(self.cursor().pos()) or QGuiApplication.primaryScreen()
        area = screen.availableGeometry()
        self.adjustSize()
        self.move(area.center().x() - self.width() // 2, area.top() + area.height() // 4)
        self.show()
        self.raise_()
        self.activateWindow()
        self.box.setFocus()
        self.box.selectAll()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Escape:
            self.hide()
            return
        super().keyPressEvent(event)

    def _submit(self) -> None:
        text = self.box.text().strip()
        if text:
            self.hide()
            self.submitted.emit(text)

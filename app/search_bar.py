"""The query box and the filters beside the results.

Typing emits ``query_changed`` after a short pause (search as you type without a search per
keystroke). Down moves into the results, Enter opens the first or current result, Ctrl+Enter
asks the text as a question. The filters add ``dir:``, ``ext:`` and ``after:`` to the query.
"""

from __future__ import annotations

from PySide6.QtCore import QDate, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QWidget

DEBOUNCE_MS = 150

FILE_TYPES = [
    ("Any type", ""),
    ("PDF", "ext:pdf"),
    ("Word", "ext:docx"),
    ("E-books", "ext:epub"),
    ("Markdown", "ext:md ext:markdown"),
    ("Text", "ext:txt"),
    ("Web pages", "ext:html ext:htm"),
]
PERIODS = [("Any time", 0), ("Past week", 7), ("Past month", 31), ("Past year", 365)]


class QueryBox(QLineEdit):
    query_changed = Signal(str)
    move_down = Signal()
    open_current = Signal()
    ask = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPlaceholderText("Search your files — or ask a question with Ctrl+Enter")
        self.setClearButtonEnabled(True)
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(self._emit_query)
        self.textEdited.connect(lambda _: self._debounce.start())
        # The clear button changes the text without textEdited.
        self.textChanged.connect(lambda text: None if text else self._debounce.start())

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key, mods = event.key(), event.modifiers()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if mods & Qt.KeyboardModifier.ControlModifier:
                if self.text().strip():
                    self.ask.emit(self.text().strip())
            else:
                self.flush()
                self.open_current.emit()
            return
        if key == Qt.Key.Key_Down:
            self.flush()
            self.move_down.emit()
            return
        if key == Qt.Key.Key_Escape and self.text():
            self.clear()
            return
        super().keyPressEvent(event)

    def flush(self) -> None:
        """Send a pending debounced query now."""
        if self._debounce.isActive():
            self._debounce.stop()
            self._emit_query()

    def _emit_query(self) -> None:
        self.query_changed.emit(self.text())


class FiltersBar(QWidget):
    """Folder, file type and date filters as compact combo boxes; ``changed`` on any change."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.folder = self._combo("Only results from this folder")
        self.folder.addItem("All folders", "")
        self._folders: list[str] = []
        self._pinned = ""
        self.file_type = self._combo("Only this kind of file")
        for label, filter_text in FILE_TYPES:
            self.file_type.addItem(label, filter_text)
        self.period = self._combo("Only files changed in this period")
        for label, days in PERIODS:
            self.period.addItem(label, days)
        self.summary = QLabel()
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        for widget in (self.folder, self.file_type, self.period):
            layout.addWidget(widget)
        layout.addSpacing(8)
        layout.addWidget(self.summary)
        layout.addStretch(1)

    def _combo(self, tip: str) -> QComboBox:
        combo = QComboBox(self)
        combo.setToolTip(tip)
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        combo.currentIndexChanged.connect(lambda _: self.changed.emit())
        return combo

    def set_folders(self, folders: list[str]) -> None:
        chosen = self.folder.currentData()
        self._folders = list(folders)
        self.folder.blockSignals(True)
        self.folder.clear()
        self.folder.addItem("All folders", "")
        # A folder asked about from the file manager may sit inside an indexed one.
        extra = [self._pinned] if self._pinned and self._pinned not in folders else []
        for path in [*folders, *extra]:
            self.folder.addItem(_short_folder_name(path), path)
            self.folder.setItemData(self.folder.count() - 1, path, Qt.ItemDataRole.ToolTipRole)
        index = self.folder.findData(chosen)
        self.folder.setCurrentIndex(max(index, 0))
        self.folder.blockSignals(False)
        if index < 0 and chosen:
            self.changed.emit()  # the chosen folder is gone: the filter no longer applies

    def set_scope(self, folder: str) -> None:
        """Limit results (and answers) to ``folder``, listing it if it is not there yet."""
        self._pinned = folder
        self.set_folders(self._folders)
        self.folder.setCurrentIndex(self.folder.findData(folder))  # emits changed

    @property
    def scope(self) -> str | None:
        """The chosen folder, for scoping answers."""
        return str(self.folder.currentData()) or None

    def query_suffix(self) -> str:
        """Filter syntax to append to the user's words."""
        parts: list[str] = []
        if self.scope:
            parts.append('dir:"' + self.scope.replace('"', "") + '"')
        if self.file_type.currentData():
            parts.append(str(self.file_type.currentData()))
        days = int(self.period.currentData() or 0)
        if days:
            since = QDate.currentDate().addDays(-days)
            parts.append("after:" + since.toString("yyyy-MM-dd"))
        return " ".join(parts)


def _short_folder_name(path: str) -> str:
    name = path.rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1]
    return name or path

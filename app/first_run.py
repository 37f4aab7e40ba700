"""The first thing a new user sees: what Kenning does, and two ways to start."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QStandardPaths, Qt, Signal
from PySide6.QtWidgets import QFileDialog, QLabel, QPushButton, QVBoxLayout, QWidget

from app import theme

COLUMN_WIDTH = 480
COLUMN_MARGINS = 24  # the column layout's left and right margins, with room to spare


def documents_folder() -> Path | None:
    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    path = Path(location) if location else None
    return path if path is not None and path.is_dir() else None


class WelcomePanel(QWidget):
    folder_chosen = Signal(object)  # Path

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        title = QLabel("<h2>Search your own files by meaning</h2>")
        intro = QLabel(
            "Kenning reads the folders you choose and finds passages by their words and their "
            "meaning. Ask a question and it answers from your files, with numbered sources "
            "that open at the exact page."
        )
        private = QLabel("Everything stays on this computer: nothing is uploaded.")
        for label in (intro, private):
            label.setWordWrap(True)
            # A wrapped label guesses its height for a width it does not have; give it the
            # height its text needs in the column.
            label.setMinimumHeight(label.heightForWidth(COLUMN_WIDTH - COLUMN_MARGINS))
        self.documents = documents_folder()
        self.add_documents = QPushButton(
            f"Add my Documents folder ({self.documents})" if self.documents else ""
        )
        self.add_documents.setVisible(self.documents is not None)
        self.add_documents.clicked.connect(lambda: self.folder_chosen.emit(self.documents))
        self.add_other = QPushButton("Add a folder…")
        self.add_other.clicked.connect(self.choose_folder)
        self.samples = QPushButton("Try the sample documents")
        self.samples.setToolTip("A tenancy agreement, a boiler report, notes, a recipe…")
        self.samples.setVisible(theme.SAMPLE_DOCUMENTS.is_dir())
        self.samples.clicked.connect(lambda: self.folder_chosen.emit(theme.SAMPLE_DOCUMENTS))
        self.add_other.setDefault(self.documents is None)

        # A fixed-width column: a word-wrapped label inside a centring layout otherwise
        # shrinks to a narrow strip and cuts its last lines off.
        column = QWidget()
        column.setFixedWidth(COLUMN_WIDTH)
        inner = QVBoxLayout(column)
        inner.addWidget(title)
        inner.addWidget(intro)
        inner.addSpacing(6)
        inner.addWidget(private)
        inner.addSpacing(16)
        for button in (self.add_documents, self.add_other, self.samples):
            inner.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(column, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)

    def choose_folder(self) -> None:
        start = str(self.documents or Path.home())
        chosen = QFileDialog.getExistingDirectory(self, "Choose a folder to search", start)
        if chosen:
            self.folder_chosen.emit(Path(chosen))

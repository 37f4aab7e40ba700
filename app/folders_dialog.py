"""Folders: which ones are searched, what is left out, and which files could not be read."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app import jobs
from app.engine import Engine
from app.tasks import TaskRunner
from core.extract.ocr import INSTALL_HELP

REFRESH_MS = 1000


class FoldersDialog(QDialog):
    def __init__(self, engine: Engine, tasks: TaskRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Folders")
        self.resize(720, 560)
        self.engine = engine
        self.tasks = tasks
        self.overview: jobs.IndexOverview | None = None

        self.folders = QListWidget()
        self.folders.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        add = QPushButton("Add a folder…")
        add.clicked.connect(self.choose_folder)
        self.remove = QPushButton("Remove")
        self.remove.setToolTip("Stop searching this folder (your files are not touched)")
        self.remove.clicked.connect(self.remove_selected)
        self.folders.itemSelectionChanged.connect(self._show_selected)
        self.remove.setEnabled(False)
        self.ocr = QCheckBox("Read scanned pages (OCR)")
        self.ocr.setToolTip(
            "Read the text of scanned PDF pages and of pictures (.png, .jpg, .tiff…) in this "
            "folder with Tesseract OCR. It takes a few seconds a page; pages that have text "
            "keep their own."
        )
        self.ocr.setEnabled(False)
        self.ocr.clicked.connect(self.set_ocr)
        self.ocr_note = QLabel()
        self.ocr_note.setWordWrap(True)
        self.ocr_note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.ocr_note.hide()
        folder_buttons = QHBoxLayout()
        folder_buttons.addWidget(add)
        folder_buttons.addWidget(self.remove)
        folder_buttons.addWidget(self.ocr)
        folder_buttons.addStretch(1)
        folder_box = QGroupBox("Searched folders")
        box = QVBoxLayout(folder_box)
        box.addWidget(self.folders)
        box.addLayout(folder_buttons)
        box.addWidget(self.ocr_note)

        settings = engine.settings
        self.patterns = QPlainTextEdit("\n".join(settings.exclude_patterns))
        self.patterns.setPlaceholderText("One pattern per line, e.g.  *.log  or  drafts/")
        self.patterns.setMaximumHeight(90)
        self.gitignore = QCheckBox("Also leave out what .gitignore files in these folders list")
        self.gitignore.setChecked(settings.use_gitignore)
        exclude_box = QGroupBox("Leave out")
        box = QVBoxLayout(exclude_box)
        box.addWidget(self.patterns)
        box.addWidget(self.gitignore)

        self.failures = QTreeWidget()
        self.failures.setHeaderLabels(["File", "Why it was skipped"])
        self.failures.setRootIsDecorated(False)
        self.failures.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.failures.header().resizeSection(0, 280)
        self.failures.itemDoubleClicked.connect(lambda item, _: self._reveal(item))
        self.failures_note = QLabel()
        self.failures_note.setWordWrap(True)
        self.retry = QPushButton("Retry")
        self.retry.setToolTip("Try the failed files again (after fixing or replacing them)")
        self.retry.clicked.connect(self.retry_failed)
        failures_box = QGroupBox("Files that could not be read")
        box = QVBoxLayout(failures_box)
        box.addWidget(self.failures_note)
        box.addWidget(self.failures, 1)
        box.addWidget(self.retry)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(folder_box, 1)
        layout.addWidget(exclude_box)
        layout.addWidget(failures_box, 2)
        layout.addWidget(buttons)

        self._refresh_timer = QTimer(self, interval=REFRESH_MS, singleShot=True)
        self._refresh_timer.timeout.connect(self.refresh)
        engine.progress.connect(lambda _: self._schedule_refresh())
        engine.indexing_idle.connect(self._schedule_refresh)
        self.refresh()

    # -- data ------------------------------------------------------------------------------

    def refresh(self) -> None:
        if not self.engine.database_ready:
            self._schedule_refresh()
            return
        self.tasks.run(
            partial(jobs.index_overview, with_failures=True),
            success=self.show_overview,
            lane="folders-dialog",
        )

    def _schedule_refresh(self) -> None:
        if self.isVisible() and not self._refresh_timer.isActive():
            self._refresh_timer.start()

    def show_overview(self, overview: jobs.IndexOverview) -> None:
        self.overview = overview
        selected = [i.text() for i in self.folders.selectedItems()] or [""]
        self.folders.clear()
        self.folders.addItems(overview.folders)
        for match in self.folders.findItems(selected[0], Qt.MatchFlag.MatchExactly)[:1]:
            match.setSelected(True)
        self._show_selected()
        self.failures.clear()
        for path, state, reason in overview.failures:
            item = QTreeWidgetItem([Path(path).name, reason or state])
            item.setToolTip(0, path)
            item.setToolTip(1, reason)
            item.setData(0, Qt.ItemDataRole.UserRole, path)
            self.failures.addTopLevelItem(item)
        failed = overview.counts.get("failed", 0)
        self.retry.setEnabled(failed > 0)
        if overview.failures:
            note = (
                "These files were skipped; everything else is searchable. Fix or replace a "
                "file, then press Retry. Double-click a file to see it in its folder."
            )
        else:
            note = "Every file could be read."
        if overview.left_out:
            # Files Kenning does not take in at all are counts, not rows: a folder may hold
            # thousands of pictures.
            note += "\nNot read: " + "; ".join(overview.left_out) + "."
        if overview.scans:
            note += "\nScanned pages: " + "; ".join(overview.scans) + "."
        self.failures_note.setText(note)

    def _selected_folder(self) -> str | None:
        items = self.folders.selectedItems()
        return items[0].text() if items else None

    def _show_selected(self) -> None:
        """The buttons and the OCR box follow the selected folder."""
        folder = self._selected_folder()
        self.remove.setEnabled(folder is not None)
        self.ocr.setEnabled(folder is not None)
        overview = self.overview
        on = folder is not None and overview is not None and folder in overview.ocr_folders
        self.ocr.setChecked(on)
        problem = overview.ocr_problem if overview is not None else None
        self.ocr_note.setVisible(on and problem is not None)
        if on and problem is not None:
            self.ocr_note.setText(f"Scanned pages in this folder are counted but not read: "
                                  f"{problem}. {INSTALL_HELP}")

    # -- actions ---------------------------------------------------------------------------

    def set_ocr(self, on: bool) -> None:
        folder = self._selected_folder()
        if folder is None:
            return
        self.engine.set_folder_ocr(Path(folder), on)
        if self.overview is not None:  # shown at once; the next overview confirms it
            changed = (self.overview.ocr_folders | {folder} if on
                       else self.overview.ocr_folders - {folder})
            self.overview = replace(self.overview, ocr_folders=changed)
        self._show_selected()
        self._schedule_refresh()

    def choose_folder(self) -> None:
        chosen = QFileDialog.getExistingDirectory(
            self, "Choose a folder to search", str(Path.home())
        )
        if chosen:
            self.engine.add_folder(Path(chosen))
            self._schedule_refresh()

    def remove_selected(self) -> None:
        for item in self.folders.selectedItems():
            self.engine.remove_folder(Path(item.text()))
        self._schedule_refresh()

    def retry_failed(self) -> None:
        self.engine.retry_failed()
        self.retry.setEnabled(False)
        self._schedule_refresh()

    def _reveal(self, item: QTreeWidgetItem) -> None:
        path = item.data(0, Qt.ItemDataRole.UserRole)
        if path:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(str(path)).parent)))

    def done(self, result: int) -> None:
        """Closing saves the exclude settings when they changed (indexing then restarts)."""
        patterns = [p.strip() for p in self.patterns.toPlainText().splitlines() if p.strip()]
        changed = replace(
            self.engine.settings,
            exclude_patterns=patterns,
            use_gitignore=self.gitignore.isChecked(),
        )
        if changed != self.engine.settings:
            self.engine.update_settings(changed)
        super().done(result)

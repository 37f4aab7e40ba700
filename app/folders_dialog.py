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
        self.folders.itemSelectionChanged.connect(
            lambda: self.remove.setEnabled(bool(self.folders.selectedItems()))
        )
        self.remove.setEnabled(False)
        folder_buttons = QHBoxLayout()
        folder_buttons.addWidget(add)
        folder_buttons.addWidget(self.remove)
        folder_buttons.addStretch(1)
        folder_box = QGroupBox("Searched folders")
        box = QVBoxLayout(folder_box)
        box.addWidget(self.folders)
        box.addLayout(folder_buttons)

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
        self.failures_note.setText(note)

    # -- actions ---------------------------------------------------------------------------

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

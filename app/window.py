"""The main window: query box on top, results (and answers) on the left, preview on the right,
indexing status at the bottom. It wires the parts together; each part lives in its own module.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QItemSelectionModel, QModelIndex, QSettings, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QMainWindow,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app import jobs, theme
from app.answer_view import AnswerPanel
from app.engine import Engine
from app.first_run import WelcomePanel
from app.folders_dialog import FoldersDialog
from app.preview import PreviewPane, PreviewTarget
from app.quick_search import QuickSearch
from app.results import ResultsModel, ResultsView
from app.search_bar import FiltersBar, QueryBox
from app.search_controller import SearchController
from app.settings_dialog import SettingsDialog
from app.status import NoticeBar, StatusArea
from app.tasks import TaskRunner
from app.tray import Tray, create_tray
from core.search.retrieval import SearchResult

OVERVIEW_MS = 2000  # how often counts refresh while indexing runs


class MainWindow(QMainWindow):
    def __init__(self, engine: Engine, tasks: TaskRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self.engine = engine
        self.tasks = tasks
        self.overview: jobs.IndexOverview | None = None
        self.setWindowTitle("Kenning")
        self.setWindowIcon(theme.app_icon())
        self._layout_store = QSettings(
            str(engine.services.paths.config_dir / "window.ini"), QSettings.Format.IniFormat
        )

        # -- top: the query ----------------------------------------------------------------
        self.query_box = QueryBox()
        ask = QPushButton("Ask")
        ask.setToolTip("Ask your words as a question (Ctrl+Enter)")
        ask.clicked.connect(self.ask_query)
        folders = QPushButton("Folders…")
        folders.clicked.connect(self.open_folders)
        settings = QPushButton("Settings…")
        settings.clicked.connect(self.open_settings)
        top = QHBoxLayout()
        top.addWidget(self.query_box, 1)
        for button in (ask, folders, settings):
            top.addWidget(button)

        # -- left: results and answers -------------------------------------------------------
        self.filters = FiltersBar()
        self.results_model = ResultsModel(self)
        self.results_view = ResultsView()
        self.results_view.setModel(self.results_model)
        self.answer_panel = AnswerPanel(tasks, engine, lambda: self.filters.scope)
        self.answer_panel.hide()
        results_area = QWidget()
        results_layout = QVBoxLayout(results_area)
        results_layout.setContentsMargins(0, 0, 0, 0)
        results_layout.addWidget(self.filters)
        results_layout.addWidget(self.results_view, 1)
        self.left_splitter = QSplitter(Qt.Orientation.Vertical)
        self.left_splitter.addWidget(self.answer_panel)
        self.left_splitter.addWidget(results_area)
        self.left_splitter.setChildrenCollapsible(False)
        self.welcome = WelcomePanel()
        self.left_stack = QStackedWidget()
        self.left_stack.addWidget(self.left_splitter)
        self.left_stack.addWidget(self.welcome)

        # -- right: preview; bottom: status ------------------------------------------------
        self.preview = PreviewPane(tasks)
        self.main_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.main_splitter.addWidget(self.left_stack)
        self.main_splitter.addWidget(self.preview)
        self.main_splitter.setStretchFactor(0, 2)
        self.main_splitter.setStretchFactor(1, 3)
        self.notice = NoticeBar()
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.addLayout(top)
        layout.addWidget(self.notice)
        layout.addWidget(self.main_splitter, 1)
        self.setCentralWidget(central)
        self.status_area = StatusArea(engine)
        self.statusBar().addPermanentWidget(self.status_area, 1)
        self.tray: Tray | None = None
        #: In the background service closing the window leaves Kenning running (the tray's
        #: Quit ends it); on its own, closing the window quits.
        self.keeps_running = False
        self._keep_preview = False
        self.quick_box = QuickSearch()
        self.quick_box.submitted.connect(self.search_for)
        self._overview_timer_running = False

        self.search = SearchController(
            tasks, engine, self.results_model, self.filters.query_suffix,
            lambda: self.answer_panel.busy, self,
        )  # fmt: skip
        self._wire()
        self._restore_layout()

    def _wire(self) -> None:
        self.query_box.query_changed.connect(self.search.set_text)
        self.query_box.move_down.connect(self.focus_results)
        self.query_box.open_current.connect(self.open_current_result)
        self.query_box.ask.connect(self.ask)
        self.filters.changed.connect(self.search.run)
        self.search.finished.connect(self._on_search_finished)
        self.search.failed.connect(self.show_notice)
        self.results_view.leave_top.connect(self.focus_query)
        self.results_view.activated_row.connect(lambda _: self.preview.setFocus())
        self.results_view.selectionModel().currentChanged.connect(self._on_current_changed)
        self.answer_panel.citation_clicked.connect(self.preview.show_target)
        self.answer_panel.busy_changed.connect(self._on_answer_busy)
        self.welcome.folder_chosen.connect(self.add_folder)
        self.status_area.problems_clicked.connect(self.open_folders)
        self.status_area.overview_wanted.connect(self.refresh_overview)
        self.engine.ready.connect(self._on_engine_ready)
        self.engine.folders_changed.connect(self.refresh_overview)
        self.engine.progress.connect(lambda _: self._refresh_overview_soon())
        self.engine.model_failed.connect(self.show_notice)
        self.engine.indexing_error.connect(self.show_notice)
        self.tasks.unhandled_error.connect(self.show_notice)
        for keys, slot in (
            ("Ctrl+Return", self.ask_query),
            ("Ctrl+Enter", self.ask_query),
            ("Ctrl+L", self.focus_query),
            ("Ctrl+F", self.focus_query),
        ):
            QShortcut(QKeySequence(keys), self, slot)

    def add_tray(self) -> None:
        self.tray = create_tray(
            theme.app_icon(), self.engine, self.popup_quick_search, QApplication.quit, self
        )

    def _on_engine_ready(self) -> None:
        for notice in self.engine.services.notices:
            self.show_notice(notice)
        self.refresh_overview()
        self.search.run()  # anything typed while the database was being opened

    # -- search ----------------------------------------------------------------------------

    def _on_search_finished(self, result: SearchResult | None) -> None:
        previous = self.preview.target
        if result is None:
            self.filters.summary.setText("")
            self._update_placeholder()
            return
        count = len(result.hits)
        summary = f"{count} result{'s' if count != 1 else ''}"
        if result.hits and not result.semantic_used:
            summary += " · by keyword"
        self.filters.summary.setText(summary)
        self.filters.summary.setToolTip("\n".join(result.warnings))
        self._update_placeholder()
        # Keep the file being previewed selected when indexing re-runs the query.
        row = self.results_model.row_of(previous.path) if previous else -1
        if row >= 0:
            self._keep_preview = True  # the row follows the preview, not the other way round
            try:
                self.results_view.selectionModel().setCurrentIndex(
                    self.results_model.index(row),
                    QItemSelectionModel.SelectionFlag.ClearAndSelect,
                )
            finally:
                self._keep_preview = False

    def _update_placeholder(self) -> None:
        if self.search.query and self.search.last is not None and not self.search.last.hits:
            text = (
                f"Nothing found for “{self.search.text.strip()}”. Try other words, fewer "
                "words, or a wider filter."
            )
            if self.engine.phase not in ("idle", ""):
                text += " Files are still being read; results may appear shortly."
        elif self.overview is not None and self.overview.searchable:
            n = self.overview.searchable
            text = f"Type to search {n:,} file{'s' if n != 1 else ''}."
        else:
            text = "Type to search. Files become searchable as soon as they are read."
        self.results_view.set_placeholder(text)

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        hit = self.results_model.hit(current.row())
        if hit is not None and not self._keep_preview:
            self.preview.show_target(PreviewTarget.from_hit(hit, self.search.query))

    def focus_results(self) -> None:
        if self.results_model.rowCount() == 0:
            return
        self.results_view.setFocus()
        if not self.results_view.currentIndex().isValid():
            self.results_view.setCurrentIndex(self.results_model.index(0))

    def open_current_result(self) -> None:
        if self.results_model.rowCount() == 0:
            return
        if not self.results_view.currentIndex().isValid():
            self.results_view.setCurrentIndex(self.results_model.index(0))
        else:
            self._on_current_changed(self.results_view.currentIndex(), QModelIndex())

    def focus_query(self) -> None:
        self.query_box.setFocus()
        self.query_box.selectAll()

    def quick_search(self) -> None:
        self.raise_window()
        self.focus_query()

    def popup_quick_search(self) -> None:
        self.quick_box.box.setText(self.query_box.text())
        self.quick_box.popup()

    def search_for(self, text: str) -> None:
        """Bring the window up with ``text`` in the query box and its results coming."""
        self.quick_search()
        self.query_box.setText(text)  # setText is not an edit: start the search here
        self.search.set_text(text)

    # -- asking ----------------------------------------------------------------------------

    def ask_query(self) -> None:
        self.ask(self.query_box.text())

    def ask(self, question: str) -> None:
        if not question.strip():
            self.answer_panel.show()
            self.answer_panel.question.setFocus()
            return
        self.answer_panel.show()
        self.answer_panel.ask(question)

    def _on_answer_busy(self, busy: bool) -> None:
        if not busy:
            self.search.run()  # the model is free again: let meaning-based hits back in

    # -- folders and overview ----------------------------------------------------------------

    def add_folder(self, path: object) -> None:
        assert isinstance(path, Path)
        self.engine.add_folder(path)
        self._show_welcome(False)
        self.results_view.set_placeholder(
            f"Reading {path.name}… Type to search; results appear as files are read."
        )
        self.focus_query()

    def ask_about_folder(self, path: Path) -> None:
        """"Ask Kenning about this folder": index it first, scope search and answers to it and
        put the cursor in the question box. Answers can start from the first files read."""
        folder = path.expanduser().resolve()
        self.engine.ask_about(folder)
        self._show_welcome(False)
        self.filters.set_scope(str(folder))
        self.raise_window()
        self.answer_panel.show()
        self.answer_panel.question.setPlaceholderText(f"Ask a question about {folder.name}…")
        self.answer_panel.question.setFocus()

    def handle_request(self, request: dict[str, object]) -> None:
        """A request from a later launch (``kenning`` or ``kenning ask-folder``)."""
        if request.get("action") == "ask-folder" and isinstance(request.get("path"), str):
            self.ask_about_folder(Path(str(request["path"])))
        else:
            self.raise_window()

    def raise_window(self) -> None:
        """Bring the window to the front, un-minimised (a maximised window stays maximised)."""
        state = self.windowState() & ~Qt.WindowState.WindowMinimized
        self.setWindowState(state | Qt.WindowState.WindowActive)
        self.show()
        self.raise_()
        self.activateWindow()

    def _show_welcome(self, welcome: bool) -> None:
        """First run: the welcome panel gets the whole width (there is nothing to preview)."""
        self.left_stack.setCurrentWidget(self.welcome if welcome else self.left_splitter)
        self.preview.setVisible(not welcome)

    def refresh_overview(self) -> None:
        if not self.engine.database_ready:
            return  # the engine's ready signal refreshes it
        self.tasks.run(jobs.index_overview, success=self._on_overview, lane="overview")

    def _refresh_overview_soon(self) -> None:
        if not self._overview_timer_running:
            self._overview_timer_running = True
            QTimer.singleShot(OVERVIEW_MS, self._overview_tick)

    def _overview_tick(self) -> None:
        self._overview_timer_running = False
        self.refresh_overview()

    def _on_overview(self, overview: jobs.IndexOverview) -> None:
        self.overview = overview
        self.filters.set_folders(overview.folders)
        self.status_area.set_overview(overview)
        if not overview.folders and not self.results_model.hits:
            self._show_welcome(True)
        elif overview.folders:
            self._show_welcome(False)
        self._update_placeholder()

    def open_folders(self) -> None:
        FoldersDialog(self.engine, self.tasks, self).exec()
        self.refresh_overview()

    def open_settings(self) -> None:
        SettingsDialog(self.engine, self.tasks, self).exec()

    def show_notice(self, message: str) -> None:
        self.notice.show_message(message)

    # -- layout memory ---------------------------------------------------------------------

    def _restore_layout(self) -> None:
        store = self._layout_store
        geometry = store.value("geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1200, 760)
        for key, splitter in (("main", self.main_splitter), ("left", self.left_splitter)):
            state = store.value(f"splitter/{key}")
            if isinstance(state, QByteArray) and not state.isEmpty():
                splitter.restoreState(state)

    def save_layout(self) -> None:
        store = self._layout_store
        store.setValue("geometry", self.saveGeometry())
        store.setValue("splitter/main", self.main_splitter.saveState())
        store.setValue("splitter/left", self.left_splitter.saveState())
        store.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_layout()
        self.quick_box.close()
        if self.tray is not None:
            if self.keeps_running:
                self.tray.say_still_running()
            else:
                self.tray.hide()
        super().closeEvent(event)

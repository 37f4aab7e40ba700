"""Search as you type: the query box and filters in, the results model out.

Each query runs as a task in the "search" lane, so only the latest one's hits are shown.
While indexing reports progress the current query is re-run now and then, so keyword hits
appear as files are read and meaning-based hits join as passages are embedded.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from PySide6.QtCore import QObject, QTimer, Signal

from app import jobs
from app.engine import Engine
from app.results import ResultsModel
from app.tasks import TaskRunner
from core.cancel import Progress
from core.search.retrieval import SearchResult

REQUERY_MS = 1500  # at most this often while indexing adds files


class SearchController(QObject):
    #: A search finished: the result, or None when the query was cleared.
    finished = Signal(object)
    failed = Signal(str)

    def __init__(
        self,
        tasks: TaskRunner,
        engine: Engine,
        model: ResultsModel,
        filters_suffix: Callable[[], str],
        answering: Callable[[], bool],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.engine = engine
        self.results = model
        self.filters_suffix = filters_suffix
        self.answering = answering
        self.text = ""
        self.last: SearchResult | None = None
        self.running = False
        self._requery = QTimer(self, singleShot=True, interval=REQUERY_MS)
        self._requery.timeout.connect(self.run)
        engine.progress.connect(self._on_index_progress)
        engine.indexing_idle.connect(self._on_index_idle)
        engine.model_ready.connect(self.run)

    @property
    def query(self) -> str:
        """The user's words plus the filters, as core's query syntax."""
        return " ".join(part for part in (self.text.strip(), self.filters_suffix()) if part)

    def set_text(self, text: str) -> None:
        self.text = text
        self.run()

    def run(self) -> None:
        query = self.query
        if not self.engine.database_ready:
            return  # the engine's ready signal runs the query then
        if not query:
            self.tasks.run(lambda ctx: None, lane="search")  # drops a search in flight
            self.last = None
            self.results.set_hits([])
            self.finished.emit(None)
            return
        # While an answer is being written the model is busy: keywords answer alone rather
        # than making every keystroke wait for the answer to finish.
        model = None if self.answering() else self.engine.interactive_model
        self.running = True
        self.tasks.run(
            partial(jobs.run_search, query=query, model=model),
            success=self._on_result,
            failure=self._on_failure,
            lane="search",
        )

    def _on_result(self, result: SearchResult) -> None:
        self.running = False
        self.last = result
        self.results.set_hits(result.hits)
        self.finished.emit(result)

    def _on_failure(self, error: BaseException) -> None:
        self.running = False
        self.failed.emit(f"Search failed: {error}. Try again in a moment.")

    def _on_index_progress(self, progress: Progress) -> None:
        if progress.phase in ("extract", "embed") and self.query and not self._requery.isActive():
            self._requery.start()

    def _on_index_idle(self) -> None:
        if self.query:
            self._requery.stop()
            self.run()

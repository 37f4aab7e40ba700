"""The engine's moving parts as the window sees them: the model (loaded in the background),
its worker thread, and the indexing service, with their news delivered as GUI-thread signals.

The window appears at once with keyword search; the model loads meanwhile. Once it is in,
the indexing service is restarted with a background client of the model worker so meaning-
based search fills in, and search and answers use the interactive client.

>>> engine = Engine(services, tasks)
>>> engine.start()
>>> engine.add_folder(Path("~/Documents").expanduser())
>>> engine.shutdown()   # at quit: stops indexing, background tasks, the model, the stores
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.tasks import TaskContext, TaskRunner
from core.cancel import Progress
from core.config import Settings
from core.index.service import IndexService
from core.models.interface import TextModel
from core.models.worker import ModelWorker, Priority
from core.search.handover import HANDOVER_NOTE, handover_complete
from core.services import ModelUnavailable, Services
from core.store.database import Store

log = logging.getLogger(__name__)


def load_model(ctx: TaskContext, services: Services) -> tuple[TextModel, TextModel]:
    """The model, and the one search uses (after a switch of model, until the new vectors
    have caught up, a view that searches the previous model's)."""
    model = services.model
    store = Store.open_reader(services.paths.database)
    try:
        return model, services.search_model(store)
    finally:
        store.close()


def handover_done(ctx: TaskContext, services: Services, model_id: str) -> bool:
    store = Store.open_reader(services.paths.database)
    try:
        return handover_complete(store, model_id)
    finally:
        store.close()


def prepare_database(ctx: TaskContext, services: Services) -> None:
    # The writer creates or migrates the schema (readers cannot) and moves a damaged file
    # aside, adding a notice. It checks the whole file (seconds for a big index) unless the
    # last writer closed it cleanly.
    services.open_store().close()


class Engine(QObject):
    #: The database exists and is migrated: readers may run, the notices are known.
    ready = Signal()
    model_ready = Signal()
    model_failed = Signal(str)
    #: Indexing progress (a core.cancel.Progress), on the GUI thread.
    progress = Signal(object)
    indexing_idle = Signal()
    indexing_error = Signal(str)
    paused_changed = Signal(bool)
    #: A folder was added or removed (the folder list changed).
    folders_changed = Signal()

    # Emitted on an indexing service's thread with that service's generation; queued to this
    # GUI-thread object, which drops news from services already swapped out.
    _service_progress = Signal(int, object)
    _service_idle = Signal(int, float)
    _service_error = Signal(int, str)

    def __init__(self, services: Services, tasks: TaskRunner, parent: QObject | None = None):
        super().__init__(parent)
        self.services = services
        self.tasks = tasks
        self.interactive_model: TextModel | None = None
        self.model_error: str | None = None
        self.model_loading = False
        self.database_ready = False
        self._worker: ModelWorker | None = None
        self._background_model: TextModel | None = None
        #: While set, search reads the previous model's vectors through this model.
        self._handover: TextModel | None = None
        self._generation = 0
        self._index = self._new_index_service()
        # Services swapped out; stopped again at shutdown in case their swap never ran.
        self._retired: list[IndexService] = []
        # Requests not yet known to be done, with when they were made. A service swapped out
        # may stop before taking its requests, so each new service gets them again (they are
        # idempotent). A service reports idle only after taking every request made before
        # that moment, so those are forgotten then.
        self._journal: list[tuple[float, Callable[[IndexService], None]]] = []
        self._started = False
        # Swapping services (on a worker thread) and shutting down must not interleave.
        self._lifecycle = threading.Lock()
        self._closing = False
        self._service_progress.connect(self._forward_progress)
        self._service_idle.connect(self._forward_idle)
        self._service_error.connect(self._forward_error)

    @property
    def settings(self) -> Settings:
        return self.services.settings

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, load_model_now: bool = True) -> None:
        """Prepare the database, then start indexing (keywords first) and load the model,
        all in the background. ``ready`` follows once the database can be read."""
        self.tasks.run(
            lambda ctx: prepare_database(ctx, self.services),
            success=lambda _: self._on_database_ready(load_model_now),
            failure=self._on_database_failed,
        )

    def _on_database_ready(self, load_model_now: bool) -> None:
        self.database_ready = True
        self._index.start()
        self._started = True
        if load_model_now:
            self.load_model()
        self.ready.emit()

    def _on_database_failed(self, error: BaseException) -> None:
        log.error("cannot open the database", exc_info=error)
        self.indexing_error.emit(
            f"Kenning cannot open its index at {self.services.paths.database}: {error}. Check "
            "that the folder exists and is writable, or move it aside and start again."
        )

    def load_model(self) -> None:
        self.model_loading = True
        self.tasks.run(
            lambda ctx: load_model(ctx, self.services),
            success=self._on_model_loaded,
            failure=self._on_model_failed,
        )

    def shutdown(self) -> None:
        """Stop everything in an order that cannot deadlock: background tasks may be waiting
        for the model, so they are cancelled and drained before the model thread stops."""
        self.tasks.cancel_all()
        with self._lifecycle:
            self._closing = True
        for service in [self._index, *self._retired]:
            service.stop()
        self.tasks.shutdown()
        if self._worker is not None:
            self._worker.stop()
            self._worker = None
        self.interactive_model = None
        self.services.close()

    # -- model -----------------------------------------------------------------------------

    def _on_model_loaded(self, loaded: object) -> None:
        assert isinstance(loaded, tuple)
        model, search_model = loaded
        self.model_loading = False
        self._worker = ModelWorker(model)
        self.interactive_model = self._worker.client(Priority.INTERACTIVE, search_model)
        self._background_model = self._worker.client(Priority.BACKGROUND)
        self._handover = search_model if search_model is not model else None
        self.restart_indexing()
        self.model_ready.emit()

    @property
    def in_handover(self) -> bool:
        return self._handover is not None

    def _check_handover(self) -> None:
        if self._handover is None or self._background_model is None:
            return
        model_id = self._background_model.model_id
        self.tasks.run(
            lambda ctx: handover_done(ctx, self.services, model_id),
            success=lambda done: self._finish_handover() if done else None,
        )

    def _finish_handover(self) -> None:
        """The new model's vectors have caught up: search them, and unload the previous model
        on its thread once the searches already queued for it are done."""
        retiring, worker = self._handover, self._worker
        if retiring is None or worker is None:
            return
        self._handover = None
        self.interactive_model = worker.client(Priority.INTERACTIVE)
        worker.submit(Priority.BACKGROUND, lambda _: retiring.close())
        log.info("the new model's vectors are complete; the previous model is unloaded")

    def _on_model_failed(self, error: BaseException) -> None:
        self.model_loading = False
        if isinstance(error, ModelUnavailable):
            self.model_error = str(error)
        else:
            log.exception("model failed to load", exc_info=error)
            self.model_error = (
                f"The model could not be loaded ({error}). Keyword search still works; choose "
                "another model file in Settings."
            )
        self.model_failed.emit(self.model_error)

    @property
    def model_description(self) -> str:
        """What is loaded, for the settings dialog."""
        model = self._background_model
        if model is None:
            if self.model_error:
                return self.model_error
            return "The model is still loading." if self.model_loading else "No model loaded."
        description = (
            f"{model.model_id} — profile “{model.profile.name}”, context {model.n_ctx:,} "
            f"tokens, {model.dim}-dimensional embeddings"
        )
        return f"{description}. {HANDOVER_NOTE}" if self.in_handover else description

    # -- indexing --------------------------------------------------------------------------

    def add_folder(self, path: Path) -> None:
        self._request(lambda service: service.add_folder(path))
        self.folders_changed.emit()

    def ask_about(self, path: Path) -> None:
        """Index ``path`` first (adding it if no indexed folder holds it)."""
        self._request(lambda service: service.ask_about(path))
        self.folders_changed.emit()

    def remove_folder(self, path: Path) -> None:
        self._request(lambda service: service.remove_folder(path))
        self.folders_changed.emit()

    def retry_failed(self) -> None:
        self._request(lambda service: service.retry_failed())

    def rescan(self) -> None:
        self._index.rescan()

    def _request(self, action: Callable[[IndexService], None]) -> None:
        action(self._index)
        # Stamped after the request is in: idle reported later than this includes it.
        self._journal.append((time.monotonic(), action))

    @property
    def paused(self) -> bool:
        return self._index.paused

    @property
    def phase(self) -> str:
        return self._index.phase

    def set_paused(self, paused: bool) -> None:
        if paused == self._index.paused:
            return
        if paused:
            self._index.pause()
        else:
            self._index.resume()
        self.paused_changed.emit(paused)

    def update_settings(self, settings: Settings) -> None:
        """Save new settings; indexing restarts so exclude patterns apply at once."""
        self.services.settings = replace(settings)
        path = self.services.paths.settings_file
        saved = replace(settings)
        self.tasks.run(lambda ctx: saved.save(path))
        self.restart_indexing()

    def _new_index_service(self) -> IndexService:
        generation = self._generation = self._generation + 1
        return IndexService(
            self.services.paths.database,
            self._background_model,
            self.services.settings,
            on_progress=lambda progress: self._service_progress.emit(generation, progress),
            on_idle=lambda: self._service_idle.emit(generation, time.monotonic()),
            on_error=lambda message: self._service_error.emit(generation, message),
        )

    def restart_indexing(self) -> None:
        """Swap in a service built with the current model and settings. Requests made from
        now on go to the new service, which picks them up when it starts."""
        old, new = self._index, self._new_index_service()
        if old.paused:
            new.pause()
        for _, action in self._journal:
            action(new)
        self._index = new
        self._retired.append(old)
        if self._started:
            self.tasks.run(lambda ctx: self._stop_then_start(old, new))

    def _stop_then_start(self, old: IndexService, new: IndexService) -> None:
        """On a worker thread. Two writers must never run at once: the old service finishes
        its current file first."""
        old.stop()
        with self._lifecycle:
            if not self._closing:
                new.start()

    def _forward_progress(self, generation: int, progress: Progress) -> None:
        if generation == self._generation:
            self.progress.emit(progress)

    def _forward_idle(self, generation: int, at: float) -> None:
        if generation == self._generation:
            self._journal = [(made, action) for made, action in self._journal if made > at]
            self._check_handover()
            self.indexing_idle.emit()

    def _forward_error(self, generation: int, message: str) -> None:
        if generation == self._generation:
            self.indexing_error.emit(message)

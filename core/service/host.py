"""The engine of one running Kenning: the model (loaded in the background), its worker thread
and the indexing service, shared by the window and by every client of the background service.

The engine is useful at once with keyword search; the model loads meanwhile. Once it is in,
the indexing service is restarted with a background client of the model worker so meaning-
based search fills in, and search and answers use the interactive client. News reaches the
owner through ``HostEvents`` callbacks, called on the engine's own threads.

>>> host = EngineHost(services, HostEvents(on_progress=print))
>>> host.start()
>>> host.add_folder(Path("~/Documents").expanduser())
>>> host.shutdown()   # stops indexing, the model thread, the stores
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from core.cancel import Progress
from core.config import Settings
from core.index.pacing import Pacer
from core.index.service import IndexService, WatcherFactory
from core.index.watcher import Watcher
from core.models.interface import TextModel
from core.models.worker import ModelWorker, Priority
from core.search.handover import HANDOVER_NOTE, handover_complete
from core.services import ModelUnavailable, Services
from core.store.database import Store

log = logging.getLogger(__name__)


def _ignore(*_: object) -> None:
    return None


@dataclass
class HostEvents:
    """What the engine's owner hears about. Each is called on one of the engine's threads."""

    #: The database exists and is migrated: readers may run, the notices are known.
    on_ready: Callable[[], None] = _ignore
    on_database_failed: Callable[[str], None] = _ignore
    on_model_ready: Callable[[], None] = _ignore
    on_model_failed: Callable[[str], None] = _ignore
    on_progress: Callable[[Progress], None] = _ignore
    on_idle: Callable[[], None] = _ignore
    on_error: Callable[[str], None] = _ignore


class _Broadcast:
    """Calls every listener's callback of the same name; a failing listener is logged, and
    the others and the engine go on."""

    def __init__(self, listeners: list[HostEvents]) -> None:
        self._listeners = listeners

    def __getattr__(self, name: str) -> Callable[..., None]:
        def call(*args: object) -> None:
            for listener in list(self._listeners):
                try:
                    getattr(listener, name)(*args)
                except Exception:
                    log.exception("a listener failed on %s", name)

        return call


#: Loading the model waits this long for the database to be created or checked (seconds
#: for a big index that was not closed cleanly).
DATABASE_WAIT_S = 120.0


class EngineHost:
    def __init__(
        self,
        services: Services,
        events: HostEvents | None = None,
        *,
        watcher_factory: WatcherFactory | None = Watcher,
        pacer: Pacer | None = None,
    ) -> None:
        self.services = services
        self._listeners: list[HostEvents] = [events] if events is not None else []
        self.events = _Broadcast(self._listeners)
        self.watcher_factory = watcher_factory
        #: Rests between batches of indexing work on battery power (shared by every index
        #: service this host swaps in).
        self.pacer = pacer or Pacer()
        self.interactive_model: TextModel | None = None
        self.model_error: str | None = None
        self.model_loading = False
        self.database_ready = False
        #: Why the database could not be opened, when it could not.
        self.database_error: str | None = None
        self._worker: ModelWorker | None = None
        self._background_model: TextModel | None = None
        #: While set, search reads the previous model's vectors through this model.
        self._handover: TextModel | None = None
        # Guards the service swap, the journal and the readiness marks below.
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
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
        self._closing = False
        self._model_after_words = False
        self._threads: list[threading.Thread] = []
        #: When the latest pass that read every waiting file (and, for the second, embedded
        #: every passage) started: work asked for before that moment is done.
        self.words_ready_since = 0.0
        self.embedded_since = 0.0
        self.last_progress: Progress | None = None
        #: Passages embedded a second in the current embedding phase (None until known).
        self.embed_rate: float | None = None
        self._embed_started: tuple[float, int] | None = None

    @property
    def settings(self) -> Settings:
        return self.services.settings

    def listen(self, events: HostEvents) -> None:
        self._listeners.append(events)

    def unlisten(self, events: HostEvents) -> None:
        if events in self._listeners:
            self._listeners.remove(events)

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, load_model_now: bool = True, model_after_words: bool = False) -> None:
        """Prepare the database, then start indexing (keywords first) and load the model,
        all in the background. ``on_ready`` follows once the database can be read. With
        ``model_after_words`` (and not ``load_model_now``) the model loads once every waiting
        file is searchable by its words, or when a request needs it first
        (``ensure_model``): reading files gets the cores first, and is not restarted
        when the model arrives."""
        self._model_after_words = model_after_words and not load_model_now
        self._in_background(lambda: self._prepare(load_model_now), "kenning-start")

    def _prepare(self, load_model_now: bool) -> None:
        try:
            # The writer creates or migrates the schema (readers cannot) and moves a damaged
            # file aside, adding a notice. It checks the whole file (seconds for a big index)
            # unless the last writer closed it cleanly.
            self.services.open_store().close()
        except Exception as exc:
            log.error("cannot open the database", exc_info=exc)
            problem = (
                f"Kenning cannot open its index at {self.services.paths.database}: {exc}. "
                "Check that the folder exists and is writable, or move it aside and start again."
            )
            with self._lock:
                self.database_error = problem
                self._changed.notify_all()
            self.events.on_database_failed(problem)
            return
        with self._lock:
            if self._closing:
                return
            self.database_ready = True
            self._changed.notify_all()
            self._index.start()
            self._started = True
        if load_model_now:
            self.load_model()
        self.events.on_ready()

    def wait_for_database(self, timeout: float) -> bool:
        """Wait until the database can be read (the schema exists): True when it can, False
        when it failed to open (``database_error`` says why) or ``timeout`` ran out."""
        with self._changed:
            self._changed.wait_for(
                lambda: self.database_ready or self.database_error is not None or self._closing,
                timeout)
            return self.database_ready

    def load_model(self) -> None:
        with self._lock:
            self.model_loading = True
        self._in_background(self._load_model, "kenning-model-load")

    def wait_for_model(self, timeout: float) -> bool:
        """Start loading the model if nobody has, and wait until it is loaded (True), failed
        or ``timeout`` ran out (False). Waiting on the condition, not polling ``model_state``,
        so a load that finishes between two looks is never taken for "not loading"."""
        self.ensure_model()
        with self._changed:
            self._changed.wait_for(
                lambda: self._background_model is not None or not self.model_loading
                or self._closing,
                timeout)
            return self._background_model is not None

    def ensure_model(self) -> None:
        """Start loading the model unless it is loaded, loading or failed."""
        with self._lock:
            if (self._closing or self.model_loading or self.model_error is not None
                    or self._background_model is not None):
                return
            self.model_loading = True
        self._in_background(self._load_model, "kenning-model-load")

    def shutdown(self) -> None:
        """Stop everything in an order that cannot deadlock: the services stop first (they
        may be waiting for the model), then the model thread, then the model itself."""
        with self._lock:
            self._closing = True
            self._changed.notify_all()
            services = [self._index, *self._retired]
        for service in services:
            service.stop()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(30)
        if self._worker is not None:
            self._worker.stop()
            self._worker = None
        self.interactive_model = None
        self.services.close()

    def _in_background(self, work: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=work, name=name, daemon=True)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    # -- model -----------------------------------------------------------------------------

    def _load_model(self) -> None:
        # A request may ask for the model before the schema exists; the model's view of the
        # index (``search_model``) reads it.
        if not self.wait_for_database(DATABASE_WAIT_S):
            with self._lock:
                self.model_loading = False
                self._changed.notify_all()
            return
        try:
            model = self.services.model
            store = Store.open_reader(self.services.paths.database)
            try:
                # After a switch of model, until the new vectors have caught up, search reads
                # the previous model's through a view of it.
                search_model = self.services.search_model(store)
            finally:
                store.close()
        except Exception as exc:
            self._model_failed(exc)
            return
        with self._lock:
            if self._closing:
                return
            self._worker = ModelWorker(model)
            self.interactive_model = self._worker.client(Priority.INTERACTIVE, search_model)
            self._background_model = self._worker.client(Priority.BACKGROUND)
            self._handover = search_model if search_model is not model else None
            # Last, so that ``model_state``, read without the lock, never sees "none" between.
            self.model_loading = False
            self._changed.notify_all()
        self.restart_indexing()
        self.events.on_model_ready()

    def _model_failed(self, error: BaseException) -> None:
        if isinstance(error, ModelUnavailable):
            message = str(error)
        else:
            log.error("model failed to load", exc_info=error)
            message = (
                f"The model could not be loaded ({error}). Keyword search still works; choose "
                "another model file in Settings."
            )
        with self._lock:
            self.model_loading = False
            self.model_error = message
            self._changed.notify_all()
        self.events.on_model_failed(message)

    @property
    def in_handover(self) -> bool:
        return self._handover is not None

    def _check_handover(self) -> None:
        if self._handover is None or self._background_model is None:
            return
        model_id = self._background_model.model_id

        def check() -> None:
            store = Store.open_reader(self.services.paths.database)
            try:
                done = handover_complete(store, model_id)
            finally:
                store.close()
            if done:
                self._finish_handover()

        self._in_background(check, "kenning-handover")

    def _finish_handover(self) -> None:
        """The new model's vectors have caught up: search them, and unload the previous model
        on its thread once the searches already queued for it are done."""
        with self._lock:
            retiring, worker = self._handover, self._worker
            if retiring is None or worker is None:
                return
            self._handover = None
            self.interactive_model = worker.client(Priority.INTERACTIVE)
        worker.submit(Priority.BACKGROUND, lambda _: retiring.close())
        log.info("the new model's vectors are complete; the previous model is unloaded")

    @property
    def model_state(self) -> str:
        """"ready", "loading", "failed" or "none" (not asked to load)."""
        if self._background_model is not None:
            return "ready"
        if self.model_error:
            return "failed"
        return "loading" if self.model_loading else "none"

    @property
    def embedding_model_id(self) -> str | None:
        model = self._background_model
        return model.model_id if model is not None else None

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

    def add_folder(self, path: Path, ocr: bool | None = None) -> float:
        """Index ``path`` (``ocr``: reading its scanned pages by OCR, or not; None: as it
        was); returns when the request was made (see ``wait_until``)."""
        return self._request(lambda service: service.add_folder(path, ocr=ocr))

    def set_folder_ocr(self, path: Path, on: bool) -> float:
        """Read an indexed folder's scanned pages and pictures by OCR, or stop."""
        return self._request(lambda service: service.set_folder_ocr(path, on))

    def ask_about(self, path: Path) -> float:
        """Index ``path`` first (adding it if no indexed folder holds it)."""
        return self._request(lambda service: service.ask_about(path))

    def remove_folder(self, path: Path) -> float:
        return self._request(lambda service: service.remove_folder(path))

    def retry_failed(self) -> float:
        return self._request(lambda service: service.retry_failed())

    def rescan(self) -> float:
        return self._request(lambda service: service.rescan())

    def _request(self, action: Callable[[IndexService], None]) -> float:
        with self._lock:
            action(self._index)
            # Stamped after the request is in: idle reported later than this includes it.
            made = time.monotonic()
            self._journal.append((made, action))
            return made

    def wait_until(self, made: float, embedded: bool, timeout: float | None = None,
                   stop: Callable[[], bool] = lambda: False) -> bool:
        """Wait until the work asked for at ``made`` is searchable by its words (and, with
        ``embedded``, by meaning too); False when ``timeout`` passed or ``stop()`` said so
        first. Embedding waits for the model when it is still loading."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while not self._closing and not stop():
                done = self.embedded_since if embedded else self.words_ready_since
                if done > made:
                    return True
                if embedded and self.model_state == "failed":
                    return False
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._changed.wait(0.5 if left is None else min(left, 0.5))
        return False

    @property
    def paused(self) -> bool:
        return self._index.paused

    @property
    def phase(self) -> str:
        return self._index.phase

    def set_paused(self, paused: bool) -> bool:
        """Pause or resume indexing; False when it already was so."""
        with self._lock:
            if paused == self._index.paused:
                return False
            if paused:
                self._index.pause()
            else:
                self._index.resume()
            return True

    def update_settings(self, settings: Settings) -> None:
        """Save new settings; indexing restarts so exclude patterns apply at once."""
        self.services.settings = replace(settings)
        path = self.services.paths.settings_file
        saved = replace(settings)
        self._in_background(lambda: saved.save(path), "kenning-settings")
        self.restart_indexing()

    def _new_index_service(self) -> IndexService:
        generation = self._generation = self._generation + 1

        def current() -> bool:
            return generation == self._generation

        def on_progress(progress: Progress) -> None:
            if current():
                self._track_rate(progress)
                self.last_progress = progress
                self.events.on_progress(progress)

        def on_idle() -> None:
            if current():
                self._forget_done(time.monotonic())
                self._check_handover()
                self.events.on_idle()

        def on_error(message: str) -> None:
            if current():
                self.events.on_error(message)

        def on_pass_done(started: float, embedded: bool) -> None:
            with self._changed:
                if not current():
                    return
                self.words_ready_since = max(self.words_ready_since, started)
                if embedded:
                    self.embedded_since = max(self.embedded_since, started)
                self._changed.notify_all()
            if self._model_after_words:
                self.ensure_model()

        return IndexService(
            self.services.paths.database,
            self._background_model,
            self.services.settings,
            on_progress=on_progress,
            on_idle=on_idle,
            on_error=on_error,
            on_pass_done=on_pass_done,
            watcher_factory=self.watcher_factory,
            pacer=self.pacer,
        )

    def _track_rate(self, progress: Progress) -> None:
        now = time.monotonic()
        if progress.phase != "embed":
            self._embed_started = None
            return
        if self._embed_started is None or progress.done < self._embed_started[1]:
            self._embed_started = (now, progress.done)
            return
        began, first = self._embed_started
        if now - began >= 2 and progress.done > first:
            self.embed_rate = (progress.done - first) / (now - began)

    def _forget_done(self, at: float) -> None:
        with self._lock:
            self._journal = [(made, action) for made, action in self._journal if made > at]

    def restart_indexing(self) -> None:
        """Swap in a service built with the current model and settings. Requests made from
        now on go to the new service, which picks them up when it starts."""
        with self._lock:
            old, new = self._index, self._new_index_service()
            if old.paused:
                new.pause()
            for _, action in self._journal:
                action(new)
            self._index = new
            self._retired.append(old)
            started = self._started
        if started:
            self._in_background(lambda: self._stop_then_start(old, new), "kenning-swap")

    def _stop_then_start(self, old: IndexService, new: IndexService) -> None:
        """Two writers must never run at once: the old service finishes its current file
        first."""
        old.stop()
        with self._lock:
            if not self._closing:
                new.start()

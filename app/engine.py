"""The engine as the window sees it: ``core.service.host.EngineHost`` with its news
delivered as GUI-thread signals.

The window appears at once with keyword search; the host loads the model meanwhile and
restarts indexing with it (see ``core/service/host.py``). In the background service the
window shares the service's host, and closing the window leaves it running.

>>> engine = Engine(EngineHost(services))
>>> engine.start()
>>> engine.add_folder(Path("~/Documents").expanduser())
>>> engine.shutdown()   # at quit: stops indexing, the model, the stores
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from core.config import Settings
from core.models.interface import TextModel
from core.service.host import EngineHost, HostEvents
from core.services import Services


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

    # Emitted on the host's threads; queued to this GUI-thread object, which re-emits it as
    # one of the signals above on the GUI thread.
    _news = Signal(str, object)

    def __init__(self, host: EngineHost, parent: QObject | None = None, *,
                 owns_host: bool = True) -> None:
        """``owns_host`` False: the host belongs to the background service, which starts and
        stops it; this engine only shows it."""
        super().__init__(parent)
        self.host = host
        self.owns_host = owns_host
        self._news.connect(self._deliver)
        self._events = HostEvents(
            **{name: self._forwarder(name) for name in (
                "on_ready", "on_model_ready", "on_model_failed", "on_progress", "on_idle",
                "on_error", "on_database_failed")}
        )
        host.listen(self._events)
        events = self._events
        self.destroyed.connect(lambda: host.unlisten(events))

    def _forwarder(self, name: str) -> Callable[..., None]:
        def forward(*args: object) -> None:
            self._news.emit(name, args)

        return forward

    def _deliver(self, name: str, args: tuple[object, ...]) -> None:
        if name == "on_ready":
            self.ready.emit()
        elif name == "on_model_ready":
            self.model_ready.emit()
        elif name == "on_model_failed":
            self.model_failed.emit(*args)
        elif name == "on_progress":
            self.progress.emit(*args)
        elif name == "on_idle":
            self.indexing_idle.emit()
        elif name in ("on_error", "on_database_failed"):
            self.indexing_error.emit(*args)

    @property
    def services(self) -> Services:
        return self.host.services

    @property
    def settings(self) -> Settings:
        return self.host.settings

    @property
    def interactive_model(self) -> TextModel | None:
        return self.host.interactive_model

    @property
    def model_error(self) -> str | None:
        return self.host.model_error

    @property
    def model_loading(self) -> bool:
        return self.host.model_loading

    @property
    def database_ready(self) -> bool:
        return self.host.database_ready

    @property
    def in_handover(self) -> bool:
        return self.host.in_handover

    @property
    def model_description(self) -> str:
        return self.host.model_description

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, load_model_now: bool = True) -> None:
        """Start the host, unless the service already runs it (then say what is known)."""
        if self.owns_host:
            self.host.start(load_model_now)
            return
        if self.host.database_ready:
            self.ready.emit()
        if self.host.interactive_model is not None:
            self.model_ready.emit()
        elif self.host.model_error:
            self.model_failed.emit(self.host.model_error)

    def load_model(self) -> None:
        self.host.load_model()

    def shutdown(self) -> None:
        self.host.unlisten(self._events)
        if self.owns_host:
            self.host.shutdown()

    # -- indexing --------------------------------------------------------------------------

    def add_folder(self, path: Path) -> None:
        self.host.add_folder(path)
        self.folders_changed.emit()

    def ask_about(self, path: Path) -> None:
        """Index ``path`` first (adding it if no indexed folder holds it)."""
        self.host.ask_about(path)
        self.folders_changed.emit()

    def remove_folder(self, path: Path) -> None:
        self.host.remove_folder(path)
        self.folders_changed.emit()

    def set_folder_ocr(self, path: Path, on: bool) -> None:
        """Read the folder's scanned pages and pictures by OCR, or stop (in the background)."""
        self.host.set_folder_ocr(path, on)
        self.folders_changed.emit()

    def retry_failed(self) -> None:
        self.host.retry_failed()

    def rescan(self) -> None:
        self.host.rescan()

    @property
    def paused(self) -> bool:
        return self.host.paused

    @property
    def phase(self) -> str:
        return self.host.phase

    def set_paused(self, paused: bool) -> None:
        if self.host.set_paused(paused):
            self.paused_changed.emit(paused)

    def update_settings(self, settings: Settings) -> None:
        """Save new settings; indexing restarts so exclude patterns apply at once."""
        self.host.update_settings(settings)

    def restart_indexing(self) -> None:
        self.host.restart_indexing()

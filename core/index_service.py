"""Indexing that runs by itself: one thread owns the writer store and works through requests.

The window (and the watcher) ask for work; the service scans, extracts, then embeds, and
reports progress through a callback (called on the service's thread: the GUI forwards it to
its own thread). Requests made while it works are picked up between steps.

>>> service = IndexService(paths.database, model_client, settings, on_progress=print)
>>> service.start()
>>> service.add_folder(Path("~/Documents").expanduser())
>>> service.stop()
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.cancel import Cancelled, CancelToken, Progress
from core.config import Settings
from core.indexer import Indexer
from core.model import TextModel
from core.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceState:
    """What the service is doing, for a status line."""

    running: bool
    paused: bool
    phase: str  # "idle", "scan", "extract", "embed"
    progress: Progress | None = None


class IndexService:
    def __init__(
        self,
        database: Path,
        model: TextModel | None,
        settings: Settings,
        on_progress: Callable[[Progress], None] | None = None,
        on_idle: Callable[[], None] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.database = database
        self.model = model
        self.settings = settings
        self.on_progress = on_progress or (lambda _: None)
        self.on_idle = on_idle or (lambda: None)
        self.on_error = on_error or (lambda _: None)
        self._wake = threading.Condition()
        self._requests: list[Callable[[Indexer], object]] = []
        self._rescan = True
        self._paused = False
        self._stop = CancelToken()
        self._thread: threading.Thread | None = None
        self.phase = "idle"

    # -- requests (any thread) -------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="kenning-indexer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        self._stop.cancel()
        with self._wake:
            self._paused = False
            self._wake.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)

    def add_folder(self, path: Path, priority: int = 0) -> None:
        self._request(lambda indexer: indexer.add_folder(path, priority))

    def remove_folder(self, path: Path) -> None:
        self._request(lambda indexer: indexer.store.remove_folder(path.expanduser().resolve()))

    def retry_failed(self) -> None:
        self._request(lambda indexer: indexer.store.retry_failed())

    def rescan(self) -> None:
        self._request(lambda _: None)

    def pause(self) -> None:
        with self._wake:
            self._paused = True

    def resume(self) -> None:
        with self._wake:
            self._paused = False
            self._rescan = True
            self._wake.notify_all()

    @property
    def paused(self) -> bool:
        return self._paused

    def _request(self, action: Callable[[Indexer], object]) -> None:
        with self._wake:
            self._requests.append(action)
            self._rescan = True
            self._wake.notify_all()

    # -- the service thread ----------------------------------------------------------------

    def _run(self) -> None:
        store = Store.open(self.database)
        indexer = Indexer(store, self.model, self.settings)
        try:
            while not self._stop.cancelled:
                self._wait_for_work()
                if self._stop.cancelled:
                    break
                try:
                    self._work(indexer)
                except Cancelled:
                    pass
                except Exception as exc:  # keep serving; the error is shown, not fatal
                    log.exception("indexing step failed")
                    self.on_error(f"Indexing hit a problem and will try again: {exc}")
        finally:
            indexer.close()
            store.close()

    def _wait_for_work(self) -> None:
        with self._wake:
            while not self._stop.cancelled and (self._paused or not self._rescan):
                if self.phase != "idle":
                    self.phase = "idle"
                    self.on_idle()
                self._wake.wait()

    def _work(self, indexer: Indexer) -> None:
        with self._wake:
            requests, self._requests = self._requests, []
            self._rescan = False
        for action in requests:
            try:
                action(indexer)
            except (OSError, NotADirectoryError) as exc:
                self.on_error(str(exc))
        interrupt = _Interrupt(self)
        self.phase = "scan"
        indexer.scan(self._report, interrupt)
        self.phase = "extract"
        indexer.extract_pending(self._report, interrupt)
        self.phase = "embed"
        indexer.embed_pending(self._report, interrupt)

    def _report(self, progress: Progress) -> None:
        self.on_progress(progress)


class _Interrupt(CancelToken):
    """Stops the current pass when the service stops or new requests arrive (they restart it),
    or while paused."""

    def __init__(self, service: IndexService) -> None:
        super().__init__()
        self.service = service

    @property
    def cancelled(self) -> bool:
        s = self.service
        return s._stop.cancelled or bool(s._requests) or s._paused

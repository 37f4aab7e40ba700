"""Indexing that runs by itself: one thread owns the writer store and works through requests.

The window asks for work; the watcher reports changes on disk. The service scans (once at
start, to find what changed while it was not running), applies the watcher's change sets,
extracts, then embeds, and reports progress through a callback (called on the service's
thread: the GUI forwards it to its own thread). Requests and changes that arrive while it
works are picked up between steps; a folder the user asks about goes first.

>>> service = IndexService(paths.database, model_client, settings, on_progress=print)
>>> service.start()
>>> service.add_folder(Path("~/Documents").expanduser())
>>> service.stop()
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.cancel import Cancelled, CancelToken, Progress
from core.config import Settings
from core.extract.worker import IsolatedExtractor
from core.index.indexer import Indexer
from core.index.pacing import Pacer
from core.index.reconcile import ChangeSet
from core.index.walk import ExcludeRules
from core.index.watcher import Watcher
from core.models.interface import Embedder
from core.store.database import DatabaseDamaged, Store

log = logging.getLogger(__name__)

WatcherFactory = Callable[[Callable[[ChangeSet], None], ExcludeRules], Watcher]
_MAX_FOCUS = 3
#: Folders added by "ask about this folder" go ahead of ones added in the ordinary way (0).
ASKED_PRIORITY = 1


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
        model: Embedder | None,
        settings: Settings,
        on_progress: Callable[[Progress], None] | None = None,
        on_idle: Callable[[], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        on_pass_done: Callable[[float, bool], None] | None = None,
        *,
        watcher_factory: WatcherFactory | None = Watcher,
        extractor: IsolatedExtractor | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        """``watcher_factory`` None turns watching off (changes are then found by rescans);
        ``extractor`` shares an extraction process (tests), else the service starts one;
        ``pacer`` rests between batches of work (on battery).
        ``on_pass_done(started, embedded)``: a pass that started at ``started`` (monotonic
        time, after taking the requests made until then) has read every waiting file, and
        with ``embedded`` embedded every passage too."""
        self.database = database
        self.model = model
        self.settings = settings
        self.on_progress = on_progress or (lambda _: None)
        self.on_idle = on_idle or (lambda: None)
        self.on_error = on_error or (lambda _: None)
        self.on_pass_done = on_pass_done or (lambda _started, _embedded: None)
        self.watcher_factory = watcher_factory
        self.extractor = extractor
        self.pacer = pacer
        self.watcher: Watcher | None = None
        self._wake = threading.Condition()
        self._requests: list[Callable[[Indexer], object]] = []
        self._changes = ChangeSet()
        self._scan_due = True  # the first pass finds what changed while Kenning was closed
        self._idle = False
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

    def add_folder(self, path: Path, priority: int = 0, ocr: bool | None = None) -> None:
        """Index a folder; being the user's latest wish, it goes ahead of other work.
        ``ocr``: read its scanned pages by OCR, or not (None: as it was)."""

        def add(indexer: Indexer) -> None:
            indexer.add_folder(path, priority, ocr)
            _focus(indexer, path)

        self._request(add, rescan=True)

    def set_folder_ocr(self, path: Path, on: bool) -> None:
        """Read an indexed folder's scanned pages and pictures by OCR, or stop; the rescan
        brings its pictures in (or out)."""
        folder = path.expanduser().resolve()
        self._request(lambda indexer: indexer.store.folders.set_ocr(folder, on), rescan=True)

    def ask_about(self, path: Path) -> None:
        """The user asks about ``path`` (e.g. from the file manager): add it unless an indexed
        folder already holds it, and read and embed its files before anything else."""

        def add_or_focus(indexer: Indexer) -> None:
            folder = path.expanduser().resolve()
            known = [Path(known) for _, known in indexer.store.folders.all()]
            if not any(folder == k or folder.is_relative_to(k) for k in known):
                indexer.add_folder(folder, ASKED_PRIORITY)
            _focus(indexer, folder)

        self._request(add_or_focus, rescan=True)

    def remove_folder(self, path: Path) -> None:
        self._request(lambda indexer: indexer.store.folders.remove(path.expanduser().resolve()))

    def prioritise(self, path: Path) -> None:
        """Read and embed the files under ``path`` (an indexed folder or a folder inside one)
        before anything else, e.g. when the user asks about that folder."""
        self._request(lambda indexer: _focus(indexer, path))

    def retry_failed(self) -> None:
        self._request(lambda indexer: indexer.store.files.retry_failed())

    def rescan(self) -> None:
        self._request(lambda _: None, rescan=True)

    def notify_changes(self, changes: ChangeSet) -> None:
        """What the watcher saw change (any thread); applied without a full rescan."""
        with self._wake:
            self._changes.merge(changes)
            self._idle = False
            self._wake.notify_all()

    def pause(self) -> None:
        with self._wake:
            self._paused = True

    def resume(self) -> None:
        with self._wake:
            self._paused = False
            self._scan_due = True
            self._wake.notify_all()

    @property
    def paused(self) -> bool:
        return self._paused

    def wait_until_settled(self, timeout: float) -> bool:
        """Wait until every change seen so far is indexed: the watcher has nothing waiting
        and the service is idle. False if that took longer than ``timeout`` seconds."""
        start = time.monotonic()
        while time.monotonic() < start + timeout:
            watcher = self.watcher
            with self._wake:
                idle = self._idle and not self._has_work()
            if idle and (watcher is None or watcher.settled(since=start)):
                return True
            time.sleep(0.05)
        return False

    def _request(self, action: Callable[[Indexer], object], rescan: bool = False) -> None:
        with self._wake:
            self._requests.append(action)
            self._scan_due = self._scan_due or rescan
            self._idle = False
            self._wake.notify_all()

    def _has_work(self) -> bool:
        return bool(self._requests or self._changes or self._scan_due)

    # -- the service thread ----------------------------------------------------------------

    def _run(self) -> None:
        try:
            store = Store.open(self.database)
        except DatabaseDamaged as exc:
            self.on_error(f"The index database cannot be opened ({exc}). Restart Kenning.")
            return
        try:
            indexer = Indexer(store, self.model, self.settings, self.extractor)
        except Exception as exc:  # a full disk, say: shown, and the store is not left open
            log.exception("the indexer could not start")
            store.close()
            self.on_error(f"Indexing could not start ({exc}). Free some disk space if it is "
                          "full, then restart Kenning.")
            return
        indexer.pacer = self.pacer
        if self.watcher_factory is not None:
            rules = ExcludeRules(self.settings.exclude_patterns, self.settings.use_gitignore)
            self.watcher = self.watcher_factory(self.notify_changes, rules)
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
                    with self._wake:
                        self._scan_due = True  # changes taken for this pass may be lost
                    if not self._stop.cancelled:
                        time.sleep(1)  # no tight loop on a fault that lasts
        finally:
            if self.watcher is not None:
                self.watcher.stop()
            indexer.close()
            store.close()

    def _wait_for_work(self) -> None:
        with self._wake:
            while not self._stop.cancelled and (self._paused or not self._has_work()):
                if not self._paused and not self._idle:
                    self._idle = True
                    self.phase = "idle"
                    self.on_idle()
                self._wake.wait()

    def _work(self, indexer: Indexer) -> None:
        with self._wake:
            started = time.monotonic()
            requests, self._requests = self._requests, []
            changes, self._changes = self._changes, ChangeSet()
            scan_due, self._scan_due = self._scan_due, False
        for action in requests:
            try:
                action(indexer)
            except OSError as exc:
                self.on_error(str(exc))
        if self.watcher is not None:
            # Watching starts before the scan, so nothing changed during it is missed.
            folders = indexer.store.folders.all()
            with_ocr = indexer.store.folders.with_ocr()
            self.watcher.watch((path for _, path in folders),
                               pictures_in=[path for i, path in folders if i in with_ocr])
        if changes:
            self.phase = "scan"
            indexer.apply_changes(changes)
        if scan_due:
            self.phase = "scan"
            # Changes arriving meanwhile wait: a scan restarted for each would never end.
            if not indexer.scan(self._report, _Interrupt(self, by_changes=False)).complete:
                with self._wake:
                    self._scan_due = True
        interrupt = _Interrupt(self, by_changes=True)
        self.phase = "extract"
        indexer.extract_pending(self._report, interrupt)
        words_done = not interrupt.cancelled and not self._scan_due
        if words_done:
            self.on_pass_done(started, False)
        self.phase = "embed"
        indexer.embed_pending(self._report, interrupt)
        if words_done and not interrupt.cancelled and indexer.model is not None:
            self.on_pass_done(started, True)

    def _report(self, progress: Progress) -> None:
        self.on_progress(progress)


def _focus(indexer: Indexer, path: Path) -> None:
    folder = str(path.expanduser().resolve())
    indexer.focus = [folder, *[f for f in indexer.focus if f != folder]][:_MAX_FOCUS]


class _Interrupt(CancelToken):
    """Stops the current pass when the service stops, new requests (or, for extracting and
    embedding, changes on disk) arrive, or while paused. The next pass carries on."""

    def __init__(self, service: IndexService, by_changes: bool) -> None:
        super().__init__()
        self.service = service
        self.by_changes = by_changes

    @property
    def cancelled(self) -> bool:
        s = self.service
        changed = self.by_changes and bool(s._changes)
        return s._stop.cancelled or bool(s._requests) or changed or s._paused

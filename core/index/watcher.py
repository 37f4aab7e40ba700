"""Watching indexed folders: watchdog events → a debounced change set → the indexing service.

Events are coalesced: a change set is handed on after ``quiet`` seconds without events, or
``max_delay`` seconds after its first event while they keep coming, so an editor's save
(write a temporary file and rename it over the original, or several writes in a row) costs
one update. Paths the exclude rules leave out are dropped here, so churn in ``.git`` or
``node_modules`` never wakes the indexer, nor do the indexer's own reads (only writes,
creations, deletions and renames are asked for).

Where watching is not possible (Linux's inotify watch limit, ``fs.inotify.max_user_watches``,
or the system's watcher stopped), the folder is rescanned every ``poll_interval`` seconds
instead and a note is logged. A burst larger than ``burst_paths`` becomes a rescan of the
folders concerned (a size and time scan is cheap, and a burst that large may have overflowed
the kernel's event queue); so does an overflow watchdog reports.

>>> watcher = Watcher(service.notify_changes, ExcludeRules())
>>> watcher.watch(["/home/me/Documents"])
>>> watcher.stop()
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterable

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileAttribEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch

from core.index.reconcile import ChangeSet, is_wanted
from core.index.walk import VENV_MARKER, ExcludeRules, is_within

log = logging.getLogger(__name__)

QUIET_S = 0.5
MAX_DELAY_S = 3.0
POLL_INTERVAL_S = 300.0
BURST_PATHS = 5000
_HEALTH_CHECK_S = 5.0
# watchdog holds a rename's first half this long waiting for its second half, and reports
# it as a deletion after that: no event may still be on its way once this has passed.
_MOVE_PAIRING_S = 0.5
# Asking only for these keeps the indexer's own reads (open, access, close) out of the queue.
_EVENTS: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    FileModifiedEvent,
    FileAttribEvent,
    FileClosedEvent,
    FileDeletedEvent,
    FileMovedEvent,
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
]
_WATCHDOG_INOTIFY_LOGGER = "watchdog.observers.inotify_c"


class Watcher:
    """Watches folders and calls ``on_changes`` (from its own thread) with change sets."""

    def __init__(
        self,
        on_changes: Callable[[ChangeSet], None],
        rules: ExcludeRules,
        *,
        quiet: float = QUIET_S,
        max_delay: float = MAX_DELAY_S,
        poll_interval: float = POLL_INTERVAL_S,
        burst_paths: int = BURST_PATHS,
        observer_factory: Callable[[], BaseObserver] = Observer,
    ) -> None:
        self._on_changes = on_changes
        self._rules = rules  # used on the observer's thread only
        self.quiet, self.max_delay = quiet, max_delay
        self.poll_interval, self.burst_paths = poll_interval, burst_paths
        self._wake = threading.Condition()
        self._pending = ChangeSet()
        self._first_event = self._last_event = 0.0
        self._watches: dict[str, ObservedWatch] = {}
        self._folders: tuple[str, ...] = ()  # a snapshot of the watches, for the observer
        #: Watched folders whose pictures are read (OCR is on for them).
        self._picture_folders: frozenset[str] = frozenset()
        self._polled: dict[str, float] = {}  # folder -> when to rescan it next
        self._stopped = False
        self._observer = observer_factory()
        self._observer.start()
        self._overflow = _OverflowAlarm(self._lost_events)
        logging.getLogger(_WATCHDOG_INOTIFY_LOGGER).addHandler(self._overflow)
        self._thread = threading.Thread(target=self._hand_over, name="kenning-watch", daemon=True)
        self._thread.start()

    # -- any thread ------------------------------------------------------------------------

    def watch(self, folders: Iterable[str], pictures_in: Iterable[str] = ()) -> None:
        """Watch exactly ``folders`` from now on, adding and dropping watches as needed.
        ``pictures_in``: those of them whose pictures count (OCR is on for them)."""
        # The observer calls ``record`` holding its own lock, and ``record`` takes ours: so
        # the observer is never called while holding ours.
        wanted = set(folders)
        with self._wake:
            self._picture_folders = frozenset(pictures_in)
            dropped = [self._watches.pop(f) for f in list(self._watches) if f not in wanted]
            for folder in [f for f in self._polled if f not in wanted]:
                del self._polled[folder]
            added = sorted(wanted - set(self._watches) - set(self._polled))
            self._folders = tuple(self._watches)
        for watch in dropped:
            self._unschedule(watch)
        for folder in added:
            try:
                watch = self._observer.schedule(
                    _Handler(self, folder), folder, recursive=True, event_filter=_EVENTS
                )
            except OSError as exc:
                self._poll_instead(folder, exc, rescan_now=False)
                continue
            with self._wake:
                self._watches[folder] = watch
                self._folders = tuple(self._watches)

    @property
    def watched(self) -> list[str]:
        return sorted(self._watches)

    @property
    def polled(self) -> list[str]:
        """Folders rescanned from time to time because they cannot be watched."""
        return sorted(self._polled)

    def settled(self, since: float = 0.0) -> bool:
        """No change waiting to be handed on, and no event for a while after ``since`` (a
        ``time.monotonic()``; events take a moment to arrive)."""
        with self._wake:
            quiet_for = time.monotonic() - max(self._last_event, since)
            return not self._pending and quiet_for >= max(self.quiet, _MOVE_PAIRING_S + 0.2)

    def flush(self) -> None:
        """Hand on what is waiting now, without waiting for quiet."""
        with self._wake:
            self._first_event = self._last_event = time.monotonic() - self.max_delay
            self._wake.notify_all()

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify_all()
        logging.getLogger(_WATCHDOG_INOTIFY_LOGGER).removeHandler(self._overflow)
        self._observer.unschedule_all()  # stops each watch's thread in turn, quietly
        self._observer.stop()
        self._observer.join(timeout=10)
        self._thread.join(timeout=10)

    # -- the observer's thread -------------------------------------------------------------

    def record(self, folder: str, event: FileSystemEvent) -> None:
        """Note one event, if it concerns a file the index could hold."""
        source = os.fsdecode(event.src_path)
        changes = ChangeSet()
        name = os.path.basename(source)
        if name == VENV_MARKER or (name == ".gitignore" and self._rules.use_gitignore):
            self._rules.forget()
            changes.subtrees.add(os.path.dirname(source))
        if isinstance(event, (FileMovedEvent, DirMovedEvent)):
            destination = os.fsdecode(event.dest_path)
            source_counts = self._counts(folder, source, event.is_directory)
            target = self._folder_of(destination)
            dest_counts = target is not None and self._counts(
                target, destination, event.is_directory
            )
            if source_counts and dest_counts:
                changes.moves.append((source, destination))
            elif source_counts:
                changes.paths.add(source)  # moved out of sight: gone
            elif dest_counts:
                changes.paths.add(destination)  # a temporary file renamed into place
        elif self._counts(folder, source, event.is_directory):
            changes.paths.add(source)
        if changes:
            with self._wake:
                now = time.monotonic()
                if not self._pending:
                    self._first_event = now
                self._last_event = now
                self._pending.merge(changes)
                self._wake.notify_all()

    def _counts(self, folder: str, path: str, is_dir: bool) -> bool:
        if path == folder:
            return True
        if not is_dir and not is_wanted(path, ocr=folder in self._picture_folders):
            return False
        return not self._rules.excluded(folder, path, is_dir)

    def _folder_of(self, path: str) -> str | None:
        inside = [f for f in self._folders if is_within(f, path)]
        return max(inside, key=len) if inside else None

    # -- the hand-over thread --------------------------------------------------------------

    def _hand_over(self) -> None:
        next_check = time.monotonic() + _HEALTH_CHECK_S
        while True:
            with self._wake:
                if self._stopped:
                    return
                now = time.monotonic()
                flush_at = math.inf
                if self._pending:
                    flush_at = min(
                        self._last_event + self.quiet, self._first_event + self.max_delay
                    )
                wake_at = min(flush_at, next_check, *self._polled.values())
                if wake_at > now:
                    self._wake.wait(wake_at - now)
                    continue
                changes = ChangeSet()
                if flush_at <= now:
                    changes, self._pending = self._pending, ChangeSet()
                for folder, due in self._polled.items():
                    if due <= now:
                        changes.subtrees.add(folder)
                        self._polled[folder] = now + self.poll_interval
            if now >= next_check:
                next_check = now + _HEALTH_CHECK_S
                self._check_watches()
            if changes:
                self._on_changes(self._tamed(changes))

    def _tamed(self, changes: ChangeSet) -> ChangeSet:
        """A burst too large to trust event by event becomes rescans of its folders."""
        if len(changes.paths) <= self.burst_paths:
            return changes
        with self._wake:
            folders = list(self._watches) + list(self._polled)
        for path in changes.paths:
            inside = [f for f in folders if is_within(f, path)]
            if inside:
                changes.subtrees.add(max(inside, key=len))
        log.info("%d changes at once: rescanning %s", len(changes.paths), sorted(changes.subtrees))
        changes.paths.clear()
        return changes

    def _check_watches(self) -> None:
        """A watch whose system watcher died (say, at the watch limit while a new folder was
        being added) becomes a polled folder, rescanned now since events may be lost."""
        alive = {e.watch for e in self._observer.emitters if e.is_alive()}
        with self._wake:
            dead = [f for f, w in self._watches.items() if w not in alive]
        for folder in dead:
            self._poll_instead(folder, OSError("the system stopped watching it"))

    def _poll_instead(self, folder: str, error: OSError, rescan_now: bool = True) -> None:
        with self._wake:
            if self._stopped:
                return
            watch = self._watches.pop(folder, None)
            self._folders = tuple(self._watches)
            self._polled[folder] = time.monotonic() + (0 if rescan_now else self.poll_interval)
            self._wake.notify_all()
        if watch is not None:
            self._unschedule(watch)
        every = (
            f"{self.poll_interval / 60:.0f} minutes"
            if self.poll_interval >= 120
            else f"{self.poll_interval:.0f} seconds"
        )
        log.warning(
            "Cannot watch %s for changes (%s); it will be rescanned every %s instead. "
            "On Linux, raising fs.inotify.max_user_watches lets Kenning watch it.",
            folder,
            error.strerror or error,
            every,
        )

    def _unschedule(self, watch: ObservedWatch) -> None:
        with contextlib.suppress(KeyError, OSError):  # already gone with its folder
            self._observer.unschedule(watch)

    def _lost_events(self) -> None:
        with self._wake:
            now = time.monotonic()
            if not self._pending:
                self._first_event = now
            self._last_event = now
            self._pending.subtrees |= set(self._watches)
            self._wake.notify_all()


class _Handler(FileSystemEventHandler):
    def __init__(self, watcher: Watcher, folder: str) -> None:
        self.watcher = watcher
        self.folder = folder

    def dispatch(self, event: FileSystemEvent) -> None:
        try:
            self.watcher.record(self.folder, event)
        except Exception:  # one odd event must not stop watching
            log.exception("could not handle %r", event)


class _OverflowAlarm(logging.Handler):
    """watchdog reports a kernel event-queue overflow only in its log; this hears it."""

    def __init__(self, alarm: Callable[[], None]) -> None:
        super().__init__(logging.WARNING)
        self.alarm = alarm

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            self.alarm()

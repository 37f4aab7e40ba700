"""Extraction in child processes, so a file that crashes or hangs the PDF library costs that
file only: the child is restarted and the file is recorded as failed with the reason.

It also keeps PyMuPDF (which is not thread-safe) off the indexer's threads, so the window may
render pages while indexing runs.

>>> with IsolatedExtractor(timeout=60) as extractor:
...     document = extractor.extract(Path("report.pdf"))
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import TracebackType

from core.extract import ExtractionError, extract
from core.extract.errors import NothingToRead, OverSizeCap, ScansNotRead
from core.types import Document

DEFAULT_TIMEOUT_S = 120.0
# Files queued at each child. Two, so a child that finishes a cheap file has the next one in
# hand instead of waiting for this process to hand it over.
QUEUE_DEPTH = 2

_CRASHED = "the file reader crashed on this file; it may be damaged"
# The kinds of ExtractionError the indexer decides by, sent by name across the pipe (a
# reason's type must survive the trip; its text is for the user).
_KINDS: dict[str, type[ExtractionError]] = {
    kind.__name__: kind for kind in (ScansNotRead, NothingToRead, OverSizeCap, ExtractionError)
}
# A child reading scanned pages says so after each page: the wait for its answer (the
# timeout) then runs from its latest word, so a long scanned book is not taken for a hang.
_OCR_PAGE = "ocr-page"
_Key = tuple[str, bool]  # a file, and whether its scanned pages are read by OCR
# How a child ends when an interrupt (Ctrl+C in a terminal reaches the whole process group)
# stops it: by SIGINT, or on Windows with STATUS_CONTROL_C_EXIT.
_INTERRUPT_EXITS = (-int(signal.SIGINT), 0xC000013A)


class ExtractionInterrupted(Exception):
    """The reader was stopped by an interrupt while reading a file: not the file's fault, so
    the file stays to be read again."""


@dataclass
class _Reader:
    """One extraction child and the files sent to it whose answers are not taken yet, oldest
    first (it answers in that order)."""

    process: BaseProcess
    conn: Connection
    queued: deque[_Key] = field(default_factory=deque)


class IsolatedExtractor:
    """``readers`` children read files side by side: the caller sends the next files ahead
    (``start``, up to ``ahead`` of them) and takes each answer in its own order
    (``extract``). ``on_ocr_page`` is called (on the caller's thread, while it waits for an
    answer) for each page a child has read by OCR."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT_S, readers: int = 1) -> None:
        self.timeout = timeout
        self.readers = max(1, readers)
        # "spawn": a fresh interpreter, never a fork of a process that runs threads (Qt, llama).
        self._context = multiprocessing.get_context("spawn")
        self._live: list[_Reader] = []
        #: Answers taken on the way to a later file's, kept for their own ``extract`` call.
        self._kept: dict[_Key, Document | ExtractionError | ExtractionInterrupted] = {}
        self.on_ocr_page: Callable[[], None] | None = None

    @property
    def ahead(self) -> int:
        """How many files may usefully be sent ahead at once."""
        return self.readers * QUEUE_DEPTH

    def start(self, path: Path, ocr: bool = False) -> None:
        """Queue ``path`` at a child now, if one has room; the next ``extract(path)`` takes
        its answer. Lets the children read the next files while the caller works."""
        key = (str(path), ocr)
        if key in self._kept or self._holding(key) is not None:
            return
        reader = self._with_room()
        if reader is None:
            return
        try:
            reader.conn.send((*key, None))
        except OSError:
            self._lost(reader)  # extract() starts a new child and reports the file on its own
            return
        reader.queued.append(key)
        while len(self._kept) > 2 * self.ahead:  # sent ahead, never asked for
            del self._kept[next(iter(self._kept))]

    def extract(self, path: Path, max_bytes: int | None = None, ocr: bool = False) -> Document:
        """Like ``core.extract.extract``; raises ExtractionError for a crash or a hang too, and
        ExtractionInterrupted when an interrupt stopped the reader."""
        key = (str(path), ocr)
        holder = self._holding(key)
        if holder is not None:
            self._take_through(holder, key)
        answer = self._kept.pop(key, None)
        if answer is None or max_bytes is not None:
            # Not sent ahead (or read without the size limit wanted now): read it now, at a
            # child with nothing queued, so a crash there is this file's.
            reader = self._idle()
            try:
                reader.conn.send((*key, max_bytes))
            except OSError as exc:
                self._lost(reader)
                raise ExtractionError(_CRASHED) from exc
            reader.queued.append(key)
            self._take_through(reader, key)
            answer = self._kept.pop(key)
        if isinstance(answer, (ExtractionError, ExtractionInterrupted)):
            raise answer
        return answer

    def close(self) -> None:
        for reader in self._live:
            with contextlib.suppress(OSError):
                reader.conn.send(None)
        for reader in list(self._live):
            reader.process.join(timeout=5)
            self._lost(reader)
        self._kept.clear()

    def __enter__(self) -> IsolatedExtractor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _take_through(self, reader: _Reader, key: _Key) -> None:
        """Take ``reader``'s answers up to and including ``key``'s into ``_kept``."""
        while reader.queued and key not in self._kept:
            head = reader.queued.popleft()
            self._kept[head] = self._answer(reader)

    def _answer(self, reader: _Reader) -> Document | ExtractionError | ExtractionInterrupted:
        """The answer for the file at the head of ``reader``'s queue (already popped). A
        child lost here was reading that file; the files queued behind it are dropped, to be
        read again when asked for."""
        try:
            while True:
                if not reader.conn.poll(self.timeout):
                    self._lost(reader)
                    return ExtractionError(
                        f"took longer than {self.timeout:.0f} s to read; it may be damaged"
                    )
                status, payload = reader.conn.recv()
                if status != _OCR_PAGE:
                    break
                if self.on_ocr_page is not None:
                    self.on_ocr_page()
        except (EOFError, BrokenPipeError, ConnectionResetError, OSError):
            reader.process.join(timeout=1)
            interrupted = reader.process.exitcode in _INTERRUPT_EXITS
            self._lost(reader)
            return ExtractionInterrupted() if interrupted else ExtractionError(_CRASHED)
        if status == "ok":
            assert isinstance(payload, Document)
            return payload
        if status == "error":
            kind, reason, unread_scans = payload
            if kind == ScansNotRead.__name__:
                return ScansNotRead(reason, unread_scans)
            return _KINDS[kind](reason)
        return ExtractionError(f"unexpected error while reading: {payload}")

    def _holding(self, key: _Key) -> _Reader | None:
        return next((reader for reader in self._live if key in reader.queued), None)

    def _alive(self) -> list[_Reader]:
        for reader in list(self._live):
            if not reader.process.is_alive():
                self._lost(reader)
        return self._live

    def _with_room(self) -> _Reader | None:
        """The child with the shortest queue below ``QUEUE_DEPTH``, preferring a new child
        to a queue while fewer than ``readers`` run."""
        live = self._alive()
        shortest = min(live, key=lambda reader: len(reader.queued), default=None)
        if shortest is not None and not shortest.queued:
            return shortest
        if len(live) < self.readers:
            return self._spawn()
        if shortest is not None and len(shortest.queued) < QUEUE_DEPTH:
            return shortest
        return None

    def _idle(self) -> _Reader:
        """A child with nothing queued: a free or new one, else the least busy one once its
        queue is taken (into ``_kept``)."""
        live = self._alive()
        free = next((reader for reader in live if not reader.queued), None)
        if free is not None:
            return free
        if len(live) < self.readers:
            return self._spawn()
        least = min(live, key=lambda reader: len(reader.queued))
        self._take_through(least, least.queued[-1])
        return least if least in self._live else self._spawn()

    def _spawn(self) -> _Reader:
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=_serve, args=(child,), name="kenning-extract", daemon=True
        )
        with _interrupts_ignored():
            process.start()
        child.close()
        reader = _Reader(process, parent)
        self._live.append(reader)
        return reader

    def _lost(self, reader: _Reader) -> None:
        if reader in self._live:
            self._live.remove(reader)
        reader.queued.clear()
        if reader.process.is_alive():
            reader.process.kill()
            reader.process.join(timeout=5)
        reader.conn.close()


@contextlib.contextmanager
def _interrupts_ignored() -> Iterator[None]:
    """SIGINT ignored while a child starts: it keeps that from its first instruction (Python
    then never turns SIGINT into KeyboardInterrupt there), so a Ctrl+C that reaches the whole
    process group is left to this process, which decides what it stops. Only the main thread
    may change signal handling; a child started elsewhere ignores SIGINT from ``_serve`` on."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _exit_with_parent() -> None:
    """End this child as soon as its parent is gone, whatever the parent died of (kill -9
    included), even in the middle of a file: a thread waits on the sentinel multiprocessing
    keeps for the parent (a pipe the parent holds open on POSIX, its process handle on
    Windows). A reader deep in one call of a C library is stopped when that call returns."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(0)

    threading.Thread(target=watch, name="kenning-parent-watch", daemon=True).start()


def _serve(conn: Connection) -> None:
    """The child's loop: one path in, one Document (or reason) out."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides what an interrupt stops
    _exit_with_parent()
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        path, ocr, max_bytes = request
        answer: tuple[str, object]
        try:
            answer = ("ok", extract(Path(path), max_bytes=max_bytes, ocr=ocr,
                                    on_ocr_page=lambda: conn.send((_OCR_PAGE, None))))
        except ExtractionError as exc:
            kind = next(name for name, cls in _KINDS.items() if isinstance(exc, cls))
            answer = ("error", (kind, str(exc), getattr(exc, "unread_scans", 0)))
        except Exception as exc:  # a library bug on odd input: report it, keep serving
            answer = ("unexpected", repr(exc))
        try:
            conn.send(answer)
        except OSError:  # the parent is gone (killed): no one to answer, nothing to say
            return

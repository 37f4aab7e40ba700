"""The background service: one Kenning per user and data folder, owning the index writer, the
model and the folder watchers, serving the window, the command line and the right-click
entry over the local socket of ``core/service/protocol.py``.

It may run without a display. A window, when one is wanted, runs in the same process on the
main thread (``WindowPort``, given by the top layer), sharing the engine; closing it leaves
the service running. One file lock makes it one per data folder: the operating system
releases it when the process ends, however it ends, so a crashed service never blocks the
next one, which resumes from the database.

    service = BackgroundService(services)
    sys.exit(service.run())        # until `kenning service stop` (or Quit in the tray)
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterator
from multiprocessing.connection import Connection, Listener
from pathlib import Path
from typing import Any, Protocol

from filelock import FileLock, Timeout

from core.answer.answerer import Answerer
from core.cancel import CancelToken
from core.index.indexer import indexable_folder
from core.index.writer_lock import lock_path as writer_lock_path
from core.search.handover import HANDOVER_NOTE
from core.search.retrieval import search
from core.service.host import DATABASE_WAIT_S, EngineHost, HostEvents
from core.service.protocol import (
    ServiceError,
    answer_to_wire,
    encode,
    endpoint,
    hit_to_wire,
    install_stamp,
    lock_path,
    receive,
)
from core.services import Services, display_available
from core.store.database import Store

log = logging.getLogger(__name__)

#: A search waits this long for the model that is still loading, rather than answering from
#: keywords alone (the first search after the service starts).
MODEL_WAIT_S = 60.0
#: Indexing news to a waiting client at most this often.
PROGRESS_EVERY_S = 1.0
#: How often a service waiting for another command's writer lock looks again (and whether
#: it is being stopped meanwhile).
WRITER_POLL_S = 0.5


class AlreadyRunning(Exception):
    """Another service owns this data folder."""


class WindowUnavailable(Exception):
    """The window cannot be shown here; the message says why and what to do."""


class WindowPort(Protocol):
    """The window, seen from the service (the top layer implements it with Qt)."""

    def run(self, host: EngineHost, ask_folder: Path | None, stop: Callable[[], None]) -> None:
        """Show the window and run its event loop on this (the main) thread until the user
        quits; ``stop`` ends the service. WindowUnavailable when it cannot be shown."""

    def show(self, ask_folder: Path | None) -> None:
        """Bring the running window forward (from any thread)."""

    def quit(self) -> None:
        """End the event loop (from any thread)."""


class BackgroundService:
    def __init__(self, services: Services, window: WindowPort | None = None,
                 host: EngineHost | None = None) -> None:
        self.services = services
        self.paths = services.paths
        self.window = window
        self.host = host or EngineHost(services, HostEvents(on_error=self._log_error))
        self._lock = FileLock(str(lock_path(self.paths)))
        # The index's writer lock (``core/index/writer_lock.py``), held while the service
        # runs: a ``--no-service`` indexing command waits for the service, and the service
        # for one already running.
        self._writer_lock = FileLock(str(writer_lock_path(self.paths.database)),
                                     thread_local=False)  # taken and let go on two threads
        self._writer_guard = threading.Lock()
        self._model_after_words = False
        self._listener: Listener | None = None
        self._stopping = threading.Event()
        self._main_jobs: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._window_running = False
        #: Why the window could not be shown (the last time it was asked for).
        self.window_problem: str | None = None
        self.exit_code = 0
        self.started_at = time.time()
        #: The install this service runs (``install_stamp``): a client of a newer one
        #: replaces it (``launch.current_service``).
        self.install = install_stamp()

    # -- lifecycle -------------------------------------------------------------------------

    def run(self, show_window: bool = False, ask_folder: Path | None = None) -> int:
        """Serve until stopped. With ``show_window``, the window opens at once."""
        # Without a window to show, the model waits until the files are searchable by their
        # words (a request that needs it loads it sooner).
        self.start(model_after_words=not show_window)
        if show_window:
            self._main_jobs.put(lambda: self._run_first_window(ask_folder))
        try:
            while True:
                job = self._main_jobs.get()
                if job is None:
                    break
                job()
        finally:
            self.close()
        return self.exit_code

    def start(self, model_after_words: bool = False) -> None:
        """Take the data folder, start the engine and listen (returns at once).
        ``model_after_words``: see ``EngineHost.start``."""
        self._model_after_words = model_after_words
        self.paths.ensure()
        try:
            self._lock.acquire(timeout=0)
        except Timeout as exc:
            raise AlreadyRunning(str(lock_path(self.paths))) from exc
        where = endpoint(self.paths)
        if where.family == "AF_UNIX":
            # Holding the lock proves a socket left here is a crashed service's.
            with contextlib.suppress(FileNotFoundError):
                os.unlink(where.address)
        self._listener = Listener(where.address, family=where.family)
        if self._take_writer_lock(timeout=0):
            self._start_engine()
        else:
            log.info("another Kenning command is indexing this library; the service starts "
                     "its engine when that command is done")
            threading.Thread(target=self._start_engine_when_free, name="kenning-writer-wait",
                             daemon=True).start()
        threading.Thread(target=self._accept, name="kenning-service", daemon=True).start()
        log.info("the service listens on %s (pid %d)", where.address, os.getpid())

    def stop(self) -> None:
        """End the service (from any thread): the window's loop, then the main thread."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        if self._window_running and self.window is not None:
            self.window.quit()
        self._main_jobs.put(None)

    def close(self) -> None:
        self._stopping.set()
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.close()
        self.host.shutdown()
        with self._writer_guard:
            if self._writer_lock.is_locked:
                self._writer_lock.release()
        self._lock.release()

    def _take_writer_lock(self, timeout: float) -> bool:
        with self._writer_guard:
            if self._stopping.is_set():
                return False
            try:
                self._writer_lock.acquire(timeout=timeout)
            except Timeout:
                return False
            return True

    def _start_engine_when_free(self) -> None:
        """Requests meanwhile wait in the engine's queue; they run once the lock is ours."""
        while not self._stopping.is_set():
            if self._take_writer_lock(timeout=WRITER_POLL_S):
                self._start_engine()
                return

    def _start_engine(self) -> None:
        self.host.start(load_model_now=not self._model_after_words,
                        model_after_words=self._model_after_words)

    def _run_first_window(self, ask_folder: Path | None) -> None:
        """The window this process was started for: when it cannot be shown, say why and
        end (the user asked for a window, not for a service they cannot see)."""
        self._run_window(ask_folder)
        if self.window_problem is not None:
            print(f"kenning: {self.window_problem}", file=sys.stderr)
            self.exit_code = 1
            self.stop()

    def _run_window(self, ask_folder: Path | None) -> None:
        if self.window is None or self._stopping.is_set():
            return
        self._window_running = True
        try:
            self.window.run(self.host, ask_folder, self.stop)
        except Exception as exc:  # the service goes on without a window
            message = str(exc) if isinstance(exc, WindowUnavailable) else (
                f"The window could not be shown ({exc}).")
            log.error("%s", message, exc_info=not isinstance(exc, WindowUnavailable))
            self.window_problem = message
            return
        finally:
            self._window_running = False
        self.stop()  # the user quit the window: that is quitting Kenning

    def _log_error(self, message: str) -> None:
        log.warning("indexing: %s", message)

    # -- connections -----------------------------------------------------------------------

    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                conn = self._listener.accept()
            except OSError:
                if self._stopping.is_set():
                    return
                time.sleep(0.1)
                continue
            threading.Thread(target=self._serve, args=(conn,), name="kenning-client",
                             daemon=True).start()

    def _serve(self, conn: Connection) -> None:
        with conn:
            while not self._stopping.is_set():
                try:
                    request = receive(conn)
                except (EOFError, OSError, ValueError):
                    return
                try:
                    result = self.handle(request, _Replies(conn))
                    conn.send_bytes(encode({"event": "result", "result": result}))
                except ServiceError as exc:
                    _send_quietly(conn, {"event": "error", "message": str(exc),
                                         "usage": exc.usage})
                except (BrokenPipeError, ConnectionError, EOFError):
                    return
                except Exception as exc:
                    log.exception("request %r failed", request.get("action"))
                    _send_quietly(conn, {"event": "error", "message": f"Kenning's background "
                                         f"service hit a problem: {exc}"})

    def handle(self, request: dict[str, Any], replies: _Replies) -> dict[str, Any]:
        action = request.get("action")
        handler = self._handlers().get(str(action))
        if handler is None:
            raise ServiceError(f"The service does not know the request {action!r}.")
        return handler(request, replies)

    def _handlers(self) -> dict[str, Callable[[dict[str, Any], _Replies], dict[str, Any]]]:
        return {
            "ping": lambda r, _: self._describe(),
            "status": lambda r, _: self._describe(),
            "search": self._search,
            "ask": self._ask,
            "index": self._index,
            "retry": self._retry,
            "forget": self._forget,
            "pause": lambda r, _: {"changed": self.host.set_paused(True)},
            "resume": lambda r, _: {"changed": self.host.set_paused(False)},
            "focus-folder": self._focus,
            "show-window": self._show_window,
            "stop": self._stop_request,
            # A client's Ctrl+C arriving after its request was answered: nothing to stop.
            "cancel": lambda r, _: {},
        }

    # -- requests --------------------------------------------------------------------------

    def _describe(self) -> dict[str, Any]:
        host = self.host
        progress = host.last_progress
        return {
            "running": True,
            "pid": os.getpid(),
            "since": self.started_at,
            "phase": host.phase,
            "paused": host.paused,
            "on_battery": host.pacer.on_battery,
            "model": host.model_state,
            "model_error": host.model_error,
            "progress": None if progress is None or host.phase == "idle" else {
                "phase": progress.phase, "done": progress.done, "total": progress.total,
                "current": progress.current, "ocr_pages": progress.ocr_pages},
            "window": self._window_running,
            "install": self.install,
        }

    @contextlib.contextmanager
    def _reader(self) -> Iterator[Store]:
        """A read connection, once the engine has created or migrated the schema (a request
        may arrive in the moment between listening and that). An engine waiting for another
        command's writer lock leaves the schema to that command."""
        if self._writer_lock.is_locked and not self.host.wait_for_database(DATABASE_WAIT_S):
            raise ServiceError(self.host.database_error or
                               "The index is still being prepared; try again in a moment.")
        store = Store.open_reader(self.paths.database)
        try:
            yield store
        finally:
            store.close()

    def _search(self, request: dict[str, Any], _: _Replies) -> dict[str, Any]:
        mode = str(request.get("mode", "hybrid"))
        model = None
        warnings: list[str] = []
        if mode != "lexical":
            model = self._model_for_queries(warnings)
        with self._reader() as store:
            result = search(store, str(request["query"]), model,
                            limit=int(request.get("limit", 10)), mode=mode)
        result.warnings[:0] = warnings
        return {"json": result.to_json(), "hits": [hit_to_wire(h) for h in result.hits]}

    def _model_for_queries(self, warnings: list[str]) -> Any:
        host = self.host
        host.wait_for_model(MODEL_WAIT_S)
        if host.interactive_model is None:
            reason = host.model_error or "the model is still loading"
            warnings.append(f"Keyword search only: {reason}")
            return None
        if host.in_handover:
            warnings.append(HANDOVER_NOTE)
        return host.interactive_model

    def _ask(self, request: dict[str, Any], replies: _Replies) -> dict[str, Any]:
        warnings: list[str] = []
        model = self._model_for_queries(warnings)
        if model is None:
            raise ServiceError(f"Answers need the model: {warnings[0].split(': ', 1)[-1]}.")
        cancel = replies.cancel_on_request()
        stream = bool(request.get("stream", True))
        with self._reader() as store:
            answerer = Answerer(store, model, mode=self.services.settings.answer_mode)
            answer = answerer.ask(
                str(request["question"]),
                scope=request.get("scope"),
                on_text=(lambda piece: replies.send({"event": "text", "text": piece}))
                if stream and answerer.streams else None,
                cancel=cancel,
            )
        return {"answer": answer_to_wire(answer), "interrupted": cancel.cancelled}

    def _index(self, request: dict[str, Any], replies: _Replies) -> dict[str, Any]:
        folders = [_folder(raw) for raw in request.get("paths", [])]
        ocr = request.get("ocr")  # None: the folders' own setting stays
        made = [self.host.add_folder(folder, None if ocr is None else bool(ocr))
                for folder in folders]
        if not made:
            with self._reader() as store:
                if not store.folders.all():
                    raise ServiceError("No folders yet. Add one: kenning index ~/Documents",
                                       usage=True)
            made.append(self.host.rescan())
        return self._wait(max(made), bool(request.get("wait_embedded")), replies)

    def _retry(self, request: dict[str, Any], replies: _Replies) -> dict[str, Any]:
        with self._reader() as store:
            failed = store.files.state_counts().get("failed", 0)
        if not failed:
            return {"retried": 0}
        made = self.host.retry_failed()
        return {"retried": failed,
                **self._wait(made, bool(request.get("wait_embedded")), replies)}

    def _wait(self, made: float, embedded: bool, replies: _Replies) -> dict[str, Any]:
        """Until the work asked for at ``made`` is searchable by its words (or, asked to,
        embedded too), sending progress as it goes; the client leaving stops the wait only."""
        gone = replies.cancel_on_request()
        for wait_embedded in (False, True) if embedded else (False,):
            while not self.host.wait_until(made, wait_embedded, timeout=PROGRESS_EVERY_S,
                                           stop=lambda: gone.cancelled):
                if gone.cancelled or self._stopping.is_set():
                    return {"complete": False, **self._counts()}
                if wait_embedded and self.host.model_state == "failed":
                    raise ServiceError(f"Embedding cannot go on: {self.host.model_error}")
                progress = self.host.last_progress
                if progress is not None:
                    replies.send({"event": "progress", "phase": progress.phase,
                                  "done": progress.done, "total": progress.total,
                                  "current": progress.current,
                                  "ocr_pages": progress.ocr_pages})
            replies.send({"event": "progress", "phase": "words-ready" if not wait_embedded
                          else "embedded", "done": 0, "total": 0, "current": ""})
        return {"complete": True, **self._counts()}

    def _counts(self) -> dict[str, Any]:
        with self._reader() as store:
            counts = store.files.state_counts()
            chunks_left = store.chunks.passages_to_embed(self.host.embedding_model_id)
        return {"files": counts, "chunks_to_embed": chunks_left,
                "model": self.host.model_state, "embed_rate": self.host.embed_rate}

    def _forget(self, request: dict[str, Any], _: _Replies) -> dict[str, Any]:
        with self._reader() as store:
            known = {path for _, path in store.folders.all()}
        removed, unknown = [], []
        for raw in request.get("paths", []):
            folder = str(Path(raw).expanduser().resolve())
            if folder in known:
                made = self.host.remove_folder(Path(folder))
                self.host.wait_until(made, False, timeout=0)  # the request is in
                removed.append(raw)
            else:
                unknown.append(raw)
        return {"removed": removed, "unknown": unknown}

    def _focus(self, request: dict[str, Any], _: _Replies) -> dict[str, Any]:
        self.host.ask_about(_folder(request.get("path", "")))
        return {}

    def _show_window(self, request: dict[str, Any], _: _Replies) -> dict[str, Any]:
        raw = request.get("ask_folder")
        folder = Path(raw) if isinstance(raw, str) else None
        if self.window is None or not display_available():
            raise ServiceError("Kenning's background service has no display to show its "
                               "window on (it was started without one, or by a build "
                               "without the window). Stop it with `kenning service stop`, "
                               "then start Kenning again.")
        if self._window_running:
            self.window.show(folder)
        else:
            self._main_jobs.put(lambda: self._run_window(folder))
        return {}

    def _stop_request(self, request: dict[str, Any], _: _Replies) -> dict[str, Any]:
        # Answered first; the service then stops on its own threads.
        threading.Timer(0.1, self.stop).start()
        return {"pid": os.getpid()}


class _Replies:
    """The messages sent back to one client before its result, and the client's own news:
    a ``cancel`` request, or the client leaving, cancels the work."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._cancel = _ClientCancel(conn)

    def send(self, message: dict[str, Any]) -> None:
        if self._cancel.cancelled:
            return  # the client stopped listening
        try:
            self.conn.send_bytes(encode(message))
        except OSError:
            self._cancel.cancel()

    def cancel_on_request(self) -> CancelToken:
        return self._cancel


class _ClientCancel(CancelToken):
    """Cancelled once the client sends anything (or leaves) while its request runs."""

    def __init__(self, conn: Connection) -> None:
        super().__init__()
        self.conn = conn

    @property
    def cancelled(self) -> bool:
        if not self._event.is_set():
            try:
                waiting = self.conn.poll(0)
            except OSError:
                waiting = True
            if waiting:
                self._event.set()
        return self._event.is_set()


def _folder(raw: object) -> Path:
    try:
        return indexable_folder(Path(str(raw)))
    except (NotADirectoryError, OSError) as exc:
        raise ServiceError(str(exc), usage=True) from exc


def _send_quietly(conn: Connection, message: dict[str, Any]) -> None:
    with contextlib.suppress(OSError):
        conn.send_bytes(encode(message))

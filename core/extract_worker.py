"""Extraction in a child process, so a file that crashes or hangs the PDF library costs that
file only: the child is restarted and the file is recorded as failed with the reason.

It also keeps PyMuPDF (which is not thread-safe) off the indexer's threads, so the window may
render pages while indexing runs.

>>> with IsolatedExtractor(timeout=60) as extractor:
...     document = extractor.extract(Path("report.pdf"))
"""

from __future__ import annotations

import contextlib
import multiprocessing
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import TracebackType

from core.extract import ExtractionError, extract
from core.types import Document

DEFAULT_TIMEOUT_S = 120.0


class IsolatedExtractor:
    def __init__(self, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.timeout = timeout
        # "spawn": a fresh interpreter, never a fork of a process that runs threads (Qt, llama).
        self._context = multiprocessing.get_context("spawn")
        self._process: BaseProcess | None = None
        self._conn: Connection | None = None
        #: The file sent ahead with ``start``, whose answer has not been taken yet.
        self._started: str | None = None

    def start(self, path: Path) -> None:
        """Send ``path`` to the child now; the next ``extract(path)`` takes its answer. Lets
        the child read one file while the caller works on the previous one."""
        if self._started is not None:
            return
        conn = self._ensure_child()
        try:
            conn.send((str(path), None))
        except OSError:
            self._kill()  # extract() starts a new child and reports the file on its own
            return
        self._started = str(path)

    def extract(self, path: Path, max_bytes: int | None = None) -> Document:
        """Like ``core.extract.extract``; raises ExtractionError for a crash or a hang too."""
        started, self._started = self._started, None
        if started is not None and (started != str(path) or max_bytes is not None):
            # Sent ahead but not wanted after all: its answer comes first, so take it.
            with contextlib.suppress(ExtractionError):
                self._answer()
            started = None
        if started is None:
            conn = self._ensure_child()
            try:
                conn.send((str(path), max_bytes))
            except OSError as exc:
                self._kill()
                raise ExtractionError(
                    "the file reader crashed on this file; it may be damaged"
                ) from exc
        return self._answer()

    def _answer(self) -> Document:
        conn = self._conn
        if conn is None:
            raise ExtractionError("the file reader crashed on this file; it may be damaged")
        try:
            if not conn.poll(self.timeout):
                self._kill()
                raise ExtractionError(
                    f"took longer than {self.timeout:.0f} s to read; it may be damaged"
                )
            status, payload = conn.recv()
        except (EOFError, BrokenPipeError, ConnectionResetError, OSError) as exc:
            self._kill()
            raise ExtractionError(
                "the file reader crashed on this file; it may be damaged"
            ) from exc
        if status == "ok":
            assert isinstance(payload, Document)
            return payload
        if status == "error":
            raise ExtractionError(str(payload))
        raise ExtractionError(f"unexpected error while reading: {payload}")

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.send(None)
        if self._process is not None:
            self._process.join(timeout=5)
        self._kill()

    def __enter__(self) -> IsolatedExtractor:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _ensure_child(self) -> Connection:
        if self._process is not None and self._process.is_alive() and self._conn is not None:
            return self._conn
        self._kill()
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=_serve, args=(child,), name="kenning-extract", daemon=True
        )
        process.start()
        child.close()
        self._process, self._conn = process, parent
        return parent

    def _kill(self) -> None:
        self._started = None
        if self._process is not None and self._process.is_alive():
            self._process.kill()
            self._process.join(timeout=5)
        if self._conn is not None:
            self._conn.close()
        self._process = self._conn = None


def _serve(conn: Connection) -> None:
    """The child's loop: one path in, one Document (or reason) out."""
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        path, max_bytes = request
        try:
            conn.send(("ok", extract(Path(path), max_bytes=max_bytes)))
        except ExtractionError as exc:
            conn.send(("error", str(exc)))
        except Exception as exc:  # a library bug on odd input: report it, keep serving
            conn.send(("unexpected", repr(exc)))

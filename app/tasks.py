"""The one bridge from core's blocking calls to Qt: run work off the GUI thread, deliver the
outcome on it.

A task is a plain function of a ``TaskContext``; it runs on a worker thread, where it may use
``ctx.store`` (a reader connection owned by that thread), watch ``ctx.cancel`` and send
``ctx.report(value)`` (progress, streamed text). Its ``success``, ``failure`` and ``progress``
callbacks run on the GUI thread, like Anki's operations:

>>> tasks = TaskRunner(paths.database)
>>> tasks.run(lambda ctx: search(ctx.store, "lease"), success=results.show, lane="search")

Tasks in the same ``lane`` follow "latest wins": starting one cancels the one before, and
anything the older one still delivers is dropped, so search-as-you-type never shows stale hits.
Tasks on ``Pool.DOCUMENTS`` run one at a time, because MuPDF must not run on two threads at
once.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from core.cancel import Cancelled, CancelToken
from core.store.database import Store

log = logging.getLogger(__name__)

T = TypeVar("T")
GENERAL_WORKERS = 3
SHUTDOWN_WAIT_MS = 10_000


class Pool(Enum):
    GENERAL = "general"
    DOCUMENTS = "documents"  # MuPDF rendering: one thread, never two documents at once


class TaskContext:
    """What a task sees on its worker thread."""

    def __init__(self, runner: TaskRunner, operation: Operation[Any]) -> None:
        self._runner = runner
        self._operation = operation
        self.cancel = operation.cancel_token

    @property
    def store(self) -> Store:
        """This thread's own reader connection (connections are never shared across threads)."""
        return self._runner._reader()

    def report(self, value: object) -> None:
        """Send ``value`` to the task's ``progress`` callback on the GUI thread."""
        if not self.cancel.cancelled:
            self._runner._progressed.emit(self._operation.id, value)


@dataclass(eq=False)
class Operation(Generic[T]):
    """One submitted task and where its outcome goes. ``cancel()`` asks it to stop and drops
    whatever it still delivers."""

    id: int
    lane: str | None
    success: Callable[[T], None] | None = None
    failure: Callable[[BaseException], None] | None = None
    progress: Callable[[Any], None] | None = None
    finished: Callable[[], None] | None = None
    cancel_token: CancelToken = field(default_factory=CancelToken)
    done: bool = False

    def cancel(self) -> None:
        self.cancel_token.cancel()

    @property
    def cancelled(self) -> bool:
        return self.cancel_token.cancelled


class _Job(QRunnable):
    def __init__(self, body: Callable[[], None]) -> None:
        super().__init__()
        self._body = body

    def run(self) -> None:
        self._body()


class TaskRunner(QObject):
    """Runs task functions on worker threads; callbacks arrive on the GUI thread."""

    #: A task failed and had no ``failure`` callback: a message for the status bar.
    unhandled_error = Signal(str)

    _succeeded = Signal(int, object)
    _failed = Signal(int, object)
    _progressed = Signal(int, object)

    def __init__(self, database: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.database = database
        self._pools = {Pool.GENERAL: QThreadPool(self), Pool.DOCUMENTS: QThreadPool(self)}
        self._pools[Pool.GENERAL].setMaxThreadCount(GENERAL_WORKERS)
        self._pools[Pool.DOCUMENTS].setMaxThreadCount(1)
        for pool in self._pools.values():
            # Threads live until shutdown, so each keeps its reader connection open.
            pool.setExpiryTimeout(-1)
        self._ids = itertools.count(1)
        self._operations: dict[int, Operation[Any]] = {}
        self._latest_in_lane: dict[str, int] = {}
        self._local = threading.local()
        self._readers: list[Store] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        # Emitted on worker threads; these slots belong to this GUI-thread object, so Qt
        # queues each call onto the GUI thread.
        self._succeeded.connect(self._deliver_success)
        self._failed.connect(self._deliver_failure)
        self._progressed.connect(self._deliver_progress)

    # -- GUI thread ------------------------------------------------------------------------

    def run(
        self,
        fn: Callable[[TaskContext], T],
        *,
        success: Callable[[T], None] | None = None,
        failure: Callable[[BaseException], None] | None = None,
        progress: Callable[[Any], None] | None = None,
        finished: Callable[[], None] | None = None,
        lane: str | None = None,
        pool: Pool = Pool.GENERAL,
    ) -> Operation[T]:
        """Start ``fn(ctx)`` on a worker thread. In a ``lane`` the previous task is cancelled."""
        operation: Operation[T] = Operation(
            next(self._ids), lane, success, failure, progress, finished
        )
        if self._closed:
            operation.cancel()
            return operation
        if lane is not None:
            previous = self._operations.get(self._latest_in_lane.get(lane, 0))
            if previous is not None:
                previous.cancel()
            self._latest_in_lane[lane] = operation.id
        self._operations[operation.id] = operation
        context = TaskContext(self, operation)
        self._pools[pool].start(_Job(lambda: self._execute(fn, context, operation)))
        return operation

    def cancel_all(self) -> None:
        for operation in list(self._operations.values()):
            operation.cancel()

    def shutdown(self) -> None:
        """Cancel everything, wait for running tasks to notice, close every reader."""
        self._closed = True
        self.cancel_all()
        for pool in self._pools.values():
            pool.clear()
            if not pool.waitForDone(SHUTDOWN_WAIT_MS):
                log.warning("a background task did not finish within the shutdown wait")
        with self._readers_lock:
            readers, self._readers = self._readers, []
        for store in readers:
            store.close()

    @property
    def busy(self) -> bool:
        return bool(self._operations)

    def lane_busy(self, lane: str) -> bool:
        """Whether the latest task of ``lane`` has not delivered its outcome yet."""
        return lane in self._latest_in_lane

    def _is_current(self, operation: Operation[Any]) -> bool:
        if self._closed or operation.cancelled:
            return False
        return operation.lane is None or self._latest_in_lane.get(operation.lane) == operation.id

    def _finish(self, operation_id: int) -> Operation[Any] | None:
        operation = self._operations.pop(operation_id, None)
        if operation is None:
            return None
        operation.done = True
        if operation.lane is not None and self._latest_in_lane.get(operation.lane) == operation_id:
            del self._latest_in_lane[operation.lane]
        return operation

    def _deliver_success(self, operation_id: int, result: object) -> None:
        operation = self._operations.get(operation_id)
        if operation is None:
            return
        current = self._is_current(operation)
        self._finish(operation_id)
        if current and operation.success is not None:
            operation.success(result)
        if operation.finished is not None and not self._closed:
            operation.finished()

    def _deliver_failure(self, operation_id: int, error: object) -> None:
        operation = self._operations.get(operation_id)
        if operation is None:
            return
        current = self._is_current(operation) and not isinstance(error, Cancelled)
        self._finish(operation_id)
        if current and isinstance(error, BaseException):
            if operation.failure is not None:
                operation.failure(error)
            else:
                self.unhandled_error.emit(f"Something went wrong in the background: {error}")
        if operation.finished is not None and not self._closed:
            operation.finished()

    def _deliver_progress(self, operation_id: int, value: object) -> None:
        operation = self._operations.get(operation_id)
        if operation is not None and operation.progress is not None and self._is_current(operation):
            operation.progress(value)

    # -- worker threads --------------------------------------------------------------------

    def _execute(
        self, fn: Callable[[TaskContext], Any], context: TaskContext, operation: Operation[Any]
    ) -> None:
        if operation.cancelled:
            self._failed.emit(operation.id, Cancelled())
            return
        try:
            result = fn(context)
        except BaseException as exc:  # delivered to the GUI thread, which decides
            if not isinstance(exc, Cancelled):
                log.debug("task %s failed", operation.id, exc_info=True)
            self._failed.emit(operation.id, exc)
        else:
            self._succeeded.emit(operation.id, result)

    def _reader(self) -> Store:
        store: Store | None = getattr(self._local, "store", None)
        if store is None:
            store = Store.open_reader(self.database)
            self._local.store = store
            with self._readers_lock:
                self._readers.append(store)
        return store

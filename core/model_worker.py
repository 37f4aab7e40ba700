"""One thread owns the model; every call is queued by priority.

llama.cpp contexts are not thread-safe, and a user's query or answer must not wait behind
hours of background embedding. Background work goes in as small jobs (one embedding batch
each); an interactive job jumps the queue and runs as soon as the current batch ends.

>>> worker = ModelWorker(model)
>>> interactive = worker.client(Priority.INTERACTIVE)   # a TextModel for search and answers
>>> background = worker.client(Priority.BACKGROUND)     # a TextModel for the indexer
>>> worker.stop()
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from enum import IntEnum
from typing import Any, TypeVar

import numpy as np

from core.cancel import CancelToken
from core.model import ChatMessage, GenerationSettings, TextModel

T = TypeVar("T")
_DONE = object()


class Priority(IntEnum):
    INTERACTIVE = 0
    BACKGROUND = 10


class ModelWorker:
    def __init__(self, model: TextModel) -> None:
        self.model = model
        self._queue: queue.PriorityQueue[tuple[int, int, Callable[[], None] | None]] = (
            queue.PriorityQueue()
        )
        self._order = itertools.count()
        self._interactive_waiting = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="kenning-model", daemon=True)
        self._thread.start()

    def submit(
        self, priority: Priority, fn: Callable[[TextModel], T], model: TextModel | None = None
    ) -> Future[T]:
        """Run ``fn(model)`` on the worker thread; ``model`` defaults to the worker's own (another
        one, such as a search view of it, still runs here: one thread owns llama.cpp)."""
        future: Future[T] = Future()
        target = self.model if model is None else model

        def job() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(fn(target))
            except BaseException as exc:  # handed to the caller, who decides
                future.set_exception(exc)

        self._queue.put((int(priority), next(self._order), job))
        return future

    def client(self, priority: Priority, model: TextModel | None = None) -> TextModel:
        """A TextModel whose calls run on this thread at ``priority``; ``model`` as in
        ``submit``."""
        return _WorkerClient(self, priority, model)

    @property
    def busy_with_interactive(self) -> bool:
        with self._lock:
            return self._interactive_waiting > 0

    def _mark_interactive(self, delta: int) -> None:
        with self._lock:
            self._interactive_waiting += delta

    def stop(self) -> None:
        self._queue.put((-1, next(self._order), None))
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            _, _, job = self._queue.get()
            if job is None:
                return
            job()


class _WorkerClient(TextModel):
    """A TextModel whose every call runs on the worker thread at a fixed priority."""

    def __init__(self, worker: ModelWorker, priority: Priority,
                 model: TextModel | None = None) -> None:
        self._worker = worker
        self._priority = priority
        self._model = model = worker.model if model is None else model
        self.model_id, self.dim, self.n_ctx, self.profile, self.vector_source = (
            model.model_id,
            model.dim,
            model.n_ctx,
            model.profile,
            model.vector_source,
        )

    def _call(self, fn: Callable[[TextModel], T]) -> T:
        interactive = self._priority == Priority.INTERACTIVE
        if interactive:
            self._worker._mark_interactive(1)
        try:
            return self._worker.submit(self._priority, fn, self._model).result()
        finally:
            if interactive:
                self._worker._mark_interactive(-1)

    def count_tokens(self, text: str) -> int:
        # The tokenizer is read-only and cheap; it need not wait behind a batch.
        return self._model.count_tokens(text)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._call(lambda m: m.embed_documents(texts))

    def embed_query(self, text: str) -> np.ndarray:
        return self._call(lambda m: m.embed_query(text))

    def chat_stream(
        self,
        messages: Sequence[ChatMessage],
        settings: GenerationSettings | None = None,
        cancel: CancelToken | None = None,
    ) -> Iterator[str]:
        pieces: queue.Queue[Any] = queue.Queue()

        def generate(model: TextModel) -> None:
            try:
                for piece in model.chat_stream(messages, settings, cancel):
                    pieces.put(piece)
            except BaseException as exc:
                pieces.put(exc)
            finally:
                pieces.put(_DONE)

        interactive = self._priority == Priority.INTERACTIVE
        if interactive:
            self._worker._mark_interactive(1)
        try:
            self._worker.submit(self._priority, generate, self._model)
            while (item := pieces.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            if interactive:
                self._worker._mark_interactive(-1)

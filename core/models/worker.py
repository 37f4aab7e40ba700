"""One thread owns the model; every call is queued by priority.

llama.cpp contexts are not thread-safe, and a user's query or answer must not wait behind
hours of background embedding. Background work goes in as small jobs (one model pass each);
an interactive job jumps the queue and stops the background pass in flight (it runs again
afterwards: a pass on a busy machine takes seconds), and background work then holds back for
a moment, so the calls that follow (the answer after its search, the next keystroke's
search) do not wait behind a pass either.

>>> worker = ModelWorker(model)
>>> interactive = worker.client(Priority.INTERACTIVE)   # a TextModel for search and answers
>>> background = worker.client(Priority.BACKGROUND)     # a TextModel for the indexer
>>> worker.stop()
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, InvalidStateError
from enum import IntEnum
from typing import Any, TypeVar

import numpy as np

from core.cancel import CancelToken, PassInterrupt, Preempted
from core.models.interface import ChatMessage, GenerationSettings, TextModel, runs_within

T = TypeVar("T")
_DONE = object()


STOPPED_MESSAGE = "The model was closed (Kenning is quitting or switching models); try again."


class ModelStopped(RuntimeError):
    """A call reached a model worker that has stopped."""


class Priority(IntEnum):
    INTERACTIVE = 0
    BACKGROUND = 10


#: After an interactive call, background work holds back this long for the next one: a query's
#: embedding is followed by its answer's prompt, one keystroke's search by the next.
INTERACTIVE_GRACE_S = 1.0


class ModelWorker:
    def __init__(self, model: TextModel, interactive_grace_s: float = INTERACTIVE_GRACE_S) -> None:
        self.model = model
        self._grace_s = interactive_grace_s
        self._hold_background_until = 0.0
        self._interactive_arrived = threading.Event()
        self._stop_background_pass = PassInterrupt()
        self._queue: queue.PriorityQueue[tuple[int, int, Callable[[], None] | None]] = (
            queue.PriorityQueue()
        )
        self._order = itertools.count()
        self._interactive_waiting = 0
        self._lock = threading.Lock()
        #: Calls not yet answered, failed by ``stop``: once the thread is gone nobody would.
        self._unanswered: set[Future[Any]] = set()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="kenning-model", daemon=True)
        self._thread.start()

    def submit(
        self, priority: Priority, fn: Callable[[TextModel], T], model: TextModel | None = None,
        preemptible: bool = False,
    ) -> Future[T]:
        """Run ``fn(model)`` on the worker thread; ``model`` defaults to the worker's own (another
        one, such as a search view of it, still runs here: one thread owns llama.cpp). A
        ``preemptible`` background job is stopped when interactive work arrives and run again
        after it, so ``fn`` must be safe to repeat (an embedding pass is)."""
        future: Future[T] = Future()
        with self._lock:
            if self._stopped:
                raise ModelStopped(STOPPED_MESSAGE)
            self._unanswered.add(future)
        future.add_done_callback(self._answered)
        target = self.model if model is None else model
        order = next(self._order)

        def job() -> None:
            if not future.running() and not future.set_running_or_notify_cancel():
                return
            try:
                if preemptible:
                    with target.preemptible(self._stop_background_pass):
                        result = fn(target)
                else:
                    result = fn(target)
            except Preempted:
                self._queue.put((int(priority), order, job))  # its own place, after the call
                return
            except BaseException as exc:  # handed to the caller, who decides
                future.set_exception(exc)
                return
            future.set_result(result)

        self._queue.put((int(priority), order, job))
        if priority == Priority.INTERACTIVE:
            self._stop_background_pass.set()
            self._interactive_arrived.set()
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
        """Stop the thread; calls still queued fail with ``ModelStopped`` (their callers
        would otherwise wait for ever), and so do calls made after."""
        with self._lock:
            self._stopped = True
        self._queue.put((-1, next(self._order), None))
        self._interactive_arrived.set()  # a held background job must not delay the stop
        self._thread.join(timeout=30)
        with self._lock:
            unanswered = list(self._unanswered)
        for future in unanswered:
            if future.running():
                continue  # a pass longer than the join: the thread still answers it
            with contextlib.suppress(InvalidStateError):  # answered or cancelled just now
                future.set_exception(ModelStopped(STOPPED_MESSAGE))

    def _answered(self, future: Future[Any]) -> None:
        with self._lock:
            self._unanswered.discard(future)

    def _run(self) -> None:
        while True:
            priority, _, job = self._next_job()
            if job is None:
                return
            job()
            if priority == Priority.INTERACTIVE:
                self._hold_background_until = time.monotonic() + self._grace_s

    def _next_job(self) -> tuple[int, int, Callable[[], None] | None]:
        while True:
            # Cleared before the queue is read: an interactive call that comes after this
            # finds either itself first in the queue or the background pass to stop.
            self._stop_background_pass.clear()
            item = self._queue.get()
            hold = self._hold_background_until - time.monotonic()
            if item[0] != Priority.BACKGROUND or hold <= 0:
                return item
            self._queue.put(item)  # back in its place; an interactive call may come first
            self._interactive_arrived.wait(hold)
            self._interactive_arrived.clear()


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
        self.embed_max_tokens = model.embed_max_tokens
        self.can_score = model.can_score
        self.n_params = model.n_params
        self.reader_head = model.reader_head

    def _call(self, fn: Callable[[TextModel], T], preemptible: bool = False) -> T:
        interactive = self._priority == Priority.INTERACTIVE
        if interactive:
            self._worker._mark_interactive(1)
        try:
            return self._worker.submit(self._priority, fn, self._model,
                                       preemptible=preemptible and not interactive).result()
        finally:
            if interactive:
                self._worker._mark_interactive(-1)

    def count_tokens(self, text: str) -> int:
        # The tokenizer is read-only and cheap; it need not wait behind a batch.
        return self._model.count_tokens(text)

    def embed_batch(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        if query or self._priority == Priority.INTERACTIVE:
            return self._call(lambda m: m.embed_batch(texts, query=query))
        # Background batches go in as jobs of about one model pass each: an interactive call
        # then waits for one pass, not for a whole batch of chunks (seconds on a busy machine).
        parts = [self._embed_part(part)
                 for part in runs_within(texts, self.count_tokens, self.embed_max_tokens)]
        return np.concatenate(parts) if parts else np.zeros((0, self.dim), dtype=np.float32)

    def _embed_part(self, part: Sequence[str]) -> np.ndarray:
        return self._call(lambda m: m.embed_batch(part), preemptible=True)

    def embed_in_context(self, pieces: Sequence[str]) -> np.ndarray:
        return self._call(lambda m: m.embed_in_context(pieces), preemptible=True)

    def continuation_logprobs(
        self, pairs: Sequence[tuple[str, str]], cancel: CancelToken | None = None
    ) -> list[np.ndarray]:
        return self._call(lambda m: m.continuation_logprobs(pairs, cancel))

    def read_continuations(
        self, pairs: Sequence[tuple[str, str]], cancel: CancelToken | None = None
    ) -> tuple[list[np.ndarray], np.ndarray | None]:
        return self._call(lambda m: m.read_continuations(pairs, cancel))

    def complete_line(self, prompt: str, max_tokens: int = 16,
                      cancel: CancelToken | None = None) -> str:
        return self._call(lambda m: m.complete_line(prompt, max_tokens, cancel))

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

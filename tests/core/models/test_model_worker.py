import threading
import time
from contextlib import contextmanager

import pytest

from core.cancel import PassInterrupt, Preempted
from core.models.worker import ModelStopped, ModelWorker, Priority
from tests.fakes import FakeModel


def test_interactive_calls_jump_the_background_queue():
    gate = threading.Event()
    order: list[str] = []
    worker = ModelWorker(FakeModel())
    try:
        worker.submit(Priority.BACKGROUND, lambda m: gate.wait(5))  # occupies the thread
        jobs = [worker.submit(Priority.BACKGROUND, lambda m, i=i: order.append(f"bg{i}"))
                for i in range(3)]
        urgent = worker.submit(Priority.INTERACTIVE, lambda m: order.append("query"))
        gate.set()
        urgent.result(5)
        for job in jobs:
            job.result(5)
        assert order[0] == "query"
    finally:
        worker.stop()


def test_clients_proxy_the_model_and_stream_chat():
    model = FakeModel(reply="one two three")
    worker = ModelWorker(model)
    try:
        client = worker.client(Priority.INTERACTIVE)
        assert client.model_id == model.model_id
        assert client.embed_query("lease").shape == (model.dim,)
        assert "".join(client.chat_stream([])).split() == ["one", "two", "three"]
    finally:
        worker.stop()


class GatedModel(FakeModel):
    """Notes each call; the first background pass waits for the test to let it go."""

    def __init__(self) -> None:
        super().__init__(embed_max_tokens=40)
        self.calls: list[str] = []
        self.first_pass_started = threading.Event()
        self.release = threading.Event()

    def embed_batch(self, texts, *, query=False):
        if query:
            self.calls.append("query")
            return super().embed_batch(texts, query=True)
        if not self.calls:
            self.first_pass_started.set()
            self.release.wait(5)
        self.calls.append(f"documents x{len(texts)}")
        return super().embed_batch(texts)


def test_a_long_background_batch_lets_a_query_in_after_one_model_pass():
    model = GatedModel()
    worker = ModelWorker(model)
    try:
        background = worker.client(Priority.BACKGROUND)
        interactive = worker.client(Priority.INTERACTIVE)
        texts = [" ".join(f"word{i}x{j}" for j in range(15)) for i in range(6)]  # 15 tokens each
        done: list = []
        batch = threading.Thread(target=lambda: done.append(background.embed_documents(texts)))
        batch.start()
        assert model.first_pass_started.wait(5)
        query = threading.Thread(target=interactive.embed_query, args=("word1x1",))
        query.start()
        while worker._queue.qsize() == 0:  # the query is queued behind the first pass
            threading.Event().wait(0.001)
        model.release.set()
        batch.join(5)
        query.join(5)
        # Two texts (30 tokens) fit a 40-token pass; the query ran after the first pass.
        assert model.calls == ["documents x2", "query", "documents x2", "documents x2"]
        assert done[0].shape == (6, model.dim)
        assert (done[0] == model.embed_documents(texts)).all()  # the same vectors, in order
    finally:
        worker.stop()


def test_background_work_holds_back_briefly_after_an_interactive_call():
    order: list[str] = []
    worker = ModelWorker(FakeModel(), interactive_grace_s=2.0)
    try:
        worker.submit(Priority.INTERACTIVE, lambda m: order.append("query")).result(5)
        background = worker.submit(Priority.BACKGROUND, lambda m: order.append("batch"))
        threading.Event().wait(0.2)  # the answer's prompt follows its search a moment later
        worker.submit(Priority.INTERACTIVE, lambda m: order.append("answer")).result(5)
        background.result(10)  # runs once the grace after the answer has passed
        assert order == ["query", "answer", "batch"]
    finally:
        worker.stop()


class StoppableModel(GatedModel):
    """Its first background pass runs until the worker's interrupt is set, then stops."""

    def __init__(self) -> None:
        super().__init__()
        self.interrupt: PassInterrupt | None = None

    @contextmanager
    def preemptible(self, interrupt):
        self.interrupt = interrupt
        try:
            yield
        finally:
            self.interrupt = None

    def embed_batch(self, texts, *, query=False):
        if query:
            self.calls.append("query" + (" (stoppable)" if self.interrupt else ""))
            return FakeModel.embed_batch(self, texts, query=True)
        if not self.calls:
            self.first_pass_started.set()
            deadline = time.monotonic() + 5  # a worker that never interrupts fails, not hangs
            while self.interrupt is not None and not self.interrupt.is_set:
                assert time.monotonic() < deadline, "the pass was never interrupted"
                threading.Event().wait(0.001)
            self.calls.append("stopped")
            raise Preempted()
        self.calls.append(f"documents x{len(texts)}" + ("" if self.interrupt else " (plain)"))
        return FakeModel.embed_batch(self, texts)


def test_a_query_stops_the_background_pass_in_flight_which_then_runs_again():
    model = StoppableModel()
    worker = ModelWorker(model, interactive_grace_s=0.0)
    try:
        background = worker.client(Priority.BACKGROUND)
        interactive = worker.client(Priority.INTERACTIVE)
        texts = [" ".join(f"word{i}x{j}" for j in range(15)) for i in range(6)]
        done: list = []
        batch = threading.Thread(target=lambda: done.append(background.embed_documents(texts)))
        batch.start()
        assert model.first_pass_started.wait(5)
        assert interactive.embed_query("word1x1").shape == (model.dim,)  # no release needed
        batch.join(5)
        assert model.calls == ["stopped", "query", "documents x2", "documents x2",
                               "documents x2"]
        assert (done[0] == FakeModel(embed_max_tokens=40).embed_documents(texts)).all()
    finally:
        worker.stop()


def test_interactive_and_chat_work_is_never_stopped():
    model = StoppableModel()
    model.calls.append("warm")  # past the first, stopping pass
    worker = ModelWorker(model)
    try:
        worker.client(Priority.INTERACTIVE).embed_documents(["a b c"])
        worker.client(Priority.INTERACTIVE).embed_query("a")
        assert model.calls[1:] == ["documents x1 (plain)", "query"]
    finally:
        worker.stop()


def test_calls_waiting_when_the_worker_stops_fail_instead_of_waiting_for_ever():
    worker = ModelWorker(FakeModel())
    started, release = threading.Event(), threading.Event()

    def hold(model):
        started.set()
        release.wait(5)
        return "held"

    first = worker.submit(Priority.BACKGROUND, hold)
    assert started.wait(5)
    queued = worker.submit(Priority.INTERACTIVE, lambda m: m.embed_batch(["a"], query=True))
    stopping = threading.Thread(target=worker.stop)
    stopping.start()
    deadline = time.monotonic() + 5
    while worker._queue.qsize() < 2 and time.monotonic() < deadline:  # the stop is queued
        time.sleep(0.01)
    release.set()
    stopping.join(10)
    assert first.result(5) == "held"  # the call in flight finishes
    with pytest.raises(ModelStopped):
        queued.result(5)  # the one behind the stop is told, not left waiting
    with pytest.raises(ModelStopped):
        worker.client(Priority.INTERACTIVE).embed_batch(["b"], query=True)

import threading

from core.model_worker import ModelWorker, Priority
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

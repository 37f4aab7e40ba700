"""The background service in this process, spoken to over its real socket: search while it
indexes, index requests that return once files are searchable by their words, two clients
at once, one service per data folder, and nobody else's account may connect."""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from filelock import FileLock, Timeout

from core.config import AppPaths, Settings
from core.extract.ocr import find_ocr_engine
from core.index.writer_lock import lock_path as writer_lock_path
from core.index.writer_lock import one_writer
from core.service.launch import current_service
from core.service.protocol import (
    ServiceError,
    answer_from_wire,
    answer_to_wire,
    connect,
    endpoint,
    hit_from_wire,
    hit_to_wire,
    install_stamp,
)
from core.service.server import AlreadyRunning, BackgroundService
from core.services import Services
from core.store.database import Store
from core.types import Answer, Citation, Hit, SupportingQuote
from tests.docs_factory import make_scanned_pdf
from tests.fakes import FakeModel

WAIT_S = 60


def make_services(paths: AppPaths, model: FakeModel | None = None) -> Services:
    settings = Settings.load(paths.settings_file)
    return Services(paths, settings, lambda s, p: model or FakeModel(reply="Sixty days [1]."))


@pytest.fixture
def paths(home: Path) -> AppPaths:
    return AppPaths.resolve()


@pytest.fixture
def service(paths: AppPaths) -> Iterator[BackgroundService]:
    running = BackgroundService(make_services(paths))
    running.start()
    yield running
    running.close()


def fill(folder: Path, files: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(files):
        (folder / f"note-{n:03}.txt").write_text(
            f"Note {n}. The boiler pressure should read {n} bar. The tenant gives sixty days "
            "notice before leaving the flat.\n\n" + "Filler words about gardens. " * 40,
            encoding="utf-8")
    return folder


def request(paths: AppPaths, message: dict[str, object]) -> dict[str, object]:
    client = connect(paths)
    assert client is not None, "the service should be listening"
    with client:
        return client.request(message)


def test_index_returns_once_every_file_is_searchable_by_its_words(
    service: BackgroundService, paths: AppPaths, tmp_path: Path
) -> None:
    folder = fill(tmp_path / "docs", 12)
    events: list[dict[str, object]] = []
    client = connect(paths)
    assert client is not None
    with client:
        result = client.request({"action": "index", "paths": [str(folder)]}, events.append)
    assert result["complete"] is True
    files = result["files"]
    assert isinstance(files, dict)
    assert files["extracted"] + files["embedded"] == 12 and files["pending"] == 0
    assert any(e.get("phase") == "words-ready" for e in events)
    # What the reply promised holds: every file is found by its words now.
    found = request(paths, {"action": "search", "query": "\"pressure should read 11\"",
                            "mode": "lexical"})
    hits = [hit_from_wire(h) for h in found["hits"]]  # type: ignore[union-attr]
    assert [Path(h.path).name for h in hits] == ["note-011.txt"]


def test_index_with_wait_returns_once_everything_is_embedded(
    service: BackgroundService, paths: AppPaths, tmp_path: Path
) -> None:
    folder = fill(tmp_path / "docs", 5)
    result = request(paths, {"action": "index", "paths": [str(folder)], "wait_embedded": True})
    assert result["complete"] is True
    assert result["chunks_to_embed"] == 0
    store = Store.open_reader(paths.database)
    try:
        assert store.files.state_counts()["embedded"] == 5
    finally:
        store.close()


def test_a_service_without_a_window_loads_the_model_once_the_words_are_in(
    paths: AppPaths, tmp_path: Path
) -> None:
    folder = fill(tmp_path / "docs", 20)
    paths.ensure()
    store = Store.open(paths.database)
    store.folders.add(folder)  # a library the service finds at its start
    store.close()
    read_when_loaded: list[int] = []

    def loader(settings: Settings, paths_: AppPaths) -> FakeModel:
        store = Store.open_reader(paths.database)
        try:  # how many files were searchable by their words when the model was asked for
            counts = store.files.state_counts()
            read_when_loaded.append(counts["extracted"] + counts["embedded"])
        finally:
            store.close()
        return FakeModel()

    services = Services(paths, Settings.load(paths.settings_file), loader)
    running = BackgroundService(services)
    running.start(model_after_words=True)
    try:
        result = request(paths, {"action": "index", "paths": [str(folder)],
                                 "wait_embedded": True})
        assert result["complete"] is True and result["chunks_to_embed"] == 0
        assert read_when_loaded == [20]  # every file was read first, and it loaded once
    finally:
        running.close()


def test_a_search_loads_the_model_the_service_has_not_loaded_yet(
    paths: AppPaths, tmp_path: Path
) -> None:
    running = BackgroundService(make_services(paths))
    running.start(model_after_words=True)
    try:
        found = request(paths, {"action": "search", "query": "boiler pressure"})
        assert running.host.model_state == "ready"
        json_out = found["json"]
        assert isinstance(json_out, dict)
        assert not any("Keyword search only" in w for w in json_out["warnings"])
    finally:
        running.close()


def test_a_search_is_answered_while_the_service_indexes(
    service: BackgroundService, paths: AppPaths, tmp_path: Path
) -> None:
    folder = fill(tmp_path / "docs", 40)
    indexing = threading.Thread(target=request, args=(
        paths, {"action": "index", "paths": [str(folder)], "wait_embedded": True}))
    indexing.start()
    try:
        found = request(paths, {"action": "search", "query": "boiler pressure", "limit": 5})
        data = found["json"]
        assert isinstance(data, dict)
        assert data["query"] == "boiler pressure"
        status = request(paths, {"action": "status"})
        assert status["running"] is True and status["pid"] == os.getpid()
    finally:
        indexing.join(WAIT_S)
    assert not indexing.is_alive()


def test_two_clients_at_once_each_get_their_own_answer(
    service: BackgroundService, paths: AppPaths, tmp_path: Path
) -> None:
    folder = fill(tmp_path / "docs", 6)
    request(paths, {"action": "index", "paths": [str(folder)], "wait_embedded": True})
    results: dict[int, object] = {}

    def ask_for(n: int) -> None:
        found = request(paths, {"action": "search", "query": f"\"read {n} bar\"",
                                "mode": "lexical"})
        results[n] = [Path(h["path"]).name for h in found["hits"]]  # type: ignore[index,union-attr]

    threads = [threading.Thread(target=ask_for, args=(n,)) for n in (1, 4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_S)
    assert results == {1: ["note-001.txt"], 4: ["note-004.txt"]}


def test_an_answer_streams_and_a_cancel_stops_it(
    service: BackgroundService, paths: AppPaths, tmp_path: Path
) -> None:
    folder = fill(tmp_path / "docs", 3)
    request(paths, {"action": "index", "paths": [str(folder)], "wait_embedded": True})
    client = connect(paths)
    assert client is not None
    with client:
        reply = client.request({"action": "ask", "question": "How much notice does the "
                                "tenant give before leaving?", "stream": True})
    answer = answer_from_wire(reply["answer"])  # type: ignore[arg-type]
    assert answer.question.startswith("How much notice")
    assert reply["interrupted"] is False
    # A client that says anything while its answer is made has asked to stop it.
    client = connect(paths)
    assert client is not None
    with client:
        client.send({"action": "ask", "question": "How much notice does the tenant give?"})
        client.send({"action": "cancel"})
        reply = client.result()
    assert reply["interrupted"] is True
    assert answer_from_wire(reply["answer"]).found is False  # type: ignore[arg-type]


def test_a_folder_that_is_not_one_is_the_request_at_fault(
    service: BackgroundService, paths: AppPaths, tmp_path: Path
) -> None:
    with pytest.raises(ServiceError) as refused:
        request(paths, {"action": "index", "paths": [str(tmp_path / "missing")]})
    assert refused.value.usage and "not a folder" in str(refused.value)
    with pytest.raises(ServiceError) as unknown:
        request(paths, {"action": "make-coffee"})
    assert not unknown.value.usage


def test_forget_removes_only_a_known_folder(
    service: BackgroundService, paths: AppPaths, tmp_path: Path
) -> None:
    folder = fill(tmp_path / "docs", 2)
    request(paths, {"action": "index", "paths": [str(folder)]})
    result = request(paths, {"action": "forget", "paths": [str(folder), str(tmp_path)]})
    assert result == {"removed": [str(folder)], "unknown": [str(tmp_path)]}


def test_one_service_per_data_folder(service: BackgroundService, paths: AppPaths,
                                     tmp_path: Path) -> None:
    with pytest.raises(AlreadyRunning):
        BackgroundService(make_services(paths)).start()
    other = AppPaths.resolve(tmp_path / "other-home")
    assert endpoint(other) != endpoint(paths)
    assert connect(other) is None


def test_the_service_and_an_indexing_command_on_its_own_take_turns(
    paths: AppPaths, tmp_path: Path
) -> None:
    folder = fill(tmp_path / "docs", 3)
    results: list[dict[str, object]] = []
    with one_writer(paths.database, lambda: None):  # a `--no-service` index is running
        running = BackgroundService(make_services(paths))
        running.start()
        try:
            assert request(paths, {"action": "ping"})["running"] is True  # it answers
            asking = threading.Thread(target=lambda: results.append(
                request(paths, {"action": "index", "paths": [str(folder)]})))
            asking.start()
            asking.join(2)
            assert asking.is_alive() and not results  # its indexing waits for the command
            assert not running.host.database_ready
        except BaseException:
            running.close()
            raise
    try:
        asking.join(WAIT_S)
        assert results and results[0]["complete"] is True
        files = results[0]["files"]
        assert isinstance(files, dict) and files["pending"] == 0
        assert files["extracted"] + files["embedded"] == 3
        # Now the service holds the lock: a command on its own would wait for it.
        with pytest.raises(Timeout):
            FileLock(str(writer_lock_path(paths.database))).acquire(timeout=0)
    finally:
        running.close()
    taken = FileLock(str(writer_lock_path(paths.database)))
    taken.acquire(timeout=0)  # and lets go of it when it stops
    taken.release()


@pytest.mark.skipif(sys.platform == "win32", reason="stale socket files are a Unix matter")
def test_a_service_left_by_an_earlier_install_is_replaced_unless_its_window_is_open(
    paths: AppPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = BackgroundService(make_services(paths))
    serving = threading.Thread(target=service.run, daemon=True)  # as `kenning service run`
    serving.start()
    same = None
    for _ in range(WAIT_S * 10):
        same = current_service(paths)
        if same is not None:
            break
        threading.Event().wait(0.1)
    assert same is not None, "this install's own service is kept"
    same.close()
    # Another install written later shares the data folder: its service serves this one too,
    # or each install's commands would stop the other's service in turn.
    monkeypatch.setattr(service, "install", str(int(install_stamp()) + 1))
    later = current_service(paths, replacing=lambda: pytest.fail("a later install's service"))
    assert later is not None
    later.close()
    monkeypatch.setattr(service, "install", str(int(install_stamp()) - 1))  # an earlier one
    monkeypatch.setattr(service, "_window_running", True)  # someone is using its window
    kept = current_service(paths, replacing=lambda: pytest.fail("an open window's service"))
    assert kept is not None
    kept.close()
    monkeypatch.setattr(service, "_window_running", False)
    shutdown = service.host.shutdown

    def slow_shutdown() -> None:  # a real model takes a while to let go of
        threading.Event().wait(1.0)
        shutdown()

    monkeypatch.setattr(service.host, "shutdown", slow_shutdown)
    said: list[str] = []
    assert current_service(paths, replacing=lambda: said.append("replacing")) is None
    assert said == ["replacing"]
    successor = BackgroundService(make_services(paths))
    successor.start()  # at once: the earlier one has let go of its lock, not only its socket
    try:
        assert request(paths, {"action": "ping"})["install"] == successor.install
    finally:
        successor.close()
    serving.join(WAIT_S)
    assert not serving.is_alive(), "the earlier one has stopped"


def test_a_socket_left_by_a_crash_does_not_block_the_next_service(paths: AppPaths) -> None:
    address = Path(endpoint(paths).address)
    address.write_bytes(b"")  # what a killed service leaves behind
    assert connect(paths) is None
    running = BackgroundService(make_services(paths))
    running.start()
    try:
        assert request(paths, {"action": "ping"})["running"] is True
    finally:
        running.close()


@pytest.mark.skipif(not hasattr(os, "fork") or os.geteuid() != 0,
                    reason="needs root to act as another account")
def test_another_account_cannot_connect(service: BackgroundService, paths: AppPaths) -> None:
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        os.close(read)
        try:
            os.setgid(65534)
            os.setuid(65534)  # nobody
            outcome = "connected" if connect(paths) is not None else "refused"
        except BaseException as exc:
            outcome = f"error {exc!r}"
        os.write(write, outcome.encode())
        os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    with os.fdopen(read) as pipe:
        assert pipe.read() == "refused"


def test_records_cross_the_wire_unchanged() -> None:
    hit = Hit(chunk_id=3, file_id=1, path="/d/a.pdf", page=2, start=5, end=40, text="t",
              heading="H", snippet="the snippet", snippet_matches=[(0, 3)], snippet_start=5,
              score=0.5, lexical_rank=1, location="slide 2")
    answer = Answer("q?", "a.", True, [Citation(1, "/d/a.pdf", 2, 5, 40, "quote", 3)],
                    [hit], ["unsupported"], True, "quoted", emphasis=[(1, 2)],
                    supporting=[SupportingQuote(1, "quote", [(0, 5)])])
    wired = json.loads(json.dumps(answer_to_wire(answer)))
    assert answer_from_wire(wired) == answer
    assert hit_from_wire(json.loads(json.dumps(hit_to_wire(hit)))) == hit


@pytest.mark.skipif(not find_ocr_engine().available,
                    reason="needs Tesseract with English data (tests/run.sh installs it)")
def test_index_with_ocr_through_the_service_reads_the_folders_scans(
    service: BackgroundService, paths: AppPaths, tmp_path: Path
) -> None:
    folder = tmp_path / "scans"
    folder.mkdir()
    make_scanned_pdf(folder / "scan.pdf", ["The zebrafish clause ends the lease."])
    events: list[dict[str, object]] = []
    client = connect(paths)
    assert client is not None
    with client:
        result = client.request({"action": "index", "paths": [str(folder)], "ocr": True},
                                events.append)
    assert result["complete"] is True
    found = request(paths, {"action": "search", "query": "zebrafish", "mode": "lexical"})
    hits = [hit_from_wire(h) for h in found["hits"]]  # type: ignore[union-attr]
    assert [(Path(h.path).name, h.page) for h in hits] == [("scan.pdf", 1)]
    assert all("ocr_pages" in e for e in events if e.get("phase") == "extract")

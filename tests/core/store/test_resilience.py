"""Surviving the worst: SIGKILL at random moments, readers searching during writes, and a
damaged database file."""

from __future__ import annotations

import contextlib
import math
import os
import random
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from core.config import AppPaths, Settings
from core.index.indexer import GROUP_COMMIT_S, Indexer
from core.search.retrieval import search
from core.services import Services
from core.store.database import Store
from tests.docs_factory import make_html, make_pdf
from tests.fakes import FakeModel
from tests.index_checks import assert_consistent, snapshot, vector_count
from tests.index_worker import CHUNK_TOKENS, EXTRACT_PAUSE_S

ROOT = Path(__file__).resolve().parents[3]
MODEL_ID = FakeModel().model_id
KILLS = 20
WORDS = [
    "lease", "tenant", "notice", "garden", "tomato", "invoice", "budget", "meeting", "river",
    "mountain", "harbour", "engine", "quantum", "violin", "recipe", "pepper", "winter",
    "summer", "ledger", "contract", "clause",
]  # fmt: skip


def mixed_folder(root: Path, seed: int = 7) -> Path:
    """Text, Markdown, HTML and PDF files, each several chunks long."""
    rng = random.Random(seed)

    def paragraph(n: int = 60) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(n)) + "."

    for sub in ("md", "pdf"):
        (root / sub).mkdir(parents=True)
    for i in range(12):
        (root / f"note{i}.txt").write_text("\n\n".join(paragraph() for _ in range(5)))
        body = "\n\n".join(f"## Part {j}\n\n{paragraph()}" for j in range(4))
        (root / "md" / f"doc{i}.md").write_text(f"# Document {i}\n\n{body}")
    for i in range(6):
        make_html(root / f"page{i}.html", "".join(f"<p>{paragraph()}</p>" for _ in range(4)))
        make_pdf(root / "pdf" / f"report{i}.pdf", [paragraph(80) for _ in range(3)], "Report")
    return root


def test_killed_twenty_times_then_finishes_with_nothing_lost_duplicated_or_redone(tmp_path):
    folder = mixed_folder(tmp_path / "docs")
    database, work_log = tmp_path / "index.db", tmp_path / "work.log"
    rng = random.Random(2024)
    finished_early = 0
    rounds_with_work = {"extract": 0, "embed": 0}
    for _ in range(KILLS):
        worker = _start_worker(database, folder, work_log)
        lines_before = len(_work_lines(work_log))
        try:
            _wait_for_ready(worker)
            time.sleep(rng.uniform(0.05, 0.35))
            finished_early += worker.poll() is not None
        finally:
            _kill_group(worker)
        for phase in {line.split()[0] for line in _work_lines(work_log)[lines_before:]}:
            rounds_with_work[phase] += 1
    # The kills landed while work was going on, in both phases.
    assert finished_early <= KILLS // 4
    assert min(rounds_with_work.values()) >= 3, rounds_with_work
    worker = _start_worker(database, folder, work_log)
    assert worker.wait(timeout=60) == 0, worker.stderr.read() if worker.stderr else ""

    store = Store.open(database)
    counts = store.files.state_counts()
    files = sum(1 for p in folder.rglob("*") if p.is_file())
    assert counts["embedded"] == files, counts
    assert_consistent(store, MODEL_ID)
    chunks = store.count("SELECT count(*) FROM chunks")
    assert vector_count(store, MODEL_ID) == chunks

    # The same as an index built in one go, without kills.
    fresh = Store.open(tmp_path / "fresh.db")
    settings = Settings(chunk_tokens=CHUNK_TOKENS)
    with Indexer(fresh, FakeModel(), settings) as indexer:
        indexer.add_folder(folder)
        indexer.run()
    assert snapshot(store) == snapshot(fresh)

    # Work done before a kill is kept: each kill loses at most the embedding batch in flight,
    # or the extraction of one commit group (GROUP_COMMIT_S of it) and the file in flight.
    done = {"extract": 0, "embed": 0}
    for line in _work_lines(work_log):
        what, n = line.split()
        done[what] += int(n)
    files_per_group = math.ceil(GROUP_COMMIT_S / EXTRACT_PAUSE_S)
    assert files <= done["extract"] <= files + KILLS * (files_per_group + 1)
    assert chunks <= done["embed"] <= chunks + KILLS * 16


def _work_lines(work_log: Path) -> list[str]:
    return work_log.read_text().splitlines() if work_log.exists() else []


def _start_worker(database: Path, folder: Path, work_log: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.index_worker", str(database), str(folder), str(work_log)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Its own process group, so the kill takes its extraction child along.
        start_new_session=True,
    )


def _wait_for_ready(worker: subprocess.Popen[str], timeout: float = 30) -> None:
    assert worker.stdout is not None
    ready, _, _ = select.select([worker.stdout], [], [], timeout)
    assert ready, "the worker did not start"
    line = worker.stdout.readline()
    assert line.strip() in ("ready", ""), line


def _kill_group(worker: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):  # it may have finished by itself
        os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)
    for stream in (worker.stdout, worker.stderr):
        if stream is not None:
            stream.close()


def test_searches_never_fail_while_indexing_writes(tmp_path, extractor):
    folder = mixed_folder(tmp_path / "docs")
    for i in range(60):
        (folder / f"extra{i}.txt").write_text(f"tomato harbour {i} " * 200)
    database = tmp_path / "index.db"
    writer = Store.open(database)
    errors: list[BaseException] = []
    searches = 0
    stop = threading.Event()

    def keep_searching() -> None:
        nonlocal searches
        reader = Store.open_reader(database)
        model = FakeModel()
        try:
            while not stop.is_set():
                try:
                    search(reader, "tomato harbour", model)
                    searches += 1
                except Exception as exc:  # any failure, "database is locked" above all
                    errors.append(exc)
        finally:
            reader.close()

    readers = [threading.Thread(target=keep_searching) for _ in range(2)]
    for thread in readers:
        thread.start()
    try:
        indexer = Indexer(writer, FakeModel(), Settings(chunk_tokens=40), extractor)
        indexer.add_folder(folder)
        indexer.run()
    finally:
        stop.set()
        for thread in readers:
            thread.join(timeout=30)
    assert errors == []
    assert searches > 20
    assert writer.files.state_counts()["embedded"] == writer.count("SELECT count(*) FROM files")


def _corrupt_with_garbage(path: Path) -> None:
    path.write_bytes(os.urandom(path.stat().st_size))


def _truncate(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def _zero_pages(path: Path) -> None:
    with open(path, "r+b") as f:
        f.seek(3 * 4096)
        f.write(b"\0" * 8192)


@pytest.mark.parametrize("damage", [_corrupt_with_garbage, _truncate, _zero_pages])
def test_damaged_database_is_moved_aside_and_rebuilt_from_the_folders(tmp_path, extractor, damage):
    folder = mixed_folder(tmp_path / "docs")
    paths = AppPaths(data_dir=tmp_path / "data", config_dir=tmp_path / "config")
    services = Services(paths, Settings(chunk_tokens=40))
    store = services.open_store()
    with Indexer(store, FakeModel(), services.settings, extractor) as indexer:
        indexer.add_folder(folder, priority=2)
        indexer.run()
    before = snapshot(store)
    store.close()  # the last connection checkpoints the WAL into the file
    assert not Path(str(paths.database) + "-wal").exists()
    damage(paths.database)

    services = Services(paths, Settings(chunk_tokens=40))
    store = services.open_store()
    assert len(services.notices) == 1
    notice = services.notices[0]
    assert "damaged" in notice and "indexed again" in notice
    aside = [p for p in paths.data_dir.iterdir() if p.name.startswith("kenning-damaged-")]
    assert len(aside) == 2  # the file and its folder list
    assert next(str(p) for p in aside if p.suffix == ".db") in notice
    assert store.folders.all() == [(1, str(folder))]
    assert store.count("SELECT priority FROM folders") == 2

    with Indexer(store, FakeModel(), services.settings, extractor) as indexer:
        indexer.run()
    assert snapshot(store) == before
    assert search(store, "tomato", FakeModel()).hits


def test_database_with_nothing_wrong_is_left_alone(tmp_path):
    paths = AppPaths(data_dir=tmp_path / "data", config_dir=tmp_path / "config")
    Services(paths, Settings()).open_store().close()
    services = Services(paths, Settings())
    services.open_store().close()
    assert services.notices == []
    assert sorted(p.name for p in paths.data_dir.iterdir()) == ["kenning.db",
                                                                "kenning.db.clean.json"]


def test_folder_list_beside_the_database_follows_adds_and_removes(tmp_path):
    from core.store.folders import remembered_folders

    database = tmp_path / "index.db"
    store = Store.open(database)
    store.folders.add(tmp_path / "a")
    store.folders.add(tmp_path / "b", priority=1)
    assert remembered_folders(database) == [(str(tmp_path / "a"), 0, False),
                                            (str(tmp_path / "b"), 1, False)]
    store.folders.remove(tmp_path / "a")
    store.folders.set_ocr(tmp_path / "b", True)
    assert remembered_folders(database) == [(str(tmp_path / "b"), 1, True)]


def test_two_connections_registering_the_same_model_at_once_agree(tmp_path):
    # The service's indexer and one being retired can register a model together: each finds
    # it missing, and the second must not fail on the first's row.
    path = tmp_path / "index.db"
    Store.open(path).close()
    stores = [Store.open(path) for _ in range(4)]
    try:
        for round_ in range(20):
            tables, errors = _register_at_once(stores, f"model-{round_}")
            assert errors == []
            assert len(set(tables)) == 1 and len(tables) == len(stores)
    finally:
        for store in stores:
            store.close()


def _register_at_once(stores: list[Store], model_id: str) -> tuple[list[str], list[Exception]]:
    start = threading.Barrier(len(stores))
    tables: list[str] = []
    errors: list[Exception] = []

    def register(store: Store) -> None:
        start.wait()
        try:
            tables.append(store.chunks.ensure_model(model_id, 8))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(s,)) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return tables, errors

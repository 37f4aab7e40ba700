"""The bridge from blocking calls to the GUI thread: outcomes, latest-wins, readers per thread."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.tasks import Pool, TaskContext, TaskRunner
from core.config import AppPaths
from core.services import display_available
from core.store.database import Store

WAIT_MS = 5_000


@pytest.fixture
def runner(paths: AppPaths) -> TaskRunner:
    Store.open(paths.database).close()  # the schema exists before readers open
    tasks = TaskRunner(paths.database)
    yield tasks
    tasks.shutdown()


def test_success_runs_on_the_gui_thread_with_the_result(qtbot: QtBot, runner: TaskRunner) -> None:
    seen: list[tuple[object, str, str]] = []

    def work(ctx: TaskContext) -> str:
        return threading.current_thread().name

    runner.run(
        work, success=lambda worker: seen.append((worker, threading.current_thread().name, ""))
    )
    qtbot.waitUntil(lambda: bool(seen), timeout=WAIT_MS)
    worker_thread, callback_thread, _ = seen[0]
    assert callback_thread == threading.main_thread().name
    assert worker_thread != callback_thread


def test_failures_and_progress_arrive_in_order(qtbot: QtBot, runner: TaskRunner) -> None:
    events: list[object] = []

    def work(ctx: TaskContext) -> None:
        for n in range(3):
            ctx.report(n)
        raise ValueError("no such file")

    runner.run(work, progress=events.append, failure=events.append)
    qtbot.waitUntil(lambda: len(events) == 4, timeout=WAIT_MS)
    assert events[:3] == [0, 1, 2]
    assert isinstance(events[3], ValueError)


def test_in_a_lane_only_the_latest_result_is_delivered(qtbot: QtBot, runner: TaskRunner) -> None:
    delivered: list[str] = []
    release = threading.Event()

    def slow(ctx: TaskContext) -> str:
        release.wait(5)
        return "stale"

    first = runner.run(slow, success=delivered.append, lane="search")
    runner.run(lambda ctx: "fresh", success=delivered.append, lane="search")
    assert first.cancelled, "a newer task in the lane cancels the older one"
    qtbot.waitUntil(lambda: delivered == ["fresh"], timeout=WAIT_MS)
    release.set()
    qtbot.waitUntil(lambda: first.done, timeout=WAIT_MS)
    qtbot.wait(50)
    assert delivered == ["fresh"]


def test_each_worker_thread_has_its_own_reader(qtbot: QtBot, runner: TaskRunner) -> None:
    stores: dict[str, int] = {}
    barrier = threading.Barrier(2, timeout=5)

    def work(ctx: TaskContext) -> None:
        barrier.wait()  # both tasks run at once, so they are on two threads
        stores[threading.current_thread().name] = id(ctx.store)
        assert ctx.store is ctx.store

    for _ in range(2):
        runner.run(work)
    qtbot.waitUntil(lambda: len(stores) == 2, timeout=WAIT_MS)
    assert len(set(stores.values())) == 2


def test_document_tasks_never_overlap(qtbot: QtBot, runner: TaskRunner) -> None:
    running = 0
    most = 0
    lock = threading.Lock()
    finished: list[int] = []

    def render(ctx: TaskContext) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02)
        with lock:
            running -= 1
        return 1

    for _ in range(4):
        runner.run(render, success=finished.append, pool=Pool.DOCUMENTS)
    qtbot.waitUntil(lambda: len(finished) == 4, timeout=WAIT_MS)
    assert most == 1


def test_display_available_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.platform", "linux")
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    assert not display_available()
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    assert display_available()
    monkeypatch.delenv("WAYLAND_DISPLAY")
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert display_available()


def test_layout_is_remembered(qtbot: QtBot, make_window, paths: AppPaths) -> None:
    window = make_window()
    window.resize(700, 500)
    window.main_splitter.setSizes([420, 280])
    chosen = window.main_splitter.sizes()
    window.close()
    again = make_window()
    assert again.size().width() == 700
    sizes = again.main_splitter.sizes()
    assert sizes == chosen != [350, 350]
    assert Path(paths.config_dir / "window.ini").exists()

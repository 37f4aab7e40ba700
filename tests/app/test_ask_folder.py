""""Ask Kenning about this folder": one running Kenning (the background service) takes
requests from later launches, and the window focuses on the folder (indexed first, search
and answers scoped to it)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import apsw
import pytest
from pytestqt.qtbot import QtBot

from app.window import MainWindow
from core.background.host import EngineHost
from core.background.server import BackgroundService
from core.config import AppPaths
from core.index.service import ASKED_PRIORITY
from core.store.database import Store
from tests.app.conftest import WindowFactory, fill_folder, write
from tests.core.background.test_service import make_services

ROOT = Path(__file__).resolve().parents[2]
LAUNCH_MS = 60_000  # a second process imports Qt and Kenning on a shared, busy machine
WAIT_MS = 10_000

# Everything a shell would trip over, and text beyond ASCII.
HOSTILE_NAME = "Tax 'n' \"bills\" $HOME `id`; rm -rf ~ & echo |x| \\ *?\nline two – 税务 ü"


def kenning(*args: str, home: Path, **env: str) -> subprocess.Popen[str]:
    environment = {**os.environ, "KENNING_HOME": str(home), "QT_QPA_PLATFORM": "offscreen",
                   **env}
    return subprocess.Popen(
        [sys.executable, "-m", "app.launch", *args], cwd=ROOT, env=environment, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


class RecordingWindow:
    """The service's window, reduced to what it was asked to show."""

    def __init__(self) -> None:
        self.shown: list[Path | None] = []
        self.asked = threading.Event()
        self.closed = threading.Event()

    def run(self, host: EngineHost, ask_folder: Path | None, stop: object) -> None:
        self.show(ask_folder)
        self.closed.wait(LAUNCH_MS / 1000)

    def show(self, ask_folder: Path | None) -> None:
        self.shown.append(ask_folder)
        self.asked.set()

    def quit(self) -> None:
        self.closed.set()


@pytest.fixture
def running(paths: AppPaths) -> Iterator[RecordingWindow]:
    window = RecordingWindow()
    service = BackgroundService(make_services(paths), window)
    thread = threading.Thread(target=service.run)
    thread.start()
    try:
        yield window
    finally:
        service.stop()
        thread.join(LAUNCH_MS / 1000)


def launch(home: Path, *args: str) -> tuple[int, str]:
    process = kenning(*args, home=home)
    _, err = process.communicate(timeout=LAUNCH_MS / 1000)
    return process.returncode, err


def test_second_launch_hands_a_hostile_folder_to_the_running_service(
    running: RecordingWindow, home: Path, tmp_path: Path
) -> None:
    folder = tmp_path / HOSTILE_NAME
    folder.mkdir()
    code, err = launch(home, "ask-folder", str(folder))
    assert code == 0, err
    assert running.asked.wait(LAUNCH_MS / 1000)
    assert running.shown == [folder.resolve()]
    # The window is up now: the next launch brings it forward, with no folder.
    running.asked.clear()
    code, err = launch(home)
    assert code == 0, err
    assert running.asked.wait(LAUNCH_MS / 1000)
    assert running.shown == [folder.resolve(), None]


# -- the window side ---------------------------------------------------------------------------


def names(window: MainWindow) -> list[str]:
    return [Path(hit.path).name for hit in window.results_model.hits]


def test_asking_about_a_folder_inside_an_indexed_one_scopes_everything_to_it(
    qtbot: QtBot, indexed_window: MainWindow, folder: Path
) -> None:
    window = indexed_window
    recipes = folder / "recipes"
    window.handle_request({"action": "ask-folder", "path": str(recipes)})

    assert window.filters.scope == str(recipes.resolve())
    assert window.answer_panel.isVisible()
    assert "recipes" in window.answer_panel.question.placeholderText()
    qtbot.waitUntil(window.answer_panel.question.hasFocus, timeout=WAIT_MS)
    window.query_box.setText("lentils tomatoes")
    window.search.set_text("lentils tomatoes")
    qtbot.waitUntil(lambda: names(window) == ["soup.txt"], timeout=WAIT_MS)
    assert window.answer_panel.scope() == str(recipes.resolve())

    # Already inside an indexed folder: not added a second time.
    qtbot.waitUntil(lambda: window.engine.database_ready, timeout=WAIT_MS)
    window.refresh_overview()
    qtbot.waitUntil(lambda: window.overview is not None, timeout=WAIT_MS)
    assert window.overview is not None
    assert window.overview.folders == [str(folder.resolve())]
    # The scope survives the folder list being refreshed.
    assert window.filters.scope == str(recipes.resolve())


def test_asking_about_a_new_folder_indexes_it_first(
    qtbot: QtBot, make_window: WindowFactory, paths: AppPaths, tmp_path: Path
) -> None:
    window = make_window()
    fill_folder(tmp_path / "old")
    window.add_folder(tmp_path / "old")
    new = tmp_path / "new folder"
    write(new / "boiler.txt", "The boiler pressure should read 1.5 bar when cold.")
    window.handle_request({"action": "ask-folder", "path": str(new)})

    window.query_box.setText("boiler pressure")
    window.search.set_text("boiler pressure")
    qtbot.waitUntil(lambda: names(window) == ["boiler.txt"], timeout=WAIT_MS * 3)
    store = Store.open_reader(paths.database)
    try:
        priorities = dict(store.rows("SELECT path, priority FROM folders"))
    finally:
        store.close()
    assert priorities == {str((tmp_path / "old").resolve()): 0, str(new.resolve()): ASKED_PRIORITY}


def folders_in(database: Path) -> dict[str, int]:
    if not database.exists():
        return {}
    store = Store.open_reader(database)
    try:
        return {str(p): int(str(n)) for p, n in store.rows("SELECT path, priority FROM folders")}
    except apsw.Error:  # the other process is still creating the database
        return {}
    finally:
        store.close()


def test_two_real_launches_share_one_window(
    qtbot: QtBot, paths: AppPaths, home: Path, tmp_path: Path
) -> None:
    first_folder = fill_folder(tmp_path / "first")
    second_folder = tmp_path / HOSTILE_NAME
    write(second_folder / "boiler.txt", "The boiler pressure should read 1.5 bar when cold.")
    first = kenning("ask-folder", str(first_folder), home=home)
    try:
        qtbot.waitUntil(lambda: str(first_folder.resolve()) in folders_in(paths.database),
                        timeout=LAUNCH_MS)
        second = kenning("ask-folder", str(second_folder), home=home)
        _, err = second.communicate(timeout=LAUNCH_MS / 1000)
        assert second.returncode == 0, err
        # The first window took the request: it added the folder, ahead of the others.
        qtbot.waitUntil(lambda: str(second_folder.resolve()) in folders_in(paths.database),
                        timeout=LAUNCH_MS)
        assert folders_in(paths.database)[str(second_folder.resolve())] == ASKED_PRIORITY
        assert first.poll() is None, "the first window should still be running"
    finally:
        first.terminate()
        first.communicate(timeout=LAUNCH_MS / 1000)

""""Ask Kenning about this folder": one running instance takes requests from later launches,
and the window focuses on the folder (indexed first, search and answers scoped to it)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import apsw
import pytest
from PySide6.QtNetwork import QLocalServer
from pytestqt.qtbot import QtBot

from app.single_instance import InstanceServer, instance_name, send_request
from app.window import MainWindow
from core.config import AppPaths
from core.index.service import ASKED_PRIORITY
from core.store.database import Store
from tests.app.conftest import WindowFactory, fill_folder, write

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


def request_from_launch(
    qtbot: QtBot, server: InstanceServer, home: Path, *args: str
) -> tuple[dict[str, object], int, str]:
    """Run ``kenning ARGS`` as a second process; what the listening instance received."""
    try:
        with qtbot.waitSignal(server.request_received, timeout=LAUNCH_MS) as received:
            launch = kenning(*args, home=home)
        _, err = launch.communicate(timeout=LAUNCH_MS / 1000)
    finally:
        server.close()
    [request] = received.args or [{}]
    return request, launch.returncode, err


def test_second_launch_hands_a_hostile_folder_to_the_first(
    qtbot: QtBot, paths: AppPaths, home: Path, tmp_path: Path
) -> None:
    folder = tmp_path / HOSTILE_NAME
    folder.mkdir()
    server = InstanceServer(instance_name(paths))
    assert server.listen()
    request, code, err = request_from_launch(qtbot, server, home, "ask-folder", str(folder))
    assert code == 0, err
    assert request == {"action": "ask-folder", "path": str(folder.resolve())}


def test_plain_launch_raises_the_running_window(
    qtbot: QtBot, paths: AppPaths, home: Path
) -> None:
    server = InstanceServer(instance_name(paths))
    assert server.listen()
    request, code, err = request_from_launch(qtbot, server, home)
    assert code == 0, err
    assert request == {"action": "show"}


def test_another_home_is_another_instance(paths: AppPaths, tmp_path: Path) -> None:
    other = AppPaths.resolve(tmp_path / "other-home")
    assert instance_name(other) != instance_name(paths)
    server = InstanceServer(instance_name(paths))
    assert server.listen()
    try:
        assert not send_request(instance_name(other), {"action": "show"})
    finally:
        server.close()


@pytest.mark.skipif(sys.platform == "win32", reason="stale socket files are a Unix matter")
def test_a_socket_left_by_a_crash_does_not_block_start(
    qtbot: QtBot, paths: AppPaths, home: Path
) -> None:
    name = instance_name(paths)
    crash = (
        "import os, signal, sys\n"
        "from PySide6.QtNetwork import QLocalServer\n"
        "server = QLocalServer()\n"
        "assert server.listen(sys.argv[1]), server.errorString()\n"
        "print(server.fullServerName(), flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    crashed = subprocess.run(
        [sys.executable, "-c", crash, name], capture_output=True, text=True, timeout=60
    )
    assert crashed.returncode == -signal.SIGKILL
    leftover = Path(crashed.stdout.strip())
    assert leftover.exists(), "the crashed instance should have left its socket behind"

    server = InstanceServer(name)
    assert server.listen()
    request, code, _ = request_from_launch(qtbot, server, home)
    assert (request, code) == ({"action": "show"}, 0)


def test_a_live_instance_is_not_displaced(paths: AppPaths, qtbot: QtBot) -> None:
    name = instance_name(paths)
    server = InstanceServer(name)
    assert server.listen()
    second = (
        "import sys\n"
        "from PySide6.QtCore import QCoreApplication\n"
        "from app.single_instance import InstanceServer\n"
        "app = QCoreApplication([])\n"
        "print(InstanceServer(sys.argv[1]).listen())\n"
    )
    try:
        launch = subprocess.Popen(
            [sys.executable, "-c", second, name], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        # The first instance answers the second's "are you there?" from its event loop.
        qtbot.waitUntil(lambda: launch.poll() is not None, timeout=LAUNCH_MS)
        out = launch.stdout.read() if launch.stdout else ""
    finally:
        server.close()
    assert out.strip() == "False"


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
        QLocalServer.removeServer(instance_name(paths))  # terminated: its socket stays behind

"""The window as the background service shows it: closing it leaves indexing running, and a
window opened again over the same engine shows the work done meanwhile."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from app.engine import Engine
from app.main import build_window, close_window
from core.background.host import EngineHost
from core.config import AppPaths, Settings
from core.services import Services
from core.store.database import Store
from tests.app.conftest import fill_folder, write
from tests.fakes import FakeModel

WAIT_MS = 30_000


def embedded(paths: AppPaths) -> int:
    store = Store.open_reader(paths.database)
    try:
        return store.files.state_counts()["embedded"]
    finally:
        store.close()


def test_closing_the_window_leaves_the_work_going(
    qtbot: QtBot, paths: AppPaths, tmp_path: Path
) -> None:
    services = Services(paths, Settings(), model_loader=lambda *_: FakeModel())
    host = EngineHost(services, watcher_factory=None)
    host.start()
    try:
        first = build_window(services, Engine(host, owns_host=False))
        first.keeps_running = True
        qtbot.addWidget(first)
        first.show()
        first.engine.start()
        folder = fill_folder(tmp_path / "docs")
        first.add_folder(folder)
        first.close()
        close_window(first)
        # Nobody is looking, and the engine goes on: new files are read and embedded.
        write(folder / "later.txt", "The boiler pressure should read 1.5 bar when cold.")
        made = host.rescan()
        assert host.wait_until(made, embedded=True, timeout=WAIT_MS / 1000)
        count = embedded(paths)
        assert count == 4

        second = build_window(services, Engine(host, owns_host=False))
        qtbot.addWidget(second)
        second.show()
        second.engine.start()
        qtbot.waitUntil(lambda: second.engine.interactive_model is not None, timeout=WAIT_MS)
        second.query_box.setText("boiler pressure")
        second.search.set_text("boiler pressure")
        qtbot.waitUntil(lambda: [Path(h.path).name for h in second.results_model.hits][:1]
                        == ["later.txt"], timeout=WAIT_MS)
        close_window(second)
        assert embedded(paths) == count  # nothing was embedded again
    finally:
        host.shutdown()

"""Fixtures for window tests: a private home, a small real folder, a window on a fake model."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.main import build_window
from app.window import MainWindow
from core.config import AppPaths, Settings
from core.index.indexer import Indexer
from core.services import Services
from core.store.database import Store
from tests.docs_factory import make_corrupt_pdf, make_pdf
from tests.fakes import FakeModel

LEASE_PAGES = [
    "This lease is made between the landlord and the tenant for the flat at 27 Cotham Hill."
    "\n\nThe rent is due on the first day of each month by standing order.",
    "Ending the tenancy\n\nThe tenant must give sixty days written notice before leaving the "
    "flat. Notice may be sent by post or by email.\n\nThe landlord must give two months.",
]

WindowFactory = Callable[..., MainWindow]


def first_hit_names(window: MainWindow) -> list[str]:
    """The file name of the window's top result, as a list (empty while there is none)."""
    return [Path(h.path).name for h in window.results_model.hits][:1]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def fill_folder(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    make_pdf(root / "lease.pdf", LEASE_PAGES, heading="Tenancy agreement")
    write(
        root / "garden.md",
        "# Garden\n\nTomatoes need full sun and regular watering in summer.\n\nThe compost "
        "heap is turned every other Saturday.",
    )
    write(root / "recipes" / "soup.txt", "Red lentil soup. Simmer the lentils for twenty minutes.")
    return root


@pytest.fixture
def paths(home: Path) -> AppPaths:
    resolved = AppPaths.resolve()
    resolved.ensure()
    return resolved


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return fill_folder(tmp_path / "docs")


@pytest.fixture
def broken_folder(tmp_path: Path) -> Path:
    root = fill_folder(tmp_path / "with-broken")
    make_corrupt_pdf(root / "broken.pdf")
    return root


def index_folder(paths: AppPaths, root: Path) -> None:
    """Index ``root`` completely (both phases) into the home's database, before any window."""
    store = Store.open(paths.database)
    try:
        indexer = Indexer(store, FakeModel(), Settings())
        indexer.add_folder(root)
        indexer.run()
    finally:
        store.close()


@pytest.fixture
def make_window(qtbot: QtBot, paths: AppPaths) -> Iterator[WindowFactory]:
    """Build (and at the end shut down) a window whose model is a FakeModel."""
    windows: list[MainWindow] = []

    def factory(reply: str | None = None, show: bool = True, start: bool = True,
                settings: Settings | None = None) -> MainWindow:
        services = Services(paths, settings or Settings(),
                            model_loader=lambda *_: FakeModel(reply=reply))
        window = build_window(services)
        qtbot.addWidget(window)
        windows.append(window)
        if show:
            window.show()
        if start:
            window.engine.start()
        return window

    yield factory
    for window in windows:
        window.engine.shutdown()


@pytest.fixture
def indexed_window(make_window: WindowFactory, paths: AppPaths, folder: Path) -> MainWindow:
    index_folder(paths, folder)
    return make_window()

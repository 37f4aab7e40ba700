"""The window as the background service shows it: built from the service's engine, shown
on request, closed without stopping the service; the tray's Quit stops the service.

The service calls ``ServiceWindow.run`` on its main thread (Qt's GUI thread must be the main
thread), and ``show``/``quit`` from its connection threads; those reach the GUI thread as
queued signals. Nothing is global: each part is passed to the next.

>>> BackgroundService(services, ServiceWindow()).run(show_window=True)
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication

from app import theme
from app.engine import Engine
from app.tasks import TaskRunner
from app.window import MainWindow
from core.background.host import EngineHost
from core.services import Services


def build_window(services: Services, engine: Engine | None = None) -> MainWindow:
    """The engine (a new one unless given), task runner and window for ``services`` (a
    QApplication must exist). Nothing runs until ``window.engine.start()``;
    ``close_window(window)`` stops it all."""
    tasks = TaskRunner(services.paths.database)
    engine = engine or Engine(EngineHost(services))
    window = MainWindow(engine, tasks)
    tasks.setParent(window)
    engine.setParent(window)
    return window


def close_window(window: MainWindow) -> None:
    """Save the layout and stop the window's work in an order that cannot deadlock: its
    background tasks may be waiting for the model, so they are cancelled and drained before
    the engine (when the window owns it) stops the model thread."""
    window.save_layout()
    window.tasks.cancel_all()
    window.tasks.shutdown()
    window.engine.shutdown()


class _Bridge(QObject):
    """Lives on the GUI thread; its signals, emitted from any thread, are delivered to its
    own methods there (queued, because the receiver lives on another thread)."""

    show_requested = Signal(object)
    quit_requested = Signal()

    def __init__(self, window: MainWindow, app: QApplication) -> None:
        super().__init__()
        self.window = window
        self.app = app
        self.show_requested.connect(self._show)
        self.quit_requested.connect(self._quit)

    def _show(self, ask_folder: Path | None) -> None:
        if ask_folder is not None:
            self.window.ask_about_folder(ask_folder)
        self.window.raise_window()

    def _quit(self) -> None:
        self.app.quit()


class ServiceWindow:
    def __init__(self) -> None:
        self._bridge: _Bridge | None = None
        self.window: MainWindow | None = None

    def run(self, host: EngineHost, ask_folder: Path | None, stop: Callable[[], None]) -> None:
        existing = QApplication.instance()
        app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
        app.setApplicationName("Kenning")
        app.setOrganizationName("Kenning")
        app.setWindowIcon(theme.app_icon())
        # Closing the window hides it; the service (and the tray icon) go on.
        app.setQuitOnLastWindowClosed(False)
        window = build_window(host.services, Engine(host, owns_host=False))
        window.keeps_running = True
        self.window = window
        self._bridge = _Bridge(window, app)
        window.add_tray()
        window.show()
        window.engine.start()
        if ask_folder is not None:
            window.ask_about_folder(ask_folder)
        try:
            app.exec()
        finally:
            self._bridge = None
            close_window(window)

    def show(self, ask_folder: Path | None) -> None:
        bridge = self._bridge
        if bridge is not None:
            bridge.show_requested.emit(ask_folder)

    def quit(self) -> None:
        bridge = self._bridge
        if bridge is not None:
            bridge.quit_requested.emit()

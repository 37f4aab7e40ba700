"""Start the window: build the Qt application, the engine and the main window, and pass them
to each other (nothing global). ``kenning`` with no arguments ends up here.

>>> services = Services(AppPaths.resolve(), Settings.load(paths.settings_file))
>>> sys.exit(run_window(services))
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtWidgets import QApplication

from app import theme
from app.engine import Engine
from app.single_instance import InstanceServer, instance_name, send_request
from app.tasks import TaskRunner
from app.window import MainWindow
from core.services import Services


def build_window(services: Services) -> MainWindow:
    """The engine, task runner and window for ``services`` (a QApplication must exist).
    Nothing runs until ``window.engine.start()``; ``window.engine.shutdown()`` stops it all."""
    tasks = TaskRunner(services.paths.database)
    engine = Engine(services, tasks)
    window = MainWindow(engine, tasks)
    tasks.setParent(window)
    engine.setParent(window)
    return window


def run_window(
    services: Services, argv: Sequence[str] | None = None, ask_folder: Path | None = None
) -> int:
    """Show the main window until the user quits; returns the process exit code. With
    ``ask_folder``, the window opens focused on that folder ("Ask Kenning about this folder").
    When another instance already runs for this data folder, it gets the request instead."""
    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(list(argv or sys.argv))
    app.setApplicationName("Kenning")
    app.setOrganizationName("Kenning")
    app.setWindowIcon(theme.app_icon())
    server = InstanceServer(instance_name(services.paths))
    if not server.listen() and send_request(server.name, window_request(ask_folder)):
        return 0  # started at the same moment as another one: that one shows it
    window = build_window(services)
    server.setParent(window)
    server.request_received.connect(window.handle_request)
    window.add_tray()
    window.show()
    # The window is up first; the model loads in the background meanwhile.
    window.engine.start()
    if ask_folder is not None:
        window.ask_about_folder(ask_folder)
    try:
        return app.exec()
    finally:
        server.close()
        window.save_layout()
        window.engine.shutdown()


def window_request(ask_folder: Path | None) -> dict[str, str]:
    """What a launch asks of an instance that is already running."""
    if ask_folder is None:
        return {"action": "show"}
    return {"action": "ask-folder", "path": str(ask_folder)}

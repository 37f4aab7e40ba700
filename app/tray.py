"""The tray icon: quick search and pause/resume without hunting for the window.

Desktops without a system tray simply get no icon (``create_tray`` returns None).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QAction, QIcon
from PySide6.QtWidgets import QMenu, QSystemTrayIcon, QWidget

from app.engine import Engine


class Tray(QSystemTrayIcon):
    def __init__(
        self,
        icon: QIcon,
        engine: Engine,
        quick_search: Callable[[], None],
        quit_app: Callable[[], None],
        parent: QWidget,
    ) -> None:
        super().__init__(icon, parent)
        self.setToolTip("Kenning — search your files")
        self.engine = engine
        menu = QMenu(parent)
        menu.addAction("Search…", quick_search)
        self.pause_action = QAction("Pause indexing", menu)
        self.pause_action.setCheckable(True)
        self.pause_action.setChecked(engine.paused)
        self.pause_action.toggled.connect(engine.set_paused)
        engine.paused_changed.connect(self.pause_action.setChecked)
        menu.addAction(self.pause_action)
        menu.addSeparator()
        menu.addAction("Quit Kenning", quit_app)
        self.setContextMenu(menu)
        self._menu = menu
        self.activated.connect(
            lambda reason: (
                quick_search() if reason == QSystemTrayIcon.ActivationReason.Trigger else None
            )
        )


def create_tray(
    icon: QIcon,
    engine: Engine,
    quick_search: Callable[[], None],
    quit_app: Callable[[], None],
    parent: QWidget,
) -> Tray | None:
    if not QSystemTrayIcon.isSystemTrayAvailable():
        return None
    tray = Tray(icon, engine, quick_search, quit_app, parent)
    tray.show()
    return tray

"""The tray icon: quick search and pause/resume without hunting for the window.

Desktops without a system tray simply get no icon (``create_tray`` returns None).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QAction, QIcon
from PySide6.QtWidgets import QMenu, QSystemTrayIcon, QWidget

from app.engine import Engine
from core.cancel import Progress
from core.cli.output import progress_line

IDLE_TIP = "Kenning — search your files"


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
        self.setToolTip(IDLE_TIP)
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
        engine.progress.connect(self._show_progress)
        engine.indexing_idle.connect(lambda: self.setToolTip(IDLE_TIP))
        self._told_still_running = False
        self.activated.connect(
            lambda reason: (
                quick_search() if reason == QSystemTrayIcon.ActivationReason.Trigger else None
            )
        )


    def _show_progress(self, progress: Progress) -> None:
        self.setToolTip(f"Kenning — {progress_line(progress, 0)}")

    def say_still_running(self) -> None:
        """The window was closed; once per run, say that the work goes on."""
        if self._told_still_running:
            return
        self._told_still_running = True
        self.showMessage("Kenning keeps working", "Your folders stay indexed in the background. "
                         "Quit Kenning from this icon to stop it.",
                         QSystemTrayIcon.MessageIcon.Information, 5000)


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

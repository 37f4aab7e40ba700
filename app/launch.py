"""The ``kenning`` entry point: runs an engine command, or opens the window.

The engine's commands live in ``core.cli``; this top layer only adds the window, and imports
Qt only when a window is wanted, so the command line works in builds without Qt and on
machines without a display.

    python -m app.launch search "notice period"     # what the ``kenning`` script runs
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

try:
    from core.cli import exit_codes
    from core.cli.main import main as run_command
except KeyboardInterrupt:  # Ctrl+C while the engine loads (a second or so): nothing to keep
    sys.exit(130)

if TYPE_CHECKING:
    from app.main import ServiceWindow
    from core.service.host import EngineHost
    from core.services import Services

#: System libraries Qt's X11 display plugin needs, and the packages that hold them on
#: Debian/Ubuntu, Fedora and Arch.
_DISPLAY_PACKAGES = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms", "xcb-util-keysyms"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image", "xcb-util-image"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil",
                                "xcb-util-renderutil"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11", "libxkbcommon-x11"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon", "libxkbcommon"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl", "libglvnd"),
    "libGL.so.1": ("libgl1", "libglvnd-glx", "libglvnd"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig", "fontconfig"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs", "dbus"),
}


def missing_display_libraries(plugin: Path | None = None) -> list[str]:
    """The system libraries Qt's X11 plugin cannot find on this Linux machine (Qt would stop
    the process with its own message on starting without them); [] elsewhere."""
    if sys.platform != "linux" or os.environ.get("QT_QPA_PLATFORM", "xcb") != "xcb":
        return []
    if plugin is None:
        import PySide6  # the package only: Qt's libraries are not loaded by this

        plugin = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
    if not plugin.exists():
        return []
    try:
        listing = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True,
                                 timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    missing = [line.split("=>")[0].strip() for line in listing.splitlines()
               if "not found" in line]
    return list(dict.fromkeys(missing))


def display_libraries_message(missing: list[str]) -> str:
    known = [_DISPLAY_PACKAGES[name] for name in missing if name in _DISPLAY_PACKAGES]
    debian = " ".join(dict.fromkeys(p[0] for p in known)) or "libxcb-cursor0"
    fedora = " ".join(dict.fromkeys(p[1] for p in known)) or "xcb-util-cursor"
    arch = " ".join(dict.fromkeys(p[2] for p in known)) or "xcb-util-cursor"
    return (
        "kenning: the window cannot open because this system lacks libraries Qt needs to "
        f"draw it ({', '.join(missing)}). Install them, then start Kenning again:\n"
        f"  Debian, Ubuntu:  sudo apt install {debian}\n"
        f"  Fedora:          sudo dnf install {fedora}\n"
        f"  Arch:            sudo pacman -S {arch}\n"
        "Meanwhile the command line works: kenning index ~/Documents, "
        'kenning search "your words" (kenning --help lists every command).'
    )


def open_window(services: Services, ask_folder: Path | None = None) -> int:
    """Show the window: the running service shows it (in its own process), or this process
    becomes the service, with the window."""
    try:
        import app.main  # noqa: F401  (only to know now that the window can be built)
    except ImportError as exc:  # a build without the GUI, or Qt libraries missing
        print(
            f"kenning: the window cannot start ({exc}). The command line works: kenning --help",
            file=sys.stderr,
        )
        return exit_codes.ERROR
    from core.service.launch import current_service
    from core.service.protocol import ServiceError, ServiceGone
    from core.service.server import AlreadyRunning, BackgroundService

    for _ in range(2):  # a service starting at the same moment wins the race: ask it then
        # one left by an earlier install is stopped: this process becomes the service
        running = current_service(services.paths)
        if running is not None:
            request = {"action": "show-window",
                       "ask_folder": str(ask_folder) if ask_folder is not None else None}
            with running:
                try:
                    running.request(request)
                    return exit_codes.OK
                except (ServiceError, ServiceGone) as exc:
                    print(f"kenning: the running Kenning cannot show its window ({exc}). "
                          "Stop it with `kenning service stop`, then start Kenning again.",
                          file=sys.stderr)
                    return exit_codes.ERROR
        try:
            return BackgroundService(services, WindowOnRequest()).run(show_window=True,
                                                                      ask_folder=ask_folder)
        except AlreadyRunning:
            time.sleep(0.5)
    return exit_codes.ERROR


def program() -> list[str]:
    """The command that runs this Kenning (to start the background service with): on Windows
    the window program, so a service started at sign-in opens no console."""
    from core.integrate import launch_command

    return launch_command(None)


class WindowOnRequest:
    """The background service's window, Qt imported only when one is first shown (most
    services never show one, and the command line must start fast)."""

    def __init__(self) -> None:
        self._window: ServiceWindow | None = None

    def run(self, host: EngineHost, ask_folder: Path | None, stop: Callable[[], None]) -> None:

        # Only a process that starts Qt's display itself needs the system's display libraries.
        from core.service.server import WindowUnavailable

        missing = missing_display_libraries()
        if missing:
            raise WindowUnavailable(display_libraries_message(missing))
        from app.main import ServiceWindow

        self._window = ServiceWindow()
        try:
            self._window.run(host, ask_folder, stop)
        finally:
            self._window = None

    def show(self, ask_folder: Path | None) -> None:
        if self._window is not None:
            self._window.show(ask_folder)

    def quit(self) -> None:
        if self._window is not None:
            self._window.quit()


def main(argv: Sequence[str] | None = None) -> int:
    return run_command(argv, open_window=open_window, window=WindowOnRequest(),
                       program=program())


if __name__ == "__main__":
    # Extraction runs in a spawned child process; frozen builds need this first.
    import multiprocessing

    multiprocessing.freeze_support()
    sys.exit(main())

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
from collections.abc import Sequence
from pathlib import Path

try:
    from core.cli import exit_codes
    from core.cli.main import main as run_command
    from core.services import Services
except KeyboardInterrupt:  # Ctrl+C while the engine loads (a second or so): nothing to keep
    sys.exit(130)

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
    """Show the window, or hand the request to the window that is already open."""
    try:
        from app.main import run_window, window_request
        from app.single_instance import instance_name, send_request
    except ImportError as exc:  # a build without the GUI, or Qt libraries missing
        print(
            f"kenning: the window cannot start ({exc}). The command line works: kenning --help",
            file=sys.stderr,
        )
        return exit_codes.ERROR
    if send_request(instance_name(services.paths), window_request(ask_folder)):
        return exit_codes.OK  # the open window took it
    # Only a launch that starts Qt's display itself needs the system's display libraries.
    missing = missing_display_libraries()
    if missing:
        print(display_libraries_message(missing), file=sys.stderr)
        return exit_codes.ERROR
    return run_window(services, ask_folder=ask_folder)


def main(argv: Sequence[str] | None = None) -> int:
    return run_command(argv, open_window=open_window)


if __name__ == "__main__":
    # Extraction runs in a spawned child process; frozen builds need this first.
    import multiprocessing

    multiprocessing.freeze_support()
    sys.exit(main())

"""``kenning`` (no command) and ``kenning ask-folder PATH``: what the engine knows about
opening the window, without any window code.

The window itself is opened by a ``WindowOpener`` that the top layer (``app.launch``) passes
in, so the engine and its command line work in builds without Qt and on machines without a
display.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.cli import exit_codes

if TYPE_CHECKING:
    from core.services import Services

#: Shows the window (or hands the request to the one already open); returns an exit code.
WindowOpener = Callable[["Services", Path | None], int]


def add_ask_folder_parser(sub: Any) -> None:
    p = sub.add_parser(
        "ask-folder",
        help="open Kenning focused on a folder (what the right-click entry runs)",
        description="Open the window (or bring the open one forward) with search and answers "
        "limited to FOLDER, which is indexed first; the question box has the cursor.",
    )
    p.add_argument("folder", help="the folder to ask about")


class UnusablePath(Exception):
    """A path given on the command line cannot be followed; the message says why."""


def resolved(path: Path) -> Path:
    """``path`` made absolute with its links followed. Raises UnusablePath when they loop."""
    try:
        return path.expanduser().resolve()
    except (RuntimeError, OSError) as exc:  # RuntimeError: Python 3.11's word for a loop
        raise UnusablePath(
            f"{path} cannot be opened: following its links leads in a circle (a link that "
            "points, directly or through others, back at itself). Fix or remove the link, or "
            "give the folder's real path."
        ) from exc


def folder_argument(raw: str, platform: str = sys.platform) -> Path:
    """The folder a file manager passed. Explorer quotes a drive root as ``"C:\\"``, which
    Windows' argument rules turn into ``C:"``: that quote was the backslash."""
    if platform == "win32" and raw.endswith('"'):
        raw = raw[:-1] + "\\"
    return resolved(Path(raw))


def run_window_command(
    args: argparse.Namespace, services: Services, open_window: WindowOpener | None
) -> int:
    """``kenning`` or ``kenning ask-folder FOLDER``: check what the engine can check (the
    folder, the display), then hand over to the window."""
    folder: Path | None = None
    if args.command == "ask-folder":
        folder = folder_argument(args.folder)
        if not folder.is_dir():
            print(
                f"kenning: {args.folder} is not a folder I can open. Check that it exists and "
                "that you may read it.",
                file=sys.stderr,
            )
            return exit_codes.USAGE
    from core.services import display_available, unreachable_display

    if not display_available():
        print(no_display_message(folder), file=sys.stderr)
        return exit_codes.USAGE
    unreachable = unreachable_display()
    if unreachable is not None:
        print(no_display_message(folder, unreachable), file=sys.stderr)
        return exit_codes.USAGE
    if open_window is None:
        print(
            "kenning: this build of Kenning has no window. The command line works: "
            "kenning --help",
            file=sys.stderr,
        )
        return exit_codes.ERROR
    return open_window(services, folder)


def no_display_message(ask_folder: Path | None, unreachable: str | None = None) -> str:
    if ask_folder is not None:
        hint = (
            f'  kenning index "{ask_folder}"\n'
            f'  kenning ask --in "{ask_folder}" "your question"\n'
        )
    else:
        hint = '  kenning index ~/Documents\n  kenning search "your words"\n'
    problem = ("no display is available" if unreachable is None else
               f"cannot reach the display ({unreachable}: nothing answers there)")
    return (
        f"kenning: {problem}, so the window cannot open. "
        "Use the command line instead, for example:\n" + hint + "(kenning --help lists "
        "every command.)"
    )

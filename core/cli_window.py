"""``kenning`` (no command) and ``kenning ask-folder PATH``: open the window, or hand the
request to the window that is already open.

The GUI is imported only here and only when a window is wanted, so the rest of the command
line works in builds without Qt and on machines without a display.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from core.services import Services, display_available

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2


def add_ask_folder_parser(sub: Any) -> None:
    p = sub.add_parser(
        "ask-folder",
        help="open Kenning focused on a folder (what the right-click entry runs)",
        description="Open the window (or bring the open one forward) with search and answers "
        "limited to FOLDER, which is indexed first; the question box has the cursor.",
    )
    p.add_argument("folder", help="the folder to ask about")


def folder_argument(raw: str, platform: str = sys.platform) -> Path:
    """The folder a file manager passed. Explorer quotes a drive root as ``"C:\\"``, which
    Windows' argument rules turn into ``C:"``: that quote was the backslash."""
    if platform == "win32" and raw.endswith('"'):
        raw = raw[:-1] + "\\"
    return Path(raw).expanduser().resolve()


def run_ask_folder(args: argparse.Namespace, services: Services) -> int:
    folder = folder_argument(args.folder)
    if not folder.is_dir():
        print(
            f"kenning: {args.folder} is not a folder I can open. Check that it exists and that "
            "you may read it.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    return open_window(services, ask_folder=folder)


def open_window(services: Services, ask_folder: Path | None = None) -> int:
    """Show the window (or the running one); without a display, say so and point to the CLI."""
    if not display_available():
        if ask_folder is not None:
            hint = (
                f'  kenning index "{ask_folder}"\n'
                f'  kenning ask --in "{ask_folder}" "your question"\n'
            )
        else:
            hint = '  kenning index ~/Documents\n  kenning search "your words"\n'
        print(
            "kenning: no display is available, so the window cannot open. "
            "Use the command line instead, for example:\n" + hint + "(kenning --help lists "
            "every command.)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    try:
        from app.main import run_window, window_request
        from app.single_instance import instance_name, send_request
    except ImportError as exc:  # a build without the GUI, or Qt libraries missing
        print(
            f"kenning: the window cannot start ({exc}). The command line works: kenning --help",
            file=sys.stderr,
        )
        return EXIT_ERROR
    if send_request(instance_name(services.paths), window_request(ask_folder)):
        return EXIT_OK  # the open window took it
    return run_window(services, ask_folder=ask_folder)

"""The ``kenning`` entry point: runs an engine command, or opens the window.

The engine's commands live in ``core.cli``; this top layer only adds the window, and imports
Qt only when a window is wanted, so the command line works in builds without Qt and on
machines without a display.

    python -m app.launch search "notice period"     # what the ``kenning`` script runs
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from core.cli import exit_codes
from core.cli.main import main as run_command
from core.services import Services


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
    return run_window(services, ask_folder=ask_folder)


def main(argv: Sequence[str] | None = None) -> int:
    return run_command(argv, open_window=open_window)


if __name__ == "__main__":
    # Extraction runs in a spawned child process; frozen builds need this first.
    import multiprocessing

    multiprocessing.freeze_support()
    sys.exit(main())

"""``python -m core.background [--home H] service run``: the headless service, for builds and
machines without the window (the ``kenning`` entry point runs the same with the window)."""

import multiprocessing
import sys

from core.cli.main import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())

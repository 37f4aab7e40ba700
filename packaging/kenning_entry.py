"""Entry point of the frozen (PyInstaller) Kenning: the same as the ``kenning`` console script.

``freeze_support`` must run first: the text extraction runs in a spawned child process, and a
frozen child re-runs this executable, which must then become the worker instead of the app.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from app.launch import main

    sys.exit(main())

"""One indexing command at a time per index.

Two ``kenning index`` (or ``retry``, ``forget``) on the same index would read the same files
and write the same rows; the second waits for the first, saying so, and then finds little
left to do. The lock is the operating system's (``filelock``), so it is released when its
process ends in any way, a kill included.

>>> with one_writer(paths.database, on_wait=lambda: print("waiting...")):
...     indexer.run()
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

from filelock import FileLock, Timeout


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + ".writer.lock")


@contextlib.contextmanager
def one_writer(database: Path, on_wait: Callable[[], None]) -> Iterator[None]:
    """Hold the index's writer lock; if another process holds it, call ``on_wait`` once
    and wait (Ctrl+C interrupts the wait as usual)."""
    lock = FileLock(str(lock_path(database)))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        on_wait()
        lock.acquire()
    try:
        yield
    finally:
        lock.release()

"""Whether the database is exactly as a writer left it when it closed cleanly.

The integrity check at open (``PRAGMA quick_check``) reads the whole file: 2 s at 100k
chunks, 18 s at a million. It is only worth it when something may have happened since the
last clean close: a crash, another program writing the file, a damaged disk copy. So a writer
closing cleanly first moves everything from the write-ahead log into the database file, then
notes the file's size and modification time beside it; the next open skips the check only when
the file still matches that note and no log is waiting.

>>> clean = closed_cleanly(path); forget_clean_close(path)   # a writer, before connecting
>>> ... check the file if not clean, then work ...
>>> done = checkpoint_fully(conn); conn.close()
>>> if done and log_is_empty(path): note_clean_close(path)
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

def stamp_path(database: Path) -> Path:
    return database.with_name(database.name + ".clean.json")


def closed_cleanly(database: Path) -> bool:
    wal = Path(f"{database}-wal")
    try:
        stamp = json.loads(stamp_path(database).read_text(encoding="utf-8"))
        if wal.exists() and wal.stat().st_size > 0:
            return False  # a crash, or another connection open and writing
        return bool(stamp == _file_state(database))
    except (OSError, ValueError):
        return False


def checkpoint_fully(conn: Any) -> bool:
    """Move the whole write-ahead log into the database file (before closing), without
    waiting for anyone: False when another connection's reading or writing kept part of it
    in the log. A passive checkpoint never takes the writer's lock, so a command closing
    while another writes never makes that writer's next transaction fail as busy (a
    transaction that has read cannot wait for the lock: SQLite refuses it at once)."""
    try:
        busy, logged, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()[0]
    except Exception as exc:  # the note is an optimisation; never fail a close over it
        log.debug("no full checkpoint: %s", exc)
        return False
    return not busy and logged == copied


def log_is_empty(database: Path) -> bool:
    """No write-ahead log is waiting beside ``database`` (after the last connection closed,
    SQLite removes it; another connection still open keeps it)."""
    wal = Path(f"{database}-wal")
    try:
        return wal.stat().st_size == 0
    except FileNotFoundError:
        return True
    except OSError:
        return False


def note_clean_close(database: Path) -> None:
    """After a full checkpoint and the connection's close: the file is clean as it is now."""
    try:
        stamp_path(database).write_text(json.dumps(_file_state(database)), encoding="utf-8")
    except OSError as exc:
        log.debug("no clean-close note for %s: %s", database, exc)


def forget_clean_close(database: Path) -> None:
    """A writer opened: until its clean close, an open must check the file."""
    stamp_path(database).unlink(missing_ok=True)


def _file_state(database: Path) -> list[int]:
    state = database.stat()
    return [state.st_size, state.st_mtime_ns]

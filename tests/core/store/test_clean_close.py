"""The integrity check at open runs after anything but a clean close, and only then."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from core.store.database import Store


def test_after_a_clean_close_the_next_open_skips_the_check(tmp_path, checks) -> None:
    database = tmp_path / "k.db"
    store = Store.open(database)
    store.folders.add(tmp_path)
    store.close()
    assert len(checks) == 1  # a new file is checked too (it costs nothing)
    assert not Path(f"{database}-wal").exists()

    store = Store.open(database)
    assert len(checks) == 1
    assert store.folders.all() == [(1, str(tmp_path))]
    store.close()


def test_a_file_changed_since_the_clean_close_is_checked(tmp_path, checks) -> None:
    database = tmp_path / "k.db"
    Store.open(database).close()
    state = database.stat()
    os.utime(database, ns=(state.st_atime_ns, state.st_mtime_ns + 1_000_000))
    Store.open(database).close()
    assert len(checks) == 2


def test_a_second_writer_checks_while_the_first_is_open(tmp_path, checks) -> None:
    database = tmp_path / "k.db"
    Store.open(database).close()
    first = Store.open(database)
    second = Store.open(database)
    assert len(checks) == 2
    second.close()
    first.close()


def test_after_a_crash_the_next_open_checks(tmp_path, checks) -> None:
    database = tmp_path / "k.db"
    Store.open(database).close()
    crash = (
        "import os, sys; from pathlib import Path; from core.store.database import Store; "
        "s = Store.open(Path(sys.argv[1])); s.folders.add(Path(sys.argv[2])); os._exit(3)"
    )
    done = subprocess.run([sys.executable, "-c", crash, str(database), str(tmp_path)],
                          cwd=Path(__file__).resolve().parents[3], timeout=60)
    assert done.returncode == 3
    store = Store.open(database)
    assert len(checks) == 2
    assert store.folders.all() == [(1, str(tmp_path))]  # the log's committed work recovered
    store.close()


def test_a_connection_closing_never_makes_a_writer_mid_transaction_busy(tmp_path) -> None:
    import threading

    database = tmp_path / "k.db"
    writer = Store.open(database)
    writer.folders.add(tmp_path / "a")  # frames in the log for a closing checkpoint to move
    other = Store.open(database)
    writer.conn.execute("BEGIN")
    writer.conn.execute("SELECT count(*) FROM folders").fetchall()  # a transaction that has read
    closing = threading.Thread(target=other.close)
    closing.start()
    try:
        time.sleep(0.2)  # the close is under way (a blocking checkpoint would hold the lock now)
        # Upgrading to write cannot wait for a lock: a checkpoint holding it made this fail.
        writer.conn.execute("INSERT INTO meta(key, value) VALUES ('k', 'v')")
        writer.conn.execute("COMMIT")
    finally:
        closing.join()
    writer.close()
    assert Store.open(database).get_meta("k") == "v"

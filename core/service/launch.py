"""Starting the background service on demand, detached from the command that starts it.

The service is ``kenning service run`` in a new session (it outlives the terminal), its output
going to ``service.log`` in the data folder. The command that runs it comes from the top
layer (``app.launch`` can add a window); without one, the engine's own headless service runs.

    client = start_service(paths, home=None)   # a connected client, or None (see the log)

A service left running by an earlier install (Kenning was upgraded while it ran, or it starts
at login) is stopped by the first command of the new one and started again from it
(``current_service``), unless its window is open.

    client = current_service(paths)            # the service of this install, or None
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from filelock import FileLock, Timeout

from core.config import AppPaths
from core.service.protocol import (
    ServiceClient,
    ServiceError,
    ServiceGone,
    connect,
    install_stamp,
    lock_path,
    log_path,
)

#: The service listens within about a second; a busy machine may take several.
START_TIMEOUT_S = 30.0
#: A service finishes the file it is reading before it stops; a large one may take a while.
STOP_TIMEOUT_S = 60.0
#: The log is started afresh past this size: it is for the latest problem, not a history.
LOG_LIMIT_BYTES = 4 << 20


def headless_command() -> list[str]:
    """Runs the engine's service without any window code."""
    return [sys.executable, "-m", "core.service"]


def start_service(paths: AppPaths, home: Path | None, command: Sequence[str] | None = None,
                  timeout: float = START_TIMEOUT_S) -> ServiceClient | None:
    """Start the service for ``paths`` and connect to it; None when it did not come up in
    ``timeout`` seconds (its log says why). Safe to race: a second service exits at once."""
    paths.ensure()
    argv = [*(command or headless_command())]
    if home is not None:
        argv += ["--home", str(home)]
    argv += ["service", "run"]
    log = log_path(paths)
    if log.exists() and log.stat().st_size > LOG_LIMIT_BYTES:
        log.unlink()
    with open(log, "ab") as output:
        if sys.platform == "win32":
            process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=output, stderr=output, close_fds=True,
                creationflags=subprocess.DETACHED_PROCESS | subprocess.CREATE_NEW_PROCESS_GROUP)
        else:
            process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=output,
                                       stderr=output, close_fds=True, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        client = connect(paths)
        if client is not None:
            return client
        if process.poll() not in (None, 0):
            return None  # it failed to start; a service that lost a race exits 0
        time.sleep(0.1)
    return None


def stop_service(paths: AppPaths, timeout: float = STOP_TIMEOUT_S) -> int | None:
    """Ask the running service to stop and wait until it has; its process id (0 if it went
    before saying), or None when none ran. Indexing goes on where it stopped next time."""
    client = connect(paths)
    if client is None:
        return None
    with client:
        try:
            pid = int(client.request({"action": "stop"}).get("pid", 0))
        except (ServiceGone, ServiceError):
            pid = 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        still = connect(paths)
        if still is None:
            break
        still.close()
        time.sleep(0.1)
    # It stops listening first and lets go of its lock last: a service started before then
    # would find the lock held and leave, taking the old one for a running service.
    gone = FileLock(str(lock_path(paths)))
    # Not let go in time, or a lock file this account may not open: a start may find it held.
    with contextlib.suppress(Timeout, OSError):
        gone.acquire(timeout=max(0.0, deadline - time.monotonic()))
        gone.release()
    return pid


def current_service(paths: AppPaths,
                    replacing: Callable[[], None] | None = None) -> ServiceClient | None:
    """The running service if it runs this install of Kenning or a later one (two installs
    sharing a data folder would otherwise stop each other's service at every command), or one
    whose window is open (closing a window someone is using is worse than a command answered
    by the earlier version); None when none runs, and when an earlier install's service ran:
    it is stopped (``replacing`` is called first, to say so) so that the caller starts this
    one's."""
    client = connect(paths)
    if client is None:
        return None
    try:
        described = client.request({"action": "ping"})
    except (ServiceGone, ServiceError):
        client.close()
        return connect(paths)  # it stopped while answering; one started since is taken as is
    if not _earlier(described.get("install"), install_stamp()) or described.get("window"):
        return client
    client.close()
    if replacing is not None:
        replacing()
    stop_service(paths)
    return None


def _earlier(running: object, ours: str) -> bool:
    """Whether the service's install stamp (``install_stamp``) is of an install written before
    this one. A service that reports none predates the stamps; a stamp that cannot be compared
    (this install's own unknown) is taken as not earlier."""
    if running == ours:
        return False
    try:
        mine = int(ours)
    except ValueError:
        return False
    try:
        return int(str(running)) < mine
    except ValueError:
        return True

"""Starting the background service on demand, detached from the command that starts it.

The service is ``kenning service run`` in a new session (it outlives the terminal), its output
going to ``service.log`` in the data folder. The command that runs it comes from the top
layer (``app.launch`` can add a window); without one, the engine's own headless service runs.

    client = start_service(paths, home=None)   # a connected client, or None (see the log)
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from core.background.protocol import ServiceClient, connect, log_path
from core.config import AppPaths

#: The service listens within about a second; a busy machine may take several.
START_TIMEOUT_S = 30.0
#: The log is started afresh past this size: it is for the latest problem, not a history.
LOG_LIMIT_BYTES = 4 << 20


def headless_command() -> list[str]:
    """Runs the engine's service without any window code."""
    return [sys.executable, "-m", "core.background"]


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


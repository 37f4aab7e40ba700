"""One running Kenning per user and data folder: a second launch hands its request to the first.

The first instance listens on a local socket (a Unix socket or a Windows named pipe, through
QLocalServer) named after the user and the data folder, so two homes (``--home``) never meet.
A request is one line of JSON, e.g. ``{"action": "ask-folder", "path": "/home/me/Tax 2025"}``;
JSON carries any path byte-exact (quotes, newlines, non-ASCII) and no shell ever sees it.
The server answers ``ok`` once the request is taken, so the sender knows it may exit.

    server = InstanceServer(instance_name(paths))
    if server.listen():
        server.request_received.connect(window.handle_request)
    # elsewhere, in a second process:
    delivered = send_request(instance_name(paths), {"action": "show"})
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from core.config import AppPaths

log = logging.getLogger(__name__)

CONNECT_MS = 500  # a live instance accepts at once; longer means none is listening
REPLY_MS = 3000  # the running window may be busy for a moment before it reads the request
MAX_REQUEST_BYTES = 1 << 20
ACK = b"ok\n"


def instance_name(paths: AppPaths) -> str:
    """The socket name for this user and data folder (short: Unix socket paths are limited)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (some containers)
        user = "user"
    digest = hashlib.sha256(f"{user}\0{paths.data_dir}".encode()).hexdigest()[:16]
    return f"kenning-{digest}"


def send_request(name: str, request: dict[str, Any]) -> bool:
    """Give ``request`` to the running instance; False when none is running (or it did not
    take the request in time, e.g. it is hanging), so the caller starts a window itself."""
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(CONNECT_MS):
        return False
    try:
        socket.write(json.dumps(request, ensure_ascii=True).encode("ascii") + b"\n")
        if not socket.waitForBytesWritten(REPLY_MS):
            return False
        reply = b""
        while ACK not in reply and socket.waitForReadyRead(REPLY_MS):
            reply += bytes(socket.readAll().data())
        return ACK in reply
    finally:
        socket.abort()


class InstanceServer(QObject):
    """Listens for requests from later launches; emits each as a dict on the GUI thread."""

    request_received = Signal(dict)

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._server = QLocalServer(self)
        # Only this user may connect (Unix: socket file mode; Windows: pipe ACL).
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._on_connection)
        self._buffers: dict[QLocalSocket, bytes] = {}

    def listen(self) -> bool:
        """Start listening; False when a live instance already listens under this name.
        A socket left behind by a crashed instance is removed first."""
        # Asked before listening: with UserAccessOption, Qt on Unix binds in a private folder
        # and renames the socket into place, which would silently take over a live instance.
        if send_request(self.name, {"action": "ping"}):
            return False
        QLocalServer.removeServer(self.name)
        if self._server.listen(self.name):
            return True
        log.warning("cannot listen on %s: %s", self.name, self._server.errorString())
        return False

    def close(self) -> None:
        for socket in list(self._buffers):
            socket.abort()  # emits disconnected: _forget lets Qt delete it
        self._server.close()

    def _on_connection(self) -> None:
        while self._server.hasPendingConnections():
            socket = self._server.nextPendingConnection()
            self._buffers[socket] = b""
            socket.readyRead.connect(self._on_ready_read)
            socket.disconnected.connect(self._forget)

    def _on_ready_read(self) -> None:
        socket = self.sender()
        if not isinstance(socket, QLocalSocket):
            return
        data = self._buffers.get(socket, b"") + bytes(socket.readAll().data())
        if len(data) > MAX_REQUEST_BYTES:
            log.warning("ignored an oversized request on the instance socket")
            socket.abort()
            return
        line, newline, rest = data.partition(b"\n")
        self._buffers[socket] = rest if newline else data
        if not newline:
            return
        try:
            request = json.loads(line)
        except ValueError:
            request = None
        if not isinstance(request, dict):
            log.warning("ignored a malformed request on the instance socket")
            socket.abort()
            return
        socket.write(ACK)
        socket.flush()
        if request.get("action") != "ping":
            self.request_received.emit(request)

    def _forget(self) -> None:
        socket = self.sender()
        if not isinstance(socket, QLocalSocket):
            return
        self._buffers.pop(socket, None)
        socket.deleteLater()

"""Without a download request, Kenning opens no network connection: a whole index -> search
-> ask run with the real bundled model, every outgoing connect attempt recorded.

Local sockets (AF_UNIX, as multiprocessing may use for the extraction worker) are allowed.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pytest

from core.cli.main import main
from tests.docs_factory import make_pdf


@pytest.fixture
def connection_attempts(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    attempts: list[Any] = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def is_local(sock: socket.socket) -> bool:
        return sock.family == getattr(socket, "AF_UNIX", None)

    def connect(self: socket.socket, address: Any) -> None:
        if not is_local(self):
            attempts.append(address)
            raise OSError("network use during a test")
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if not is_local(self):
            attempts.append(address)
            return 111
        return real_connect_ex(self, address)

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        attempts.append(address)
        raise OSError("network use during a test")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    return attempts


def test_the_guard_sees_a_connection(connection_attempts: list[Any]) -> None:
    with pytest.raises(OSError), socket.socket() as sock:
        sock.connect(("127.0.0.1", 9))
    assert connection_attempts == [("127.0.0.1", 9)]


@pytest.mark.model
def test_index_search_ask_open_no_connection(
        home: Path, tmp_path: Path, default_gguf: Path, connection_attempts: list[Any],
        capsys: pytest.CaptureFixture[str]) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    make_pdf(docs / "handbook.pdf", ["Every employee gets twenty-eight days of paid leave."])
    model = ["--model", str(default_gguf)]

    assert main([*model, "index", str(docs)]) == 0
    assert main([*model, "search", "paid leave", "--json"]) == 0
    capsys.readouterr()
    assert main([*model, "search", "paid leave", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["hits"]
    assert main([*model, "ask", "How many days of leave?"]) == 0
    assert main(["model", "list"]) == 0

    assert connection_attempts == []

"""How clients talk to the background service: one local socket per user and data folder.

The socket is a Unix socket in a folder only its user may enter (``$XDG_RUNTIME_DIR``, else
a private folder in the temporary directory), or on Windows a named pipe, whose default
access lets only its creator's account write to it. That permission is the authentication:
there is no network listener. ``multiprocessing.connection`` carries whole messages over
either, and every message is one JSON object (never pickle: a message is data, not code).

A request is ``{"action": "search", ...}``. The service answers with messages whose
``"event"`` is ``"text"`` (a piece of a streamed answer), ``"progress"`` (indexing news),
then one ``"result"`` or ``"error"`` that ends the exchange.

    with connect(paths) as client:        # None when no service runs
        found = client.request({"action": "search", "query": "notice period"})
"""

from __future__ import annotations

import dataclasses
import getpass
import hashlib
import json
import os
import stat
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Client, Connection
from pathlib import Path
from typing import Any

from core.config import AppPaths
from core.types import Answer, Citation, Hit, SheetRows, SupportingQuote

#: A message larger than this is not Kenning's (a search result is kilobytes).
MAX_MESSAGE_BYTES = 64 << 20


class ServiceError(Exception):
    """The service could not do what was asked; the message says why, for the user.
    ``usage``: the request itself was wrong (a folder that is not one), not the service."""

    def __init__(self, message: str, usage: bool = False) -> None:
        super().__init__(message)
        self.usage = usage


class ServiceGone(Exception):
    """The service stopped (or crashed) while answering."""


@dataclass(frozen=True)
class Endpoint:
    address: str
    family: str  # "AF_UNIX" or "AF_PIPE"


def endpoint(paths: AppPaths) -> Endpoint:
    """The socket of the service for this user and data folder (two homes never meet)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for this uid (some containers)
        user = "user"
    digest = hashlib.sha256(f"{user}\0{paths.data_dir}".encode()).hexdigest()[:16]
    if sys.platform == "win32":
        return Endpoint(rf"\\.\pipe\kenning-{user}-{digest}", "AF_PIPE")
    # Unix socket paths are limited to about 100 bytes, so the name is short and the folder
    # is the user's runtime folder rather than the data folder.
    return Endpoint(str(private_runtime_dir() / f"kenning-{digest}.sock"), "AF_UNIX")


def lock_path(paths: AppPaths) -> Path:
    """Held by the running service: one per data folder."""
    return paths.data_dir / "service.lock"


def log_path(paths: AppPaths) -> Path:
    """Where a service started in the background writes what it has to say."""
    return paths.data_dir / "service.log"


def private_runtime_dir() -> Path:
    """A folder only this user may enter, for the socket."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and _is_private(Path(runtime)):
        return Path(runtime)
    folder = Path(tempfile.gettempdir()) / f"kenning-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
    except OSError as exc:
        raise ServiceError(f"Cannot make the folder for Kenning's socket ({exc}).") from exc
    if not _is_private(folder):
        raise ServiceError(
            f"{folder} belongs to another user or others may enter it, so Kenning will not "
            "put its socket there. Remove that folder, or set XDG_RUNTIME_DIR to a private one."
        )
    return folder


def _is_private(folder: Path) -> bool:
    try:
        info = folder.lstat()
    except OSError:
        return False
    return (stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()
            and not info.st_mode & 0o077)


def encode(message: dict[str, Any]) -> bytes:
    return json.dumps(message, ensure_ascii=False).encode("utf-8")


def decode(data: bytes) -> dict[str, Any]:
    message = json.loads(data.decode("utf-8"))
    if not isinstance(message, dict):
        raise ValueError("a message must be a JSON object")
    return message


def receive(conn: Connection) -> dict[str, Any]:
    """The next message; EOFError when the other side has gone."""
    return decode(conn.recv_bytes(MAX_MESSAGE_BYTES))


class ServiceClient:
    """One connection to the service; requests are answered in turn."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def __enter__(self) -> ServiceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.conn.close()

    def send(self, message: dict[str, Any]) -> None:
        try:
            self.conn.send_bytes(encode(message))
        except OSError as exc:
            raise ServiceGone(str(exc)) from exc

    def request(
        self, message: dict[str, Any], on_event: Callable[[dict[str, Any]], None] | None = None
    ) -> dict[str, Any]:
        """Send ``message``; pass streamed events to ``on_event``; return the result."""
        self.send(message)
        return self.result(on_event)

    def result(
        self, on_event: Callable[[dict[str, Any]], None] | None = None
    ) -> dict[str, Any]:
        while True:
            try:
                reply = receive(self.conn)
            except (EOFError, OSError) as exc:
                raise ServiceGone("the background service stopped while answering") from exc
            event = reply.get("event")
            if event == "result":
                result = reply.get("result", {})
                return result if isinstance(result, dict) else {}
            if event == "error":
                raise ServiceError(str(reply.get("message", "the service failed")),
                                   usage=bool(reply.get("usage")))
            if on_event is not None:
                on_event(reply)


def install_stamp() -> str:
    """Which install of Kenning this process runs: when its code was written to disk, which
    every install or upgrade renews. A frozen bundle keeps its code inside its program file,
    so that file's time stands for it."""
    import core

    for written in filter(None, (getattr(core, "__file__", None), sys.executable)):
        try:
            return str(os.stat(written).st_mtime_ns)
        except OSError:
            continue
    return ""


def connect(paths: AppPaths) -> ServiceClient | None:
    """A client of the running service, or None when none runs (a socket left by a crashed
    service counts as none)."""
    try:
        where = endpoint(paths)
    except ServiceError:
        return None
    if where.family == "AF_UNIX" and not os.path.exists(where.address):
        return None
    try:
        return ServiceClient(Client(where.address, family=where.family))
    except (OSError, EOFError):
        return None


# -- the engine's records on the wire ---------------------------------------------------------


def hit_to_wire(hit: Hit) -> dict[str, Any]:
    return dataclasses.asdict(hit)


def hit_from_wire(data: dict[str, Any]) -> Hit:
    fields = dict(data)
    fields["snippet_matches"] = [tuple(m) for m in fields.get("snippet_matches", [])]
    rows = fields.get("sheet_rows")
    if rows is not None:
        fields["sheet_rows"] = SheetRows.from_dict(rows)
    return Hit(**fields)


def answer_to_wire(answer: Answer) -> dict[str, Any]:
    return dataclasses.asdict(answer)


def answer_from_wire(data: dict[str, Any]) -> Answer:
    fields = dict(data)
    fields["citations"] = [Citation(**c) for c in fields.get("citations", [])]
    fields["sources"] = [hit_from_wire(h) for h in fields.get("sources", [])]
    fields["emphasis"] = _spans(fields.get("emphasis", []))
    fields["supporting"] = [
        SupportingQuote(q["n"], q["text"], _spans(q.get("emphasis", [])))
        for q in fields.get("supporting", [])
    ]
    return Answer(**fields)


def _spans(data: list[list[int]]) -> list[tuple[int, int]]:
    """(start, end) pairs, which JSON carries as lists."""
    return [(int(start), int(end)) for start, end in data]

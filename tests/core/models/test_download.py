"""The download manager against a real HTTP server on loopback that honours Range."""

from __future__ import annotations

import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.cancel import Cancelled, CancelToken
from core.models.download import DownloadError, DownloadProgress, download, part_path

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class _Server(http.server.ThreadingHTTPServer):
    cut_after: int | None = None  # bytes to send before dropping the connection
    fail_with: int | None = None
    ranges_seen: list[str]
    requests = 0


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.requests += 1
        if self.server.fail_with:
            self.send_error(self.server.fail_with)
            return
        start = 0
        header = self.headers.get("Range")
        if header:
            self.server.ranges_seen.append(header)
            start = int(header.removeprefix("bytes=").rstrip("-"))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        else:
            self.send_response(200)
        body = PAYLOAD[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.server.cut_after is not None:
            self.wfile.write(body[: self.server.cut_after])
            self.server.cut_after = None
            return  # handler ends: the connection closes short
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[_Server]:
    srv = _Server(("127.0.0.1", 0), _Handler)
    srv.ranges_seen = []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _url(srv: _Server) -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}/model.gguf"


def test_resumes_after_a_cut(server: _Server, tmp_path: Path) -> None:
    target = tmp_path / "model.gguf"
    server.cut_after = 300_000
    with pytest.raises(DownloadError, match="resume"):
        download(_url(server), target, SHA, len(PAYLOAD))
    assert not target.exists()
    assert part_path(target).stat().st_size == 300_000

    seen: list[DownloadProgress] = []
    download(_url(server), target, SHA, len(PAYLOAD), progress=seen.append)
    assert target.read_bytes() == PAYLOAD
    assert server.ranges_seen == ["bytes=300000-"]
    assert not part_path(target).exists()
    assert seen[-1].done == seen[-1].total == len(PAYLOAD)
    assert seen[-1].bytes_per_second > 0


def test_checksum_mismatch_is_refused_and_keeps_the_old_model(
        server: _Server, tmp_path: Path) -> None:
    target = tmp_path / "model.gguf"
    target.write_bytes(b"working model")
    with pytest.raises(DownloadError, match="checksum"):
        download(_url(server), target, "0" * 64, len(PAYLOAD))
    assert target.read_bytes() == b"working model"
    assert not part_path(target).exists()


def test_cancel_leaves_no_file_in_use(server: _Server, tmp_path: Path) -> None:
    target = tmp_path / "model.gguf"
    token = CancelToken()

    def cancel_midway(progress: DownloadProgress) -> None:
        token.cancel()

    with pytest.raises(Cancelled):
        download(_url(server), target, SHA, len(PAYLOAD), progress=cancel_midway, cancel=token)
    assert not target.exists()
    assert 0 < part_path(target).stat().st_size < len(PAYLOAD)


def test_server_error_is_reported_plainly(server: _Server, tmp_path: Path) -> None:
    server.fail_with = 503
    with pytest.raises(DownloadError, match="503"):
        download(_url(server), tmp_path / "model.gguf", SHA, len(PAYLOAD))
    assert not (tmp_path / "model.gguf").exists()


def test_refuses_a_file_without_a_checksum(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="no known checksum"):
        download("http://127.0.0.1:9/x", tmp_path / "x.gguf", "", None)


def test_a_download_without_room_stops_before_asking_the_server(
        server: _Server, tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="Free some disk space"):
        download(_url(server), tmp_path / "model.gguf", SHA, approx_size=1 << 62)
    assert server.requests == 0 and not list(tmp_path.iterdir())


def test_without_an_exact_size_the_checksum_alone_decides(server: _Server,
                                                          tmp_path: Path) -> None:
    target = download(_url(server), tmp_path / "model.gguf", SHA,
                      approx_size=len(PAYLOAD) // 2)  # a page's rounded size is only a hint
    assert target.read_bytes() == PAYLOAD
    with pytest.raises(DownloadError, match="checksum"):
        download(_url(server), tmp_path / "other.gguf", "0" * 64, approx_size=len(PAYLOAD))
    assert not (tmp_path / "other.gguf").exists()

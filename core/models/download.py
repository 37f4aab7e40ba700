"""Downloading a model file: resumable, verified, cancellable, and never half-installed.

Bytes go to ``<name>.part`` beside the target. A rerun asks the server for the rest with an
HTTP Range request. Only when the whole file is there and its sha256 matches is it renamed
into place (an atomic rename), so a working model is never replaced by a broken one.
Plain ``urllib`` is enough for one GET with a Range header; no extra dependency.

Nothing here runs unless a user starts a download.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.cancel import CancelToken

_CHUNK = 1 << 16
_TIMEOUT_S = 30


class DownloadError(RuntimeError):
    """The download failed; the message says what happened and what to do next."""


@dataclass(frozen=True)
class DownloadProgress:
    done: int  # bytes on disk so far, including a resumed part
    total: int  # expected bytes, 0 when unknown
    bytes_per_second: float


DownloadCallback = Callable[[DownloadProgress], None]


def part_path(target: Path) -> Path:
    return target.with_name(target.name + ".part")


def download(url: str, target: Path, sha256: str, size: int | None = None,
             progress: DownloadCallback | None = None,
             cancel: CancelToken | None = None, approx_size: int | None = None) -> Path:
    """Fetch ``url`` into ``target``, resuming a ``.part`` file, and return ``target``.

    ``size`` is the exact size when known (checked before hashing); ``approx_size`` only
    decides whether the disk has room. Raises ``Cancelled`` (the part is kept for a later
    resume) or ``DownloadError``.
    """
    if not sha256:
        raise DownloadError("This file has no known checksum, so Kenning cannot check it "
                            "and will not download it. Download it yourself and choose it "
                            "with `kenning model use PATH`.")
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(target)
    have = part.stat().st_size if part.exists() else 0
    if size is not None and have > size:
        part.unlink()  # longer than the real file: it cannot be a prefix of it
        have = 0
    if size is None or have < size:
        _check_room(target.parent, (size or approx_size or 0) - have)
        _fetch(url, part, have, size, progress, cancel)
    _verify(part, sha256, size)
    os.replace(part, target)
    return target


def _fetch(url: str, part: Path, have: int, size: int | None,
           progress: DownloadCallback | None, cancel: CancelToken | None) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "Kenning"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=_TIMEOUT_S)
    except urllib.error.HTTPError as error:
        if error.code == 416 and size is not None and have == size:
            return  # the part is already whole
        raise DownloadError(f"The server refused the download ({error.code} {error.reason}). "
                            "Try again later, or check the address.") from error
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise DownloadError(f"Could not reach the server ({reason}). Check the network "
                            "connection and try again; the download will resume.") from error
    with response:
        if have and response.status != 206:
            have = 0  # the server ignored Range: start over
        length = int(response.headers.get("Content-Length") or 0)
        total = size or (have + length if length else 0)
        started, received = time.monotonic(), 0
        with part.open("ab" if have else "wb") as out:
            while True:
                if cancel is not None:
                    cancel.raise_if_cancelled()
                try:
                    block = response.read(_CHUNK)
                except OSError as error:
                    raise DownloadError(f"The connection broke ({error}). Run the download "
                                        "again; it will resume where it stopped.") from error
                if not block:
                    break
                out.write(block)
                received += len(block)
                if progress is not None:
                    elapsed = max(time.monotonic() - started, 1e-6)
                    progress(DownloadProgress(have + received, total, received / elapsed))
    if total and have + received < total:
        raise DownloadError("The server closed the connection before the end. Run the "
                            "download again; it will resume where it stopped.")


def _check_room(folder: Path, still_needed: int) -> None:
    free = shutil.disk_usage(folder).free
    if still_needed > free:
        raise DownloadError(f"This model needs about {still_needed / 1e9:.1f} GB more and only "
                            f"{free / 1e9:.1f} GB is free in {folder}. Free some disk space, "
                            "then run the download again.")


def _verify(part: Path, sha256: str, size: int | None) -> None:
    if size is not None and part.stat().st_size != size:
        part.unlink()
        raise DownloadError("The downloaded file has the wrong size, so it was deleted. "
                            "Please download it again.")
    digest = hashlib.sha256()
    with part.open("rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    if digest.hexdigest() != sha256.lower():
        part.unlink()
        raise DownloadError("The downloaded file does not match its checksum, so it was "
                            "deleted and the current model kept. Please download it again.")

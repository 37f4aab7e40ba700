"""The exceptions every extractor raises for input it cannot handle, and the size guard."""

from __future__ import annotations

from pathlib import Path


class ExtractionError(Exception):
    """A file could not be turned into text. ``str(error)`` is a reason fit to show the user.

    >>> str(ExtractionError("empty file"))
    'empty file'
    """


class NothingToRead(ExtractionError):
    """The file holds nothing to read (empty, or only blank space): the indexer records it as
    skipped rather than failed, since nothing is wrong with it.

    >>> isinstance(NothingToRead("empty file"), ExtractionError)
    True
    """


class ScansNotRead(NothingToRead):
    """Every page with anything on it is a scan (or the file is a picture) that was not read
    by OCR: skipped, with why (OCR off for the folder, Tesseract missing). ``unread_scans``
    counts those pages, for the status.

    >>> ScansNotRead("2 scanned pages without a text layer", 2).unread_scans
    2
    """

    def __init__(self, reason: str, unread_scans: int = 0) -> None:
        super().__init__(reason)
        self.unread_scans = unread_scans

    def __reduce__(self) -> tuple[object, ...]:  # crosses to the indexer whole
        return (type(self), (str(self), self.unread_scans))


class OverSizeCap(ExtractionError):
    """The file is larger than its type's size cap: skipped, not failed (the cap is a choice)."""


def describe_size(n_bytes: int) -> str:
    """A short human size: ``20 MB``, ``512 KB``, ``300 bytes`` (binary units, as file managers).

    >>> describe_size(1020 * 2**10), describe_size(int(1.5 * 2**20)), describe_size(300)
    ('1020 KB', '1.5 MB', '300 bytes')
    """
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n_bytes >= scale:
            value = n_bytes / scale
            # Three significant digits, but never an exponent ("1020 KB", not "1.02e+03 KB").
            return f"{value:.0f} {unit}" if value >= 100 else f"{value:.3g} {unit}"
    return f"{n_bytes} bytes"


def checked_size(path: Path, max_bytes: int) -> int:
    """The file's size, after refusing what is not a readable, non-empty file under the cap.

    Runs before anything is read, so a huge file is never loaded just to be refused.
    """
    try:
        stat = path.stat()
    except OSError as error:
        raise ExtractionError(describe_os_error(error)) from error
    if not path.is_file():
        raise ExtractionError("not a regular file")
    if stat.st_size == 0:
        raise NothingToRead("empty file")
    if stat.st_size > max_bytes:
        raise OverSizeCap(f"file is larger than the size cap ({describe_size(max_bytes)})")
    return stat.st_size


def read_capped(path: Path, max_bytes: int) -> bytes:
    """All bytes of a file no larger than ``max_bytes`` (re-checked while reading: files grow)."""
    checked_size(path, max_bytes)
    try:
        with path.open("rb") as stream:
            data = stream.read(max_bytes + 1)
    except OSError as error:
        raise ExtractionError(describe_os_error(error)) from error
    if len(data) > max_bytes:
        raise OverSizeCap(f"file is larger than the size cap ({describe_size(max_bytes)})")
    if not data:
        raise NothingToRead("empty file")
    return data


def describe_os_error(error: OSError) -> str:
    """A user-facing reason for an operating-system error while reading a file."""
    if isinstance(error, FileNotFoundError):
        return "file not found"
    if isinstance(error, PermissionError):
        return "permission denied"
    return f"cannot read the file ({error.strerror or error})"

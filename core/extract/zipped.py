"""ZIP-based formats (Office, OpenDocument, EPUB, XPS, CBZ): refuse what unpacks too large
before anything is inflated, and read members under a cap that holds even when the archive's
directory lies about their sizes.

A ZIP's central directory states every member's unpacked size, so the check costs nothing; a
file whose text parts unpack to tens of megabytes fails at once with the reason, instead of
keeping a reader busy until the extraction timeout.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from core.extract.errors import ExtractionError, checked_size, describe_os_error, describe_size

# The markup of the parts whose text is read: a little more than the 20 MB cap on text files,
# since tags take room beside the words.
MAX_UNPACKED_TEXT = 25 * 2**20
# Everything in the archive, pictures included (a reflowed book or a comic may be mostly
# pictures): past this it is a bomb, or nothing a person reads as a document.
MAX_UNPACKED_TOTAL = 1 * 2**30
# Deflate reaches about 1000:1 at best on real data; members far past ordinary ratios and
# large unpacked are how ZIP bombs look.
_BOMB_RATIO = 200
_BOMB_MIN_BYTES = 10 * 2**20


@contextmanager
def open_zip(path: Path, max_bytes: int) -> Iterator[zipfile.ZipFile]:
    """The archive at ``path`` (no larger than ``max_bytes``), checked against ZIP bombs."""
    checked_size(path, max_bytes)
    try:
        archive = zipfile.ZipFile(path)
    except OSError as error:
        raise ExtractionError(describe_os_error(error)) from error
    except (zipfile.BadZipFile, ValueError, EOFError) as error:
        raise ExtractionError("damaged ZIP archive (the file may be cut short)") from error
    try:
        check_archive(archive)
        yield archive
    finally:
        archive.close()


def check_archive(archive: zipfile.ZipFile) -> None:
    """Refuse an archive whose members unpack to more than anything real (a ZIP bomb)."""
    total = 0
    for info in archive.infolist():
        total += info.file_size
        if info.file_size >= _BOMB_MIN_BYTES and info.file_size > _BOMB_RATIO * max(
            info.compress_size, 1
        ):
            raise ExtractionError(
                f"refused: a part of this archive unpacks to {describe_size(info.file_size)} "
                f"from {describe_size(info.compress_size)} (a ZIP bomb?)"
            )
    if total > MAX_UNPACKED_TOTAL:
        raise ExtractionError(
            f"too large when unpacked ({describe_size(total)}; the cap is "
            f"{describe_size(MAX_UNPACKED_TOTAL)})"
        )


def check_text_parts(
    archive: zipfile.ZipFile, is_text: Callable[[str], bool], limit: int = MAX_UNPACKED_TEXT
) -> None:
    """Refuse the archive when the parts ``is_text`` picks unpack to more than ``limit``."""
    size = sum(info.file_size for info in archive.infolist() if is_text(info.filename))
    if size > limit:
        raise ExtractionError(
            f"too large to read: its text unpacks to {describe_size(size)} "
            f"(the cap is {describe_size(limit)})"
        )


def read_member(archive: zipfile.ZipFile, name: str, limit: int = MAX_UNPACKED_TEXT) -> bytes:
    """A member's bytes, never inflating more than ``limit`` whatever its header says."""
    try:
        with archive.open(name) as stream:
            data = stream.read(limit + 1)
    except KeyError as error:
        raise ExtractionError(f"damaged file: its part {name} is missing") from error
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as error:
        raise ExtractionError(f"damaged ZIP archive (cannot unpack {name})") from error
    except RuntimeError as error:  # zipfile's word for an encrypted member
        raise ExtractionError("encrypted file; a password is needed") from error
    if len(data) > limit:
        raise ExtractionError(
            f"too large to read: its text unpacks to more than {describe_size(limit)}"
        )
    return data


def check_zip_file(path: Path, max_bytes: int, is_text: Callable[[str], bool]) -> None:
    """For formats another library unpacks (DOCX and EPUB through MuPDF): the same checks,
    made before that library inflates anything."""
    with open_zip(path, max_bytes) as archive:
        check_text_parts(archive, is_text)

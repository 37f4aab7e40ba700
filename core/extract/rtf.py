"""Rich Text Format (.rtf) through striprtf: one page of text, like a DOCX without pages.

striprtf is a small, pure-Python and maintained reader (one module, no dependencies); RTF's
own character escapes (``\\'e9``, ``\\u233``) are decoded with the code page the file
declares, pictures and other binary groups are skipped.
"""

from __future__ import annotations

import re
from pathlib import Path

from striprtf.striprtf import rtf_to_text

from core.extract.errors import ExtractionError, read_capped
from core.extract.text import DEFAULT_MAX_BYTES, normalise_newlines
from core.types import Document, Page

_CODE_PAGE = re.compile(rb"\\ansicpg(\d+)")
_TITLE = re.compile(rb"{\\title ([^{}\\]*)}")
_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")


def extract_rtf(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Document:
    data = read_capped(path, max_bytes)
    if not data.lstrip().startswith(b"{\\rtf"):
        raise ExtractionError("damaged RTF file (it does not start with {\\rtf)")
    code_page = _CODE_PAGE.search(data[:4096])
    encoding = f"cp{int(code_page.group(1))}" if code_page else "cp1252"
    try:
        "".encode(encoding)
    except LookupError:  # a code page Python does not know
        encoding = "cp1252"
    # RTF is 7-bit: bytes above 127 are rare and latin-1 keeps each one as one character.
    try:
        text = rtf_to_text(data.decode("latin-1"), encoding=encoding, errors="replace")
    except (ValueError, IndexError, RecursionError) as error:  # malformed control words
        raise ExtractionError("damaged RTF file") from error
    text = _BLANK_LINES.sub("\n\n", normalise_newlines(text)).strip() + "\n"
    if not text.strip():
        raise ExtractionError("no text found")
    title_match = _TITLE.search(data[:65536])
    title = title_match.group(1).decode("latin-1").strip() if title_match else None
    return Document(path=path, kind="rtf", pages=[Page(None, text)], title=title or None)

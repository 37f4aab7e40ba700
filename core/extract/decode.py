"""Bytes to text: strict UTF-8 first, then the likeliest legacy encoding; binary is refused.

charset-normalizer alone guesses badly on short Western text (a French note in latin-1 comes
back as cp1257), and Windows-1252 is by far the commonest legacy encoding on desktops, so a
plausibility check for it runs before charset-normalizer is asked.
"""

from __future__ import annotations

import codecs
import re

import charset_normalizer

from core.extract.errors import ExtractionError

NOT_TEXT = "not a text file (binary data)"

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: its BOM starts the same way
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# Replacement characters and control codes (tab, newlines, form feed and escape are fine):
# a few are damage, many mean binary data that happened to decode.
_GARBLED_CHARS = re.compile(r"[\ufffd\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")
_SNIFF_CHARS = 8192
_MAX_GARBLED_SHARE = 0.1
_MAX_DAMAGED_PER_INTACT = 4  # damaged byte sequences tolerated per intact UTF-8 character

# What Windows-1252 text in Western European languages is made of beyond ASCII: accented
# letters and typographic punctuation. Superscript digits are left out on purpose: they are
# what cp1250 text (Polish "ą", "ł") turns into when misread as cp1252.
_WESTERN_EXTRA = set(
    "ÀÁÂÃÄÅÆÇÈÉÊËÌÍÎÏÐÑÒÓÔÕÖØÙÚÛÜÝÞßàáâãäåæçèéêëìíîïðñòóôõöøùúûüýþÿ"
    "ŒœŠšŽžŸƒ€‚„…†‡‰‹›‘’“”•–—˜™«»¡¿£¥¢§¶©®°±µ·´¨¸½¼¾\xa0\xad"
)
# Latin-script text is mostly ASCII letters; Cyrillic or Greek read as cp1252 is mostly not.
_MAX_NON_ASCII_LETTER_SHARE = 0.3

# Labels that browsers (WHATWG) decode as windows-1252 whatever they say.
_WINDOWS_1252_ALIASES = {"iso-8859-1", "iso8859-1", "latin1", "latin-1", "ascii", "us-ascii"}


def decode_text(data: bytes, declared: str | None = None) -> str:
    """Decode file bytes to str, or raise ``ExtractionError`` for binary data.

    ``declared`` is an encoding the file names itself (an HTML ``<meta charset>``); it is
    trusted after a BOM and valid UTF-8, before any guessing. Undecodable bytes become U+FFFD.

    >>> decode_text("café".encode("cp1252"))
    'café'
    """
    text = _decode(data, declared)
    if _looks_garbled(text[:_SNIFF_CHARS]):  # binary that happened to decode
        raise ExtractionError(NOT_TEXT)
    return text


def _decode(data: bytes, declared: str | None) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace")
    if b"\x00" in data:  # no 8-bit or UTF-8 text has NUL bytes; UTF-16 without a BOM is rare
        raise ExtractionError(NOT_TEXT)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    for decoder in (_as_declared, _as_mostly_utf8, _as_western):
        text = decoder(data, declared)
        if text is not None:
            return text
    if _looks_garbled(data[:_SNIFF_CHARS].decode("latin-1")):  # spare binary the slow guess
        raise ExtractionError(NOT_TEXT)
    best = charset_normalizer.from_bytes(data).best()
    if best is None:
        raise ExtractionError(NOT_TEXT)
    return data.decode(best.encoding, errors="replace")


def _looks_garbled(sample: str) -> bool:
    bad = len(_GARBLED_CHARS.findall(sample))
    return bad > max(2, len(sample) * _MAX_GARBLED_SHARE)


def _as_declared(data: bytes, declared: str | None) -> str | None:
    if not declared:
        return None
    label = declared.strip().lower()
    encoding = "cp1252" if label in _WINDOWS_1252_ALIASES else label
    try:
        return data.decode(encoding)
    except (LookupError, UnicodeDecodeError):
        return None


def _as_mostly_utf8(data: bytes, _declared: str | None) -> str | None:
    """UTF-8 with a few damaged bytes (a cut-off log line) stays UTF-8, damage replaced.

    Legacy 8-bit text almost never forms valid multi-byte UTF-8 sequences by chance, so a
    fair share of intact ones means the file is UTF-8.
    """
    text = data.decode("utf-8", errors="replace")
    damaged = text.count("\ufffd")
    intact = sum(1 for char in text if char > "\x7f" and char != "\ufffd")
    return text if intact and damaged <= intact * _MAX_DAMAGED_PER_INTACT else None


def _as_western(data: bytes, _declared: str | None) -> str | None:
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:  # bytes cp1252 leaves undefined: some other encoding
        return None
    extra = [char for char in text if char > "\x7f"]
    if not all(char in _WESTERN_EXTRA for char in extra):
        return None
    letters = sum(1 for char in text if char.isalpha())
    non_ascii_letters = sum(1 for char in extra if char.isalpha())
    if letters and non_ascii_letters / letters > _MAX_NON_ASCII_LETTER_SHARE:
        return None
    return text

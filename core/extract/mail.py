"""Saved e-mail (.eml) and mailboxes (.mbox) with the standard library's ``email`` package.

A message reads as its headers (from, to, cc, date, subject), its body (the plain text, or the
HTML's visible text), then the text of each attachment in a format Kenning reads, under an
"Attachment: NAME" line, so a hit in an attachment is found, cited and opened through its
message. Every message of a mailbox is a page of its own, cited as "message N, DATE".
Messages are parsed with the ``compat32`` policy: plain strings, with encoded words decoded
only for the few headers shown.

Mailboxes are split on their "From " lines by a regular expression over a memory map, so a
message's size is known before it is parsed: one too large to read (a 100 MB attachment) is
kept by its headers alone instead of holding up the rest of the mailbox.
"""

from __future__ import annotations

import email.errors
import email.header
import email.parser
import email.policy
import email.utils
import mmap
import re
import tempfile
from collections.abc import Iterator
from email.message import Message
from pathlib import Path

from core.extract.errors import (
    ExtractionError,
    checked_size,
    describe_os_error,
    describe_size,
    read_capped,
)
from core.extract.html_text import html_to_page
from core.extract.text import normalise_newlines
from core.types import Document, Heading, Page

MAIL_EXTENSIONS = frozenset({".eml", ".mbox"})
DEFAULT_MAX_BYTES = 50 * 2**20  # one saved message
DEFAULT_MAX_MAILBOX_BYTES = 512 * 2**20
# A message larger than this (its attachments, mostly) is read by its headers only.
MAX_MESSAGE_BYTES = 25 * 2**20
MAX_ATTACHMENT_BYTES = 20 * 2**20
_HEADER_BYTES = 256 * 2**10
_HEADERS = ("From", "To", "Cc", "Date", "Subject")
# An mbox message starts at a line beginning "From " (other such lines are written ">From ").
_FROM_LINE = re.compile(rb"^From [^\n]*\n", re.MULTILINE)
_QUOTED_FROM = re.compile(rb"^>(>*From )", re.MULTILINE)


def extract_eml(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> Document:
    """One saved message as one page (number None), titled by its subject."""
    message = _parse(read_capped(path, max_bytes))
    page, subject = message_page(message, None, None, attachments=True)
    if not page.text.strip():
        raise ExtractionError("no text found in this message")
    return Document(path=path, kind="eml", pages=[page], title=subject or None)


def extract_mbox(path: Path, max_bytes: int = DEFAULT_MAX_MAILBOX_BYTES) -> Document:
    """Every message of a mailbox as its own page, labelled "message N, DATE"."""
    checked_size(path, max_bytes)
    pages = []
    try:
        with (
            path.open("rb") as stream,
            mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as data,
        ):
            if not data[:5] == b"From ":
                raise ExtractionError("not a mailbox file (it does not start with a From line)")
            for number, (start, end) in enumerate(_message_spans(data), 1):
                pages.append(_mailbox_page(number, data, start, end))
    except OSError as error:
        raise ExtractionError(describe_os_error(error)) from error
    if not any(page.text.strip() for page in pages):
        raise ExtractionError("no text found in this mailbox")
    return Document(path=path, kind="mbox", pages=pages)


def _message_spans(data: mmap.mmap) -> Iterator[tuple[int, int]]:
    """(start, end) of each message's bytes after its "From " line."""
    lines = [match.span() for match in _FROM_LINE.finditer(data)]
    for index, (_, start) in enumerate(lines):
        yield start, lines[index + 1][0] if index + 1 < len(lines) else len(data)


def _mailbox_page(number: int, data: mmap.mmap, start: int, end: int) -> Page:
    if end - start > MAX_MESSAGE_BYTES:
        message = _parse(data[start : min(end, start + _HEADER_BYTES)], headers_only=True)
        note = (
            f"(This message is {describe_size(end - start)}, larger than "
            f"{describe_size(MAX_MESSAGE_BYTES)}: only its headers were read.)"
        )
        page, _ = message_page(message, number, _label(number, message), body=note)
        return page
    message = _parse(_QUOTED_FROM.sub(rb"\1", data[start:end]))
    page, _ = message_page(message, number, _label(number, message), attachments=True)
    return page


def _parse(data: bytes, headers_only: bool = False) -> Message:
    # compat32, not policy.default: the modern header objects cost two thirds of a mailbox's
    # reading time (docs/benchmarks.md), and only a few headers' text is wanted.
    parser = email.parser.BytesParser(policy=email.policy.compat32)
    try:
        return parser.parsebytes(data, headersonly=headers_only)
    except Exception as error:  # the parser is lenient; anything raised means damage
        raise ExtractionError(f"damaged e-mail message ({error})") from error


def _label(number: int, message: Message) -> str:
    date = _header(message, "Date")
    try:
        day = email.utils.parsedate_to_datetime(date).date().isoformat() if date else ""
    except (TypeError, ValueError, IndexError):  # a date no mailer could read either
        day = ""
    return f"message {number}, {day}" if day else f"message {number}"


def _decoded(value: str) -> str:
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except (email.errors.HeaderParseError, LookupError, UnicodeError, ValueError):
        return value


def message_page(
    message: Message,
    number: int | None,
    label: str | None,
    *,
    attachments: bool = False,
    body: str | None = None,
) -> tuple[Page, str]:
    """The message's page and its subject. ``body`` replaces the message's own body."""
    parts: list[str] = []
    headings: list[Heading] = []
    length = 0
    subject = ""
    for name in _HEADERS:
        value = " ".join(_header(message, name).split())
        if not value:
            continue
        line = f"{name}: {value}\n"
        if name == "Subject":
            subject = value
            headings.append(Heading(length + len(name) + 2, 1, value))
        parts.append(line)
        length += len(line)
    text = body if body is not None else _body(message)
    if text:
        parts.append("\n" + text.strip() + "\n")
    if attachments and body is None:
        parts.extend(_attachments(message))
    return Page(number, "".join(parts).rstrip() + "\n", headings, label=label), subject


def _header(message: Message, name: str) -> str:
    """A header's text with its encoded words (``=?utf-8?q?...?=``) decoded."""
    raw = message.get(name)
    if raw is None:
        return ""
    try:
        return str(email.header.make_header(email.header.decode_header(str(raw))))
    except (email.errors.HeaderParseError, LookupError, UnicodeError, ValueError):
        return str(raw)  # the raw words are better than none


def _leaves(part: Message, top: bool = True) -> Iterator[Message]:
    """The message's single parts in order; a forwarded message counts as one."""
    if not top and part.get_content_type() == "message/rfc822":
        yield part
    elif part.is_multipart():
        for child in part.get_payload():
            if isinstance(child, Message):
                yield from _leaves(child, top=False)
    else:
        yield part


def _is_attachment(part: Message) -> bool:
    return part.get_content_disposition() == "attachment" or part.get_filename() is not None


def _body(message: Message) -> str:
    """The first plain-text part that is not an attachment, else the first HTML one."""
    leaves = [part for part in _leaves(message) if not _is_attachment(part)]
    for subtype in ("plain", "html"):
        part = next((p for p in leaves if p.get_content_type() == f"text/{subtype}"), None)
        if part is not None:
            content = _content(part)
            if subtype == "html":
                content = html_to_page(content)[0].text
            return normalise_newlines(content)
    return ""


def _content(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    try:
        return payload.decode(part.get_content_charset() or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return payload.decode("utf-8", errors="replace")


def _attachments(message: Message) -> Iterator[str]:
    """ "Attachment: NAME" and the attachment's text, for each one Kenning reads."""
    from core.extract import extract, is_supported  # the dispatcher imports this module

    for part in _leaves(message):
        if part.get_content_type() == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                page, _ = message_page(inner[0], None, None)
                yield f"\nForwarded message\n{page.text}"
            continue
        if not _is_attachment(part):
            continue
        name = " ".join(_decoded(part.get_filename() or "").split())
        suffix = Path(name).suffix.lower()
        if not name or suffix in MAIL_EXTENSIONS or not is_supported(Path(name)):
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes) or not payload:
            continue
        if len(payload) > MAX_ATTACHMENT_BYTES:
            cap = describe_size(MAX_ATTACHMENT_BYTES)
            yield f"\nAttachment: {name} (not read: larger than {cap})\n"
            continue
        with tempfile.TemporaryDirectory(prefix="kenning-attachment-") as folder:
            copy = Path(folder) / ("attachment" + suffix)
            copy.write_bytes(payload)
            try:
                document = extract(copy, max_bytes=MAX_ATTACHMENT_BYTES)
            except ExtractionError as error:
                yield f"\nAttachment: {name} (not read: {error})\n"
                continue
        text = "\n\n".join(page.text.strip() for page in document.pages if page.text.strip())
        yield f"\nAttachment: {name}\n{text}\n"

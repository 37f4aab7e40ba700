"""Saved e-mail (.eml) and mailboxes (.mbox) with the standard library's ``email`` package.

A message reads as its headers (from, to, cc, date, subject), its body (the plain text, or the
HTML's visible text), then the text of each attachment in a format Kenning reads, under an
"Attachment: NAME" line, so a hit in an attachment is found, cited and opened through its
message. Every message of a mailbox is a page of its own, cited as "message N, DATE".

Mailboxes are split on their "From " lines by a regular expression over a memory map, so a
message's size is known before it is parsed: one too large to read (a 100 MB attachment) is
kept by its headers alone instead of holding up the rest of the mailbox.
"""

from __future__ import annotations

import email
import email.parser
import email.policy
import email.utils
import mmap
import re
import tempfile
from collections.abc import Iterator
from email.message import EmailMessage, Message
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


def _parse(data: bytes, headers_only: bool = False) -> EmailMessage:
    parser = email.parser.BytesParser(policy=email.policy.default)
    try:
        message = parser.parsebytes(data, headersonly=headers_only)
    except Exception as error:  # the parser is lenient; anything raised means damage
        raise ExtractionError(f"damaged e-mail message ({error})") from error
    assert isinstance(message, EmailMessage)
    return message


def _label(number: int, message: Message) -> str:
    date = _header(message, "Date")
    try:
        day = email.utils.parsedate_to_datetime(date).date().isoformat() if date else ""
    except (TypeError, ValueError, IndexError):  # a date no mailer could read either
        day = ""
    return f"message {number}, {day}" if day else f"message {number}"


def message_page(
    message: EmailMessage,
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
    try:
        return str(message.get(name, "") or "")
    except Exception:  # a header the policy cannot decode: its raw words are better than none
        raw = message.get_all(name) if hasattr(message, "get_all") else None
        return str(raw[0]) if raw else ""


def _body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = _content(part)
    if part.get_content_subtype() == "html":
        content = html_to_page(content)[0].text
    return normalise_newlines(content)


def _content(part: Message) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
        if isinstance(content, str):
            return content
    except Exception:  # an unknown charset or damaged transfer encoding
        pass
    payload = part.get_payload(decode=True)
    return payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else ""


def _attachments(message: EmailMessage) -> Iterator[str]:
    """ "Attachment: NAME" and the attachment's text, for each one Kenning reads."""
    from core.extract import extract, is_supported  # the dispatcher imports this module

    for part in message.iter_attachments():
        if part.get_content_type() == "message/rfc822":
            inner = part.get_content()
            if isinstance(inner, EmailMessage):
                page, _ = message_page(inner, None, None)
                yield f"\nForwarded message\n{page.text}"
            continue
        name = " ".join((part.get_filename() or "").split())
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

"""Where sentences end: the one splitter the answer's sources, the reader, the support checks
and the preview's highlight all use, and the finer cut points chunking packs by.

>>> text = "Rent is due monthly. Notice (see clause 2.5) must be 60 days."
>>> [text[s:e] for s, e in sentence_spans(text)]
['Rent is due monthly.', 'Notice (see clause 2.5) must be 60 days.']
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from core.text.words import WORD

# What may close a sentence after its full stop: "He said “go.” Then" ends after the quote.
_CLOSERS = "\"')\\]”’"
# A sentence ends at . ! or ? (and any closing quotes or brackets) followed by space, or at a
# blank line; a single line break is only layout (PDF lines, wrapped paragraphs) and never
# ends one. "2.5" stays whole.
_SENTENCE = re.compile(
    rf"(?:[^.!?\n]|\n(?![ \t]*\n)|[.!?](?![{_CLOSERS}]*(?:\s|$)))+"
    rf"(?:[.!?]+[{_CLOSERS}]*|\n[ \t]*\n|$)"
)
_ENDS_SENTENCE = re.compile(rf"[.!?:;][{_CLOSERS}]*$")
_VISIBLE = re.compile(r"\S")
_LIST_MARKER = re.compile(r"\(?(\d{1,3}|[a-zA-Z]|[ivxIVX]{1,4})[.)]")
# Where a chunk may be cut inside a paragraph too long for one: finer than sentences (also
# after ; and :, and at every line break), so pieces pack close to the token budget.
CLAUSE_BREAK = re.compile(r"(?<=[.!?;:])\s+|\n")
PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n+")


def sentence_spans(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each sentence or line in ``text``, trimmed of surrounding space. A
    full stop after an abbreviation ("U.S. federal") or a list number ("1. Revenue") does
    not end one."""
    pending: int | None = None  # start of a sentence carried on into the next match
    for match in _SENTENCE.finditer(text):
        start, end = match.start(), match.end()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if pending is not None:
            start, pending = pending, None
        if end < len(text) and (is_list_marker(text[start:end]) or ends_in_abbreviation(
                text[start:end], next_visible(text, end))):
            pending = start
            continue
        if end - start > 1 and WORD.search(text, start, end):
            yield start, end
    if pending is not None and WORD.search(text, pending):
        yield pending, len(text.rstrip())


def runs_on(text: str, end: int, start: int) -> bool:
    """Whether the sentence at ``start`` directly follows the one ending at ``end`` in the same
    paragraph: only spaces and single line breaks between them."""
    return not text[end:start].strip() and PARAGRAPH_BREAK.search(text, end, start) is None


def next_visible(text: str, pos: int) -> str:
    """The first character of ``text`` from ``pos`` on that is not white space ("" if none)."""
    match = _VISIBLE.search(text, pos)
    return match.group() if match else ""


def ends_in_abbreviation(sentence: str, following: str) -> bool:
    """Whether ``sentence``'s final full stop belongs to an abbreviation or an initial that
    the text goes on from ("U.S. federal", "Inc. reported", "No. 5"): the word before it is
    short or dotted, and ``following`` (the next visible character) is lower case or a
    digit."""
    if not sentence.endswith(".") or sentence.endswith(".."):
        return False
    if not (following.islower() or following.isdigit()):
        return False
    word = sentence[:-1].rsplit(None, 1)[-1] if sentence[:-1].strip() else ""
    return bool(word) and ("." in word or (word.isalpha() and len(word) <= 3))


def is_list_marker(sentence: str) -> bool:
    """A bare list number or letter ("1.", "b)", "(iv)"): it starts the sentence after it."""
    return _LIST_MARKER.fullmatch(sentence.strip()) is not None


def ends_like_sentence(text: str) -> bool:
    """Whether ``text`` ends as a sentence or clause does (. ! ? : ; and any closing quote).

    >>> ends_like_sentence('He said “go.”'), ends_like_sentence("and then")
    (True, False)
    """
    return _ENDS_SENTENCE.search(text) is not None

"""Citation markers like ``[2]`` or ``[1, 3]`` in generated text: filtering while streaming,
and reading them back per sentence.

>>> f = CitationFilter(n_sources=2)
>>> f.feed("Sixty days [1") + f.feed("][7].") + f.flush()
'Sixty days [1].'
"""

from __future__ import annotations

import re

from core.text.sentences import ends_in_abbreviation, is_list_marker, next_visible

_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
_PREFIX = re.compile(r"\[\d*(?:\s*,\s*\d*)*$")
_CONTINUED_LINE = re.compile(r"[ \t]*\n+[ \t]*(?=[a-z])")
_SENTENCE_END = re.compile(r"(?<=[.!?])(?:\s*\[\d+(?:\s*,\s*\d+)*\])*\s+|\n+")


class CitationFilter:
    """Passes streamed text through, holding back a possible marker until it is complete, and
    dropping the numbers of sources that were never given."""

    def __init__(self, n_sources: int) -> None:
        self.n_sources = n_sources
        self._held = ""

    def feed(self, piece: str) -> str:
        text = self._held + piece
        self._held = ""
        out: list[str] = []
        pos = 0
        while True:
            open_at = text.find("[", pos)
            if open_at < 0:
                out.append(text[pos:])
                break
            out.append(text[pos:open_at])
            match = _MARKER.match(text, open_at)
            if match:
                checked = self._checked(match.group(1))
                if not checked and out:
                    out[-1] = out[-1].rstrip(" ")  # no stray space where a marker was dropped
                out.append(checked)
                pos = match.end()
                continue
            if _PREFIX.fullmatch(text, open_at):
                self._held = text[open_at:]  # may still become a marker
                break
            out.append("[")
            pos = open_at + 1
        return "".join(out)

    def flush(self) -> str:
        held, self._held = self._held, ""
        return held

    def _checked(self, numbers: str) -> str:
        valid = [n for n in (int(x) for x in numbers.split(",")) if 1 <= n <= self.n_sources]
        return "[" + ", ".join(str(n) for n in valid) + "]" if valid else ""


def parse_citations(text: str) -> list[tuple[str, list[int]]]:
    """Each sentence of ``text`` (markers removed) with the source numbers cited in it."""
    # A line that starts in lower case carries on the sentence before it (small models
    # break lines mid-sentence); only other line breaks end a sentence.
    text = _CONTINUED_LINE.sub(" ", text)
    result: list[tuple[str, list[int]]] = []
    pos = 0
    for match in _SENTENCE_END.finditer(text):
        sentence = strip_citations(text[pos : match.start()]).strip()
        following = next_visible(text, match.end())
        if is_list_marker(sentence) or ends_in_abbreviation(sentence, following):
            continue  # "1." or "U.S." carries on into what follows
        _add_sentence(result, text[pos : match.end()])
        pos = match.end()
    _add_sentence(result, text[pos:])
    return result


def _add_sentence(result: list[tuple[str, list[int]]], raw: str) -> None:
    numbers = [int(n) for group in _MARKER.findall(raw) for n in group.split(",")]
    sentence = strip_citations(raw).strip()
    if sentence:
        result.append((sentence, list(dict.fromkeys(numbers))))


def strip_citations(text: str) -> str:
    return re.sub(r"\s*" + _MARKER.pattern, "", text)

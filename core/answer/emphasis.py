"""The phrase of a quoted sentence that answers the question: what the answer emphasises.

A quoted answer is a whole sentence of the user's file; the words in it that answer are
often a few ("sixty days"). They are found by text rules alone (no model, so it costs
nothing and cannot invent anything), from the kind of question:

- "how much / many / long ...", "what percentage / level / fee ..." want a figure;
- "when", "what year / date / day" want a date, a year or a span of time;
- "who / whom / whose / where", "which company / person ..." want a name (capitalised words);
- any other question, or one of these kinds when the sentence has no such span, takes the
  one short run of words the question does not already say ("Paris is the capital of
  France." for "What is the capital of France?"), when there is exactly one.

Of several fitting spans, the one clearly nearest the question's own words in the sentence is
taken (a name only when it is the only one). None is found rather than a guess: the
emphasis points at the answer, it never is it.
The quote itself is never changed; the emphasis is a pair of offsets into it.

>>> sentence = "The tenant must give sixty days written notice before leaving."
>>> start, end = answering_phrase("How much notice must the tenant give?", sentence)
>>> sentence[start:end]
'sixty days'
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass

from core.text.figures import Figure, figure_spans
from core.text.words import QUERY_STOPWORDS, STOPWORDS, WORD, content_words, stem

#: A phrase longer than this many words is a clause, not the answering phrase.
MOST_WORDS = 6
#: Of several fitting spans, the nearest to the question's words is emphasised when at most
#: this many words stand between them, and the next nearest is at least ``FARTHER_WORDS``
#: words farther. Chosen on training questions (../shared/train/squad_train_rest, the
#: sentence holding the gold answer): always taking the nearest touched the gold answer in
#: 72% of figures and 87% of dates emphasised; with this rule 87% and 93%.
NEAR_WORDS = 1
FARTHER_WORDS = 2

_QUESTION_WORDS = ("how", "when", "who", "whom", "whose", "where", "what", "which")
# What "how ..." asks for a figure by; "how soon" asks when.
_HOW_MUCH = frozenset(("much", "many", "long", "far", "old", "big", "large", "high", "tall",
                       "often", "fast", "heavy", "deep", "wide", "late", "early"))
# Nouns that make a "what / which ..." question ask for one kind of answer.
_QUANTITY_NOUNS = frozenset((
    "percentage", "percent", "proportion", "share", "number", "amount", "level", "cost",
    "price", "fee", "rate", "size", "temperature", "distance", "speed", "length", "height",
    "weight", "age", "population", "total", "sum", "period", "duration", "deposit", "rent",
    "salary", "budget", "limit", "capacity", "version",
))
_DATE_NOUNS = frozenset(("year", "date", "day", "month", "time", "century", "decade",
                         "season", "deadline", "weekday"))
_NAME_NOUNS = frozenset(("name", "company", "person", "people", "organisation",
                         "organization", "author", "country", "city", "town", "team", "firm",
                         "place", "player", "writer", "founder", "owner"))
_WEEKDAY = re.compile(
    r"\b(?:mon|tues|wednes|thurs|fri|satur|sun)days?\b", re.IGNORECASE)
_TIME_UNITS = frozenset(("second", "sec", "minute", "min", "hour", "hr", "day", "week",
                         "month", "year", "decade", "century"))
_MONTHS = frozenset(("january", "february", "march", "april", "may", "june", "july",
                     "august", "september", "october", "november", "december"))
_YEAR = re.compile(r"1\d{3}|20\d{2}")
# "the first day of each month": a date's own words after it.
_DATE_TAIL = re.compile(r"\s+of\s+(?:each|every|the|this|that|next)\s+"
                        r"(?:day|week|month|year|quarter)\b", re.IGNORECASE)
# Small words that may stand inside a name ("Bank of England", "Vincent van Gogh").
_NAME_JOINERS = frozenset(("of", "de", "da", "del", "van", "von", "der", "la", "le", "du",
                           "bin", "al"))
# Between two words of one phrase: space, a hyphen or an apostrophe; other punctuation
# (a comma, a bracket, a full stop) ends the phrase.
_JOINS_PHRASE = re.compile(r"[\s\-'’/]*")


@dataclass(frozen=True)
class _Word:
    start: int
    end: int
    text: str
    #: The word's light stem, lower-cased.
    root: str


def question_kind(question: str) -> str | None:
    """What ``question`` asks for: "quantity", "date", "name", or None (anything else).

    >>> question_kind("How much notice must I give?"), question_kind("When is rent due?")
    ('quantity', 'date')
    >>> question_kind("Who signed the lease?"), question_kind("Why is the sky blue?")
    ('name', None)
    """
    tokens = [w.lower() for w in WORD.findall(question)]
    for i, token in enumerate(tokens):
        if token not in _QUESTION_WORDS:
            continue
        following = tokens[i + 1: i + 7]
        if token == "how":
            if following[:1] == ["soon"]:
                return "date"
            return "quantity" if following[:1] and following[0] in _HOW_MUCH else None
        if token == "when":
            return "date"
        if token in ("who", "whom", "whose", "where"):
            return "name"
        # "what" / "which": the noun it asks about says the kind ("what year", "which
        # company", "what is the default compression level").
        for word in following:
            singular = word[:-1] if word.endswith("s") and len(word) > 3 else word
            if singular in _DATE_NOUNS:
                return "date"
            if singular in _QUANTITY_NOUNS:
                return "quantity"
            if singular in _NAME_NOUNS:
                return "name"
        return None
    return None


def answering_phrase(question: str, quote: str) -> tuple[int, int] | None:
    """Where in ``quote`` the phrase that answers ``question`` is, as (start, end) offsets of
    ``quote``; None when no phrase can be told apart from the rest of the sentence."""
    asked = content_words(question)
    words = _words(quote)
    asked_at = [w for w in words if w.root in asked]
    kind = question_kind(question)
    spans = kind_spans(question, quote, kind, words)
    # A sentence often names several people and places, and the one nearest the question's
    # words was the answer only about half the time on training questions: a name is
    # emphasised only when it is the only one.
    if kind == "name" and len(spans) > 1:
        return None
    if spans:
        return _clearly_nearest(spans, words, asked_at)
    return _only_new_phrase(words, asked, quote) if asked_at else None


def kind_spans(question: str, quote: str, kind: str | None = None,
               words: Sequence[_Word] | None = None) -> list[tuple[int, int]]:
    """The spans of ``quote`` of the kind ``question`` asks for (``question_kind``) that the
    question does not already state: its figures for "how much", its dates for "when", its
    names for "who". Empty when the question asks for no such kind.

    >>> kind_spans("When is rent due?", "Rent is due on 5 June.")
    [(15, 21)]
    """
    if kind is None:
        kind = question_kind(question)
    if words is None:
        words = _words(quote)
    if kind in ("quantity", "date"):
        asked_figures = {f.value for f in figure_spans(question)}
        found = [f for f in figure_spans(quote) if f.value not in asked_figures]
        if kind == "quantity":
            return [_with_unit_word_before(quote, f) for f in found]
        return _dates(quote, found)
    if kind == "name":
        asked = content_words(question)
        return [span for span in _names(quote, words)
                if not _said_by_question(quote, span, asked)]
    return []


def _words(text: str) -> list[_Word]:
    return [_Word(m.start(), m.end(), m.group(), stem(m.group().lower()))
            for m in WORD.finditer(text)]


def _dates(text: str, found: Sequence[Figure]) -> list[tuple[int, int]]:
    """The dates of ``text`` ("14 March 2025", "1945", "Fridays"), joined where they run on;
    when there are none, its spans of time ("sixty days", "the first day of each month")."""
    dates = [(f.start, f.end) for f in found if f.unit in _MONTHS
             or (not f.unit and f.text == f.value and _YEAR.fullmatch(f.value))]
    dates += [m.span() for m in _WEEKDAY.finditer(text)]
    joined: list[tuple[int, int]] = []
    for start, end in sorted(dates):
        if joined and re.fullmatch(r"[\s,]*", text[joined[-1][1]: start]):
            joined[-1] = (joined[-1][0], end)  # "14 March" and "2025": one date
        else:
            joined.append((start, end))
    if not joined:
        joined = [(f.start, f.end) for f in found if f.unit in _TIME_UNITS]
    return [_with_date_tail(text, span) for span in joined]


def _with_unit_word_before(text: str, figure: Figure) -> tuple[int, int]:
    """A figure named by the unit before it ("level 6", "version 3") keeps that word."""
    match = re.search(r"\b([A-Za-z]+)\s$", text[max(0, figure.start - 16): figure.start])
    if match and not figure.unit and match.group(1).lower() in ("level", "version", "page",
                                                                "room", "flat", "number"):
        return figure.start - (len(match.group(0))), figure.end
    return figure.start, figure.end


def _with_date_tail(text: str, span: tuple[int, int]) -> tuple[int, int]:
    tail = _DATE_TAIL.match(text, span[1])
    return (span[0], tail.end()) if tail else span


def _names(text: str, words: Sequence[_Word]) -> list[tuple[int, int]]:
    """Runs of capitalised words ("William Shakespeare", "Bank of England"). A capital that
    only starts the sentence ("The", "After") does not make a name."""
    spans: list[tuple[int, int]] = []
    run: list[_Word] = []

    def close() -> None:
        while run and run[-1].text.lower() in _NAME_JOINERS:
            run.pop()
        if run:
            spans.append((run[0].start, run[-1].end))
        run.clear()

    for i, word in enumerate(words):
        joined = not run or _JOINS_PHRASE.fullmatch(text[run[-1].end: word.start]) is not None
        if not joined:
            close()
        capital = word.text[:1].isupper()
        if capital and i == 0 and word.text.lower() in QUERY_STOPWORDS:
            continue  # "The" or "After" at the start of the sentence
        if capital or (run and word.text.lower() in _NAME_JOINERS):
            run.append(word)
        else:
            close()
    close()
    return spans


def _said_by_question(text: str, span: tuple[int, int], asked: set[str]) -> bool:
    """Whether every meaningful word of ``text[span]`` is one the question already says."""
    said = content_words(text[span[0]: span[1]])
    return bool(said) and said <= asked


def _clearly_nearest(spans: Sequence[tuple[int, int]], words: Sequence[_Word],
                     asked_at: Sequence[_Word]) -> tuple[int, int] | None:
    """The only span, or of several the one by the question's words: the answer to "how much
    notice" sits by "notice", not by another figure of the sentence. Taken when it is at most
    ``NEAR_WORDS`` words from one of them and the next is ``FARTHER_WORDS`` words farther;
    else None (no guess)."""
    if len(spans) == 1:
        return spans[0]
    if not asked_at:
        return None
    starts = [w.start for w in words]
    asked_index = [bisect.bisect_left(starts, w.start) for w in asked_at]

    def words_between(span: tuple[int, int]) -> int:
        first = bisect.bisect_left(starts, span[0])
        last = bisect.bisect_left(starts, span[1]) - 1
        return min(max(first - i - 1, i - last - 1, 0) for i in asked_index)

    ranked = sorted(spans, key=words_between)
    nearest, runner_up = words_between(ranked[0]), words_between(ranked[1])
    if nearest <= NEAR_WORDS and runner_up >= nearest + FARTHER_WORDS:
        return ranked[0]
    return None


def _only_new_phrase(words: Sequence[_Word], asked: set[str],
                     text: str) -> tuple[int, int] | None:
    """The run of words the question does not say, when the sentence has exactly one and it
    is short: "Paris" in "Paris is the capital of France." Two runs, or a long one, and the
    sentence says more than an answer: nothing stands out, so nothing is emphasised."""
    runs: list[list[_Word]] = []
    run: list[_Word] = []
    for word in words:
        known = word.root in asked or word.text.lower() in STOPWORDS
        joined = not run or _JOINS_PHRASE.fullmatch(text[run[-1].end: word.start]) is not None
        if run and (not joined or (known and word.text.lower() not in STOPWORDS)):
            runs.append(run)
            run = []
        if not known or (run and word.text.lower() in STOPWORDS):
            run.append(word)
    if run:
        runs.append(run)
    phrases = [_trimmed(r) for r in runs]
    phrases = [p for p in phrases if p]
    if len(phrases) != 1 or len(phrases[0]) > MOST_WORDS:
        return None
    only = phrases[0]
    return only[0].start, only[-1].end


def _trimmed(run: list[_Word]) -> list[_Word]:
    """``run`` without the small words at its ends ("the", "of")."""
    start, end = 0, len(run)
    while start < end and run[start].text.lower() in STOPWORDS:
        start += 1
    while end > start and run[end - 1].text.lower() in STOPWORDS:
        end -= 1
    return run[start:end]

"""What a word is, which words carry no meaning, and how words are stemmed and marked.

>>> sorted(content_words("The tenant gives notice"))
['giv', 'notic', 'tenant']
"""

from __future__ import annotations

import re
from collections.abc import Sequence

WORD = re.compile(r"\w+")

# Words too common to help a keyword ranking; dropped from the OR of free words unless they
# are all the query has. Phrases keep them.
STOPWORDS = frozenset(
    [
        "a", "an", "and", "are", "as", "at", "be", "but", "by", "for", "from", "has", "have",
        "how", "i", "if", "in", "into", "is", "it", "its", "of", "on", "or", "that", "the",
        "their", "then", "there", "these", "they", "this", "to", "was", "were", "what", "when",
        "where", "which", "who", "why", "will", "with", "you", "your", "does", "do", "did", "can",
        "about", "much", "many", "must", "should", "would", "could", "shall", "might",
    ]
)

# Prepositions, pronouns and adverbs, also left out of the keyword query (not of the support
# check, where "before" vs "after" matters): on a small folder one of them matching can outrank
# the word that matters ("notice before leaving" found a travel note's "the day before").
# Neutral on ../shared/eval (BM25 nDCG@10 within ±0.004 on ADI, Medline, Cranfield, SciFact).
QUERY_STOPWORDS = STOPWORDS | frozenset(
    [
        "before", "after", "above", "below", "between", "during", "over", "under", "until",
        "while", "through", "against", "within", "without", "upon", "we", "our", "us", "me",
        "my", "he", "him", "his", "she", "her", "them", "those", "been", "being", "am", "had",
        "having", "may", "also", "so", "than", "too", "very", "just", "not", "no", "only",
        "all", "any", "each", "some", "more", "most", "other", "such", "both", "here", "out",
        "up", "down", "off", "again", "once", "same", "own", "whom", "whose", "because", "nor",
    ]
)


def words(text: str) -> list[str]:
    """The words of ``text`` as written (letters, digits and underscores)."""
    return WORD.findall(text)


def content_words(text: str) -> set[str]:
    """Lower-cased, lightly stemmed words that carry meaning (no stopwords)."""
    return {stem(w) for w in WORD.findall(text.lower()) if w not in STOPWORDS and len(w) > 1}


def stem(word: str) -> str:
    """A light stem of a lower-cased word, so its common forms meet."""
    for suffix in ("ingly", "edly", "ing", "ied", "ies", "ed", "es", "ly", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    # "give", "gives" and "giving" meet at "giv"; "notice" and "noticed" at "notic".
    if word.endswith("e") and len(word) >= 4:
        word = word[:-1]
    return word


def word_pattern(items: Sequence[str]) -> re.Pattern[str] | None:
    """Matches the start of a word that is one of ``items`` (or of a phrase's words), any
    case, with any ending ("lease" marks "leases", as the search's stemming does)."""
    parts = {part.lower() for item in items for part in WORD.findall(item)}
    if not parts:
        return None
    alternatives = "|".join(re.escape(p) for p in sorted(parts, key=len, reverse=True))
    return re.compile(rf"\b(?:{alternatives})\w*", re.IGNORECASE)


def word_spans(text: str, items: Sequence[str]) -> list[tuple[int, int]]:
    """Where ``items`` occur in ``text``, as whole words.

    >>> word_spans("Notices: give notice.", ["notice"])
    [(0, 7), (14, 20)]
    """
    pattern = word_pattern(items)
    return [m.span() for m in pattern.finditer(text)] if pattern else []


#: Words a phrase may open with that the text need not repeat ("the Ottoman Empire" stands in
#: "...retook it from Ottoman Empire rule").
_LEADING_ARTICLES = frozenset(("a", "an", "the"))
_SIGNS = "-−"
_CURRENCIES = "£$€¥"


def find_phrase(text: str, phrase: str) -> tuple[int, int] | None:
    """Where the words of ``phrase`` stand in ``text`` one after another, any case, whatever
    punctuation lies between them, as whole words: the first such place, from the start of its
    first word to the end of its last, with the currency sign before it and the percent sign
    after it when both have them; None when they do not (or ``phrase`` has no words). A
    figure's sign must agree: "1" does not stand in "-1", nor "-1" in "1".

    >>> find_phrase("Notice is sixty (60) days.", "60 days")
    (17, 25)
    >>> find_phrase("Founded in 1944.", "194") is None
    True
    >>> text = "A deposit of £1,325 and a level of -1."
    >>> [text[a:b] for a, b in (find_phrase(text, "£1,325."), find_phrase(text, "-1"))]
    ['£1,325', '-1']
    >>> find_phrase(text, "level 1") is None
    True
    """
    wanted_matches = list(WORD.finditer(phrase))
    while len(wanted_matches) > 1 and wanted_matches[0].group().lower() in _LEADING_ARTICLES:
        wanted_matches = wanted_matches[1:]
    if not wanted_matches:
        return None
    wanted = [m.group().lower() for m in wanted_matches]
    before = phrase[: wanted_matches[0].start()].strip()
    after = phrase[wanted_matches[-1].end():].strip()
    signed = before[-1:] in tuple(_SIGNS) if before else False
    found = list(WORD.finditer(text))
    size = len(wanted)
    for i in range(len(found) - size + 1):
        if not all(found[i + j].group().lower() == wanted[j] for j in range(size)):
            continue
        start, end = found[i].start(), found[i + size - 1].end()
        figure = wanted[0][0].isdigit()
        if figure and (_signed(text, start) != signed or _inside_figure(text, start, end)):
            continue
        if (figure and signed) or (before and before[-1] in _CURRENCIES
                                    and text[start - 1: start] == before[-1]):
            start -= 1
        if after.startswith("%") and text[end: end + 1] == "%":
            end += 1
        return start, end
    return None


def _inside_figure(text: str, start: int, end: int) -> bool:
    """Whether the digits at ``start:end`` are only part of a figure ("1" of "1,325")."""
    def joins(at: int, digit_at: int) -> bool:
        return (0 <= at < len(text) and text[at] in ".," and 0 <= digit_at < len(text)
                and text[digit_at].isdigit())
    return joins(start - 1, start - 2) or (text[end - 1].isdigit() and joins(end, end + 1))


def _signed(text: str, start: int) -> bool:
    """Whether the figure at ``start`` has a minus sign ("-1", not the hyphen of "pre-1990")."""
    return start > 0 and text[start - 1] in _SIGNS and (start == 1 or not
                                                        text[start - 2].isalnum())

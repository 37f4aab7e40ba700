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

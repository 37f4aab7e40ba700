"""Finding the passage that supports a claim: sentence spans and how well they back a sentence.

Scores are lexical (content words shared, with light stemming) so they are fast, exact and
explainable; the answer module adds the model's embedding similarity where it helps.

>>> best_support("Notice is 60 days.", "Rent is due monthly. Notice must be 60 days.", 0)
(21, 44, ...)
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from core.query import STOPWORDS

# Text that addresses an AI rather than stating facts ("ignore previous instructions...").
# Such sentences stay visible in the source but never count as support for an answer.
_INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,60}\b(instructions?|prompts?|rules|above|previous|"
    r"prior)\b|\b(you are now|act as an?|system prompt|(reply|respond|answer) only with|"
    r"new instructions)\b",
    re.IGNORECASE | re.DOTALL,
)
# A sentence ends at . ! or ? followed by space, or at a blank line; a single line break is
# only layout (PDF lines, wrapped paragraphs) and never ends one. "2.5" stays whole.
_SENTENCE = re.compile(r"(?:[^.!?\n]|\n(?![ \t]*\n)|[.!?](?!\s|$))+(?:[.!?]+|\n[ \t]*\n|$)")
_WORD = re.compile(r"\w+")


def sentence_spans(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each sentence or line in ``text``, trimmed of surrounding space."""
    for match in _SENTENCE.finditer(text):
        start, end = match.start(), match.end()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end - start > 1 and _WORD.search(text, start, end):
            yield start, end


def looks_like_instruction(sentence: str) -> bool:
    return _INSTRUCTION.search(sentence) is not None


def evidence_spans(text: str) -> list[tuple[int, int]]:
    """Sentence spans that may support a claim. An instruction aimed at an assistant, and the
    rest of its paragraph, never count: an injected command must not become an answer."""
    kept: list[tuple[int, int]] = []
    tainted_until = -1
    for start, end in sentence_spans(text):
        if looks_like_instruction(text[start:end]):
            paragraph_end = text.find("\n\n", end)
            tainted_until = len(text) if paragraph_end < 0 else paragraph_end
        if start >= tainted_until:
            kept.append((start, end))
    return kept


def content_words(text: str) -> set[str]:
    """Lower-cased, lightly stemmed words that carry meaning (no stopwords)."""
    return {_stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS and len(w) > 1}


def _stem(word: str) -> str:
    for suffix in ("ingly", "edly", "ing", "ied", "ies", "ed", "es", "ly", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def overlap(claim_words: set[str], passage_words: set[str]) -> float:
    """Share of the claim's content words found in the passage (0..1)."""
    if not claim_words:
        return 0.0
    return len(claim_words & passage_words) / len(claim_words)


def best_support(
    claim: str, text: str, offset: int, max_sentences: int = 2
) -> tuple[int, int, float]:
    """The span of one or two neighbouring sentences of ``text`` that best backs ``claim``.

    Returns (start, end, score) with offsets shifted by ``offset`` (so they are page offsets
    when ``text`` is a chunk starting at ``offset``). Score is the share of the claim's content
    words the span contains.
    """
    claim_words = content_words(claim)
    spans = evidence_spans(text)
    if not spans:
        return offset, offset, 0.0
    scored = [(overlap(claim_words, content_words(text[s:e])), s, e) for s, e in spans]
    best = max(scored, key=lambda t: t[0])
    score, start, end = best
    if max_sentences > 1:
        for i in range(len(spans) - 1):
            s, e = spans[i][0], spans[i + 1][1]
            if looks_like_instruction(text[s:e]):
                continue
            pair = overlap(claim_words, content_words(text[s:e]))
            # Two sentences only when together they back clearly more of the claim.
            if pair > score + 0.2:
                score, start, end = pair, s, e
    return offset + start, offset + end, score

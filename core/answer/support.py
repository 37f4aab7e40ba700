"""Finding the passage that supports a claim: which sentences may, and how well they back it.

Scores are lexical (content words shared, with light stemming) so they are fast, exact and
explainable; an optional embedding similarity (the model's, passed in by the answer module)
breaks ties between candidate spans. Sharing words is not agreeing: ``contradicts`` catches
the cheap cases where a claim uses the source's words to say something else (a negation the
source lacks, or the two parties on either side of the verb swapped), and ``unbacked_figures``
the numbers a claim states that its source does not.

>>> best_support("Notice is 60 days.", "Rent is due monthly. Notice must be 60 days.", 0)
(21, 44, ...)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from core.text.figures import figures
from core.text.sentences import sentence_spans
from core.text.words import STOPWORDS, content_words, stem

# Text that addresses an AI rather than stating facts ("ignore previous instructions...").
# Such sentences stay visible in the source but never count as support for an answer.
_INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,60}\b(instructions?|prompts?|rules|above|previous|"
    r"prior)\b|\b(you are now|act as an?|system prompt|(reply|respond|answer) only with|"
    r"new instructions)\b",
    re.IGNORECASE | re.DOTALL,
)
_NEGATION = frozenset(("not", "no", "never", "nor", "neither", "without", "cannot", "none"))
# How much the embedding similarity (cosine, -1..1) weighs against the lexical share (0..1)
# when choosing among candidate spans; lexical stays the main, explainable signal.
EMBEDDING_WEIGHT = 0.5

# Given a claim and candidate passages, how alike each passage is in meaning (cosine).
Similarity = Callable[[str, Sequence[str]], Sequence[float]]


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


def overlap(claim_words: set[str], passage_words: set[str]) -> float:
    """Share of the claim's content words found in the passage (0..1)."""
    if not claim_words:
        return 0.0
    return len(claim_words & passage_words) / len(claim_words)


def best_support(
    claim: str,
    text: str,
    offset: int,
    max_sentences: int = 2,
    similarity: Similarity | None = None,
) -> tuple[int, int, float]:
    """The span of one or two neighbouring sentences of ``text`` that best backs ``claim``.

    Returns (start, end, score) with offsets shifted by ``offset`` (so they are page offsets
    when ``text`` is a chunk starting at ``offset``). Score is the share of the claim's content
    words the span contains. Spans are ranked by that share plus, when ``similarity`` is
    given, EMBEDDING_WEIGHT times their meaning similarity to the claim; two sentences are
    taken only when together they rank clearly above the best single one.
    """
    claim_words = content_words(claim)
    spans = evidence_spans(text)
    if not spans:
        return offset, offset, 0.0
    candidates = list(spans)
    if max_sentences > 1:
        candidates += [
            (spans[i][0], spans[i + 1][1])
            for i in range(len(spans) - 1)
            if not looks_like_instruction(text[spans[i][0] : spans[i + 1][1]])
        ]
    lexical = [overlap(claim_words, content_words(text[s:e])) for s, e in candidates]
    meaning: Sequence[float] = [0.0] * len(candidates)
    if similarity is not None:
        meaning = similarity(claim, [text[s:e] for s, e in candidates])
    rank = [lex + EMBEDDING_WEIGHT * sim for lex, sim in zip(lexical, meaning, strict=True)]
    singles = range(len(spans))
    best = max(singles, key=lambda i: rank[i])
    for i in range(len(spans), len(candidates)):
        if rank[i] > rank[best] + 0.2 and lexical[i] >= lexical[best]:
            best = i
    start, end = candidates[best]
    return offset + start, offset + end, lexical[best]


def _same_figure(stated: str, backing: str) -> bool:
    """The same number (sign and decimals included) in the same unit; a unit on one side
    only still agrees ("60 days" is backed by "a period of 60")."""
    stated_value, _, stated_unit = stated.partition(" ")
    backing_value, _, backing_unit = backing.partition(" ")
    if stated_value.rstrip("%") != backing_value.rstrip("%"):
        return False
    if stated_value.endswith("%") != backing_value.endswith("%"):
        return False
    return not stated_unit or not backing_unit or stated_unit == backing_unit


def unbacked_figures(claim: str, *backing: str) -> set[str]:
    """The numbers ``claim`` states that none of ``backing`` does, compared as whole tokens
    with sign, decimals and unit ("1" is not backed by "-1", "60 days" not by "60 months").
    A figure is the easiest claim for a small model to get wrong and for a reader to check:
    "$15.6 billion" beside a source that says "$6.8 billion" shares every other word with it."""
    stated = figures(claim)
    if not stated:
        return set()
    available = set().union(*(figures(text) for text in backing))
    return {figure for figure in stated
            if not any(_same_figure(figure, other) for other in available)}


def contradicts(claim: str, passage: str) -> bool:
    """Whether ``claim`` says something other than ``passage`` with the same words: one of
    them is negated and the other is not, or two words they share sit on opposite sides of a
    shared word (the verb) in opposite order ("the tenant must give the landlord notice"
    against "the landlord must give the tenant notice"): the shared words right before and
    after the same one to three shared words trade places. Cheap and conservative: a passive
    sentence ("... by the landlord") is not checked for order."""
    claim_tokens = _tokens(claim)
    passage_tokens = _tokens(passage)
    if _negated(claim_tokens) != _negated(passage_tokens):
        return True
    if "by" in claim_tokens or "by" in passage_tokens:
        return False
    passage_order = _first_positions(passage_tokens)
    claim_order = _first_positions(claim_tokens)
    claim_seq = [w for w in sorted(claim_order, key=claim_order.__getitem__) if w in passage_order]
    passage_seq = [w for w in sorted(passage_order, key=passage_order.__getitem__)
                   if w in claim_order]
    # "X <verb words> Y" in the claim, "Y <the same verb words> X" in the passage.
    position = {w: i for i, w in enumerate(passage_seq)}
    for i, first in enumerate(claim_seq):
        for gap in range(1, 4):
            if i + gap + 1 >= len(claim_seq):
                break
            last = claim_seq[i + gap + 1]
            between = claim_seq[i + 1 : i + gap + 1]
            j = position[last]
            if passage_seq[j + 1 : j + gap + 2] == [*between, first]:
                return True
    return False


def _tokens(text: str) -> list[str]:
    words = [w.replace("’", "'") for w in re.findall(r"[\w'’]+", text.lower())]
    expanded: list[str] = []
    for word in words:
        if word.endswith("n't"):
            expanded += [word[:-3], "not"]
        else:
            expanded.append(word.strip("'"))
    return expanded


def _negated(tokens: list[str]) -> bool:
    return sum(t in _NEGATION for t in tokens) % 2 == 1


def _first_positions(tokens: list[str]) -> dict[str, int]:
    """Content word → position of its only occurrence; repeated words say nothing of order."""
    counts: dict[str, int] = {}
    positions: dict[str, int] = {}
    for i, token in enumerate(tokens):
        if token in STOPWORDS or len(token) < 2 or token in _NEGATION:
            continue
        root = stem(token)
        counts[root] = counts.get(root, 0) + 1
        positions.setdefault(root, i)
    return {w: p for w, p in positions.items() if counts[w] == 1}

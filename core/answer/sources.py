"""Choosing what the model reads: the best passages of the hits, merged where they overlap,
at most two per file, each trimmed to the sentences that share most of the question's words
within a token budget.

>>> sources = select_sources("How much notice must the tenant give?", hits, model)
>>> [(s.n, s.hit.path, s.hit.page, s.text) for s in sources]
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.answer.support import overlap
from core.models.interface import TextModel
from core.text.sentences import sentence_spans
from core.text.words import content_words
from core.types import Hit

MAX_SOURCES = 5
# Five sources of this size keep the prompt near 650 tokens: the first word of an answer
# arrives in about a second on two cores with the default model (docs/benchmarks.md).
SOURCE_TOKENS = 100


@dataclass(frozen=True)
class Source:
    """A passage given to the model as source ``n``: a hit trimmed to its best sentences."""

    n: int
    hit: Hit
    start: int  # in the page text
    end: int
    text: str


def select_sources(question: str, hits: list[Hit], model: TextModel) -> list[Source]:
    """The best passages within the budget: overlapping ones merged away, at most two per file,
    each trimmed to the sentences that share most of the question's words."""
    chosen: list[Source] = []
    per_file: dict[int, int] = {}
    words = content_words(question)
    for hit in hits:
        if len(chosen) >= MAX_SOURCES:
            break
        if per_file.get(hit.file_id, 0) >= 2 or any(
            s.hit.file_id == hit.file_id
            and s.hit.page == hit.page
            and s.hit.start < hit.end
            and hit.start < s.hit.end
            for s in chosen
        ):
            continue
        start, end = _best_window(hit.text, words, model)
        per_file[hit.file_id] = per_file.get(hit.file_id, 0) + 1
        chosen.append(
            Source(len(chosen) + 1, hit, hit.start + start, hit.start + end, hit.text[start:end])
        )
    return chosen


def _best_window(text: str, words: set[str], model: TextModel) -> tuple[int, int]:
    """The run of sentences within SOURCE_TOKENS holding most of the question's words."""
    if model.count_tokens(text) <= SOURCE_TOKENS:
        return 0, len(text)
    spans = list(sentence_spans(text))
    if not spans:
        return 0, _within_budget(text, 0, len(text), model)
    best = (-1.0, 0, len(text))
    for i in range(len(spans)):
        j = i
        while (
            j + 1 < len(spans)
            and model.count_tokens(text[spans[i][0] : spans[j + 1][1]]) <= SOURCE_TOKENS
        ):
            j += 1
        score = overlap(words, content_words(text[spans[i][0] : spans[j][1]]))
        if score > best[0]:
            best = (score, spans[i][0], spans[j][1])
    return best[1], _within_budget(text, best[1], best[2], model)


def _within_budget(text: str, start: int, end: int, model: TextModel) -> int:
    """Where ``text[start:end]`` ends once cut at a word to fit SOURCE_TOKENS. One sentence
    can be longer than that (a table row, a clause-heavy paragraph); left whole, it made the
    longest prompts and so the slowest first words."""
    if model.count_tokens(text[start:end]) <= SOURCE_TOKENS:
        return end
    cuts = [m.start() for m in re.finditer(r"\s+", text[start:end])]
    low, high = 0, len(cuts) - 1
    fit = start + cuts[0] if cuts else end
    while low <= high:
        middle = (low + high) // 2
        if model.count_tokens(text[start : start + cuts[middle]]) <= SOURCE_TOKENS:
            fit = start + cuts[middle]
            low = middle + 1
        else:
            high = middle - 1
    return fit

"""The reader: which sentence of the sources answers the question, chosen by the model reading.

A small base model cannot write reliable prose about a passage, but it can read: given a
sentence, how likely is the question? That likelihood against the question's likelihood with
no sentence at all (how much the sentence explains the question) is the main signal; a few
cheap ones join it (the share of the question's words the sentence holds, how far it is from
the best candidate, the rank of its source) in a small logistic model whose weights were
fitted on training questions (``bench/fit_reader.py`` on ../shared/train/squad_train_rest).
The answer is the best sentence quoted as it stands in the file, or nothing when even the
best one is unlikely to answer.

1. Candidates: each sentence of the sources' passages that is evidence (no instruction to an
   assistant, see ``core.support.evidence_spans``) and says something besides the question's
   own words.
2. Pruning: the ones that share most of the question's words go on to be read, at most
   ``READ_AT_MOST``, so reading stays one or two model passes.
3. Reading: one scored continuation per candidate plus one without any, in one batch.

>>> readings = read(model, "How much notice must the tenant give?", sources)
>>> best = readings[0] if readings and readings[0].probability >= FOUND_PROBABILITY else None
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.answer.sources import Source
from core.answer.support import evidence_spans, overlap
from core.cancel import CancelToken
from core.models.interface import ChatModel
from core.text.words import content_words

#: Candidates read per question: about two model passes of 512 tokens on two cores.
READ_AT_MOST = 8
#: A sentence shorter than this many characters ("See below.") answers nothing.
MIN_CHARACTERS = 20
#: Sentences longer than this are cut for reading (the quote stays whole).
READ_CHARACTERS = 400

# Logistic weights over ``_features``, fitted on training questions (bench/fit_reader.py);
# the order is the order of ``FEATURES``.
FEATURES = ("explains", "explains_per_token", "behind_best", "question_words", "source_rank",
            "new_words")
WEIGHTS = (0.1169, -0.1705, 0.1302, 2.792, -0.5542, 0.0211)
BIAS = -2.7869
#: The best sentence is given as the answer when its probability reaches this: on held-out
#: training questions, the highest threshold step at which at most 3% of all questions got a
#: found answer without the gold one (a wrong answer with a citation looks checked).
FOUND_PROBABILITY = 0.7


@dataclass(frozen=True)
class Candidate:
    """A sentence of a source's passage: ``start``/``end`` are offsets in the page text."""

    source: Source
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Reading:
    candidate: Candidate
    #: Estimated probability that the sentence answers the question (0..1).
    probability: float
    features: tuple[float, ...]


def passage_prompt(sentence: str, title: str) -> str:
    """What the model reads before the question: the file's name and the sentence."""
    return f"{title}\n{sentence}\nQuestion:"


def empty_prompt(title: str) -> str:
    return f"{title}\nQuestion:"


def candidates(question: str, sources: Sequence[Source]) -> list[Candidate]:
    """The sentences of ``sources``' passages that may answer ``question``, best first by how
    many of its words they hold (ties: the better source)."""
    question_words = content_words(question)
    found: list[tuple[float, int, Candidate]] = []
    order = 0
    for source in sources:
        text = source.hit.text
        for start, end in evidence_spans(text):
            sentence = text[start:end]
            words = content_words(sentence)
            if len(sentence) < MIN_CHARACTERS or not words - question_words:
                continue  # a restatement of the question, or a fragment
            offset = source.hit.start
            found.append((-overlap(question_words, words), order,
                          Candidate(source, offset + start, offset + end, sentence)))
            order += 1
    found.sort(key=lambda item: (item[0], item[1]))
    return [candidate for _, _, candidate in found]


def read(model: ChatModel, question: str, sources: Sequence[Source],
         cancel: CancelToken | None = None, at_most: int = READ_AT_MOST) -> list[Reading]:
    """The candidates of ``sources`` read by ``model`` for ``question``, most likely to answer
    first. Raises ``Cancelled`` when ``cancel`` is set while reading."""
    chosen = candidates(question, sources)[:at_most]
    if not chosen:
        return []
    question_text = " " + " ".join(question.split())
    titles = [_title(c.source.hit.path) for c in chosen]
    plain_titles = list(dict.fromkeys(titles))
    pairs = [(passage_prompt(_for_reading(c.text), title), question_text)
             for c, title in zip(chosen, titles, strict=True)]
    pairs += [(empty_prompt(title), question_text) for title in plain_titles]
    scores = model.continuation_logprobs(pairs, cancel)
    without = {title: float(scores[len(chosen) + i].sum())
               for i, title in enumerate(plain_titles)}
    tokens = max(1, len(scores[0]))
    explains = [float(s.sum()) - without[title]
                for s, title in zip(scores[: len(chosen)], titles, strict=True)]
    best = max(explains)
    question_words = content_words(question)
    readings = []
    for candidate, gain in zip(chosen, explains, strict=True):
        words = content_words(candidate.text)
        features = (gain, gain / tokens, gain - best, overlap(question_words, words),
                    float(candidate.source.n - 1), float(min(len(words - question_words), 10)))
        readings.append(Reading(candidate, probability(features), features))
    readings.sort(key=lambda r: -r.probability)
    return readings


def probability(features: Sequence[float]) -> float:
    z = BIAS + float(np.dot(WEIGHTS, features))
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


def _for_reading(sentence: str) -> str:
    text = " ".join(sentence.split())
    return text if len(text) <= READ_CHARACTERS else text[:READ_CHARACTERS]


def _title(path: str) -> str:
    """A file's name without folder or extension: often what its sentences are about."""
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[0] if "." in name else name

"""The reader: which sentence of the sources answers the question, chosen by the model reading.

A small base model cannot write reliable prose about a passage, but it can read: given a
sentence, how likely is the question? That likelihood against the question's likelihood with
no sentence at all (how much the sentence explains the question) is the main signal, also
as the sentence's share among the candidates and token by token; cheap text signals join it
(the share of the question's words the sentence holds and how many of them it says in the
question's order, whether it has the kind of span the question asks for: a figure for "how
much", a date for "when", a name for "who", the rank of its source) in a small logistic model
whose weights were fitted on training questions (``bench/reader_rows.py`` then
``bench/fit_reader.py`` on ../shared/train/squad_train_rest). A model Kenning has trained a
reader for (``ChatModel.reader_head``, the bundled one) also hands over its inner states while
it reads each sentence, from the same passes; its head weighs them beside those features and
brings its own calibrated thresholds (``thresholds``).
The answer is the best sentence quoted as it stands in the file together with the sentence
after it in the same paragraph (a file often names its subject in one sentence and answers in
the next: "...the Potala Palace is the most important example of Tibetan architecture. ...it
contains over one thousand rooms within thirteen stories"), or nothing when even the best one
is unlikely to answer.

1. Candidates: each sentence of the sources' passages that is evidence (no instruction to an
   assistant, see ``core.support.evidence_spans``) and says something besides the question's
   own words.
2. Pruning: the ones that share most of the question's words go on to be read, at most
   ``READ_AT_MOST``, so reading stays one or two model passes.
3. Reading: one scored continuation per candidate plus one without any, in one batch.
4. Choosing (``choose``): the best candidate's quote answers when its probability is high, or
   nearly so and the model, shown the quote and the question after a few worked examples
   (``NAMING_EXAMPLES``), names an answer whose words stand in the quote. A base model that
   finds its answer in the quote has read the quote as answering; one that answers from
   memory, or says the passage does not say, has not. The named words are what the answer
   shows in bold.

>>> readings = read(model, "How much notice must the tenant give?", sources)
>>> chosen = choose(model, "How much notice must the tenant give?", readings)  # or None
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from core.answer.emphasis import kind_spans, question_kind
from core.answer.sources import Source
from core.answer.support import evidence_spans, overlap
from core.cancel import Cancelled, CancelToken
from core.models.interface import ChatModel
from core.text.sentences import runs_on
from core.text.words import STOPWORDS, WORD, content_words, find_phrase, stem

#: Candidates read per question: about two model passes of 512 tokens on two cores.
READ_AT_MOST = 8
#: A sentence shorter than this many characters ("See below.") answers nothing.
MIN_CHARACTERS = 20
#: Sentences longer than this are cut for reading (the quote stays whole).
READ_CHARACTERS = 400

# Logistic weights over ``features``, fitted on training questions (bench/fit_reader.py:
# 800 questions of the 40 indexed articles of ../shared/train/squad_train_rest, keyword
# retrieval, 6,400 candidate rows; 2026-12-06); the order is the order of ``FEATURES``.
FEATURES = ("explains", "explains_per_token", "behind_best", "question_words", "source_rank",
            "new_words", "ahead_of_rest", "share", "kind_found", "kind_missing", "in_order",
            "order", "in_window", "length", "question_mean", "plain_mean", "token_gain_max",
            "token_gain_share", "candidates")
# The training questions nearly all had ``READ_AT_MOST`` candidates read (a 40-article
# collection always has that many), so the weight fitted to "candidates" (0.173) learned
# nothing about sentences and, extrapolated, judged a small folder's best sentence less likely
# than the same sentence in a large one. It is folded into the bias at the count it was
# fitted at: probabilities with 8 candidates are as fitted, and the count no longer counts.
WEIGHTS = (-0.0017, 0.0914, -0.0303, 2.1581, -0.7053, -0.0369, 0.0307, 2.4846, 0.085, -0.9945,
           -0.8366, -0.1076, 0.518, 0.2726, 0.1205, 0.1131, 0.0642, 1.547, 0.0)
BIAS = -5.3991 + 0.173 * READ_AT_MOST
#: The best sentence is given as the answer when its probability reaches this, whatever the
#: model names in it. With ``NAMED_PROBABILITY``, chosen on training questions held out by
#: article (5 folds): the pair with the most correct answers (the quote, the sentence and the
#: one after it, holds the gold answer) while the share of questions given a found answer
#: without it stays within 3% at 95% confidence (40.4% correct, 2.0% wrong, upper bound 3.0%).
FOUND_PROBABILITY = 0.89

#: Worked examples (written for Kenning) after which a base model names the answer in a
#: passage: a date, a name, a place, a count, a thing, a length of time written in words (the
#: answer keeps the passage's own words), and a passage that does not say.
NAMING_EXAMPLES = (
    "Passage: The boiler was serviced in March and the pressure valve was replaced.\n"
    "Question: When was the boiler serviced?\nAnswer: in March\n\n"
    "Passage: The report was written by Dr. Amara Okafor, who led the survey team.\n"
    "Question: Who wrote the report?\nAnswer: Dr. Amara Okafor\n\n"
    "Passage: Any dispute arising from this agreement shall be settled by arbitration in "
    "Geneva.\nQuestion: Where are disputes settled?\nAnswer: Geneva\n\n"
    "Passage: The library holds about 40,000 volumes, most of them donated.\n"
    "Question: How many volumes does the library hold?\nAnswer: about 40,000\n\n"
    "Passage: The bread is baked with rye flour and a little honey from the farm.\n"
    "Question: What flour is the bread baked with?\nAnswer: rye flour\n\n"
    "Passage: The lease runs for twelve months from the first of May.\n"
    "Question: How long does the lease run?\nAnswer: twelve months\n\n"
    "Passage: She described the novel as a quiet story about memory and grief.\n"
    "Question: Who published the novel?\nAnswer: not stated\n\n")
#: The best quote is also given from this probability up when the model, shown the quote and
#: the question after ``NAMING_EXAMPLES``, names an answer whose words stand in it: a model
#: that finds its answer in the quote has read it as answering. Chosen with
#: ``FOUND_PROBABILITY`` by the same rule (bench/fit_reader.py --named).
NAMED_PROBABILITY = 0.76
#: What the examples teach the model to say when the passage does not answer.
NOT_STATED = "not stated"
#: Tokens the model may take to name an answer: a name, a figure with its unit, a short phrase.
NAMING_TOKENS = 12


@dataclass(frozen=True)
class Candidate:
    """A sentence of a source's passage: ``start``/``end`` are offsets in the page text;
    ``quote_end`` ends the quote it would give, the sentence and the one after it in the same
    paragraph (``end`` when none follows, and in a sheet, whose rows are separate records)."""

    source: Source
    start: int
    end: int
    text: str
    quote_end: int

    @property
    def quote(self) -> str:
        """The text quoted when this candidate answers, as it stands in the passage."""
        hit = self.source.hit
        return hit.text[self.start - hit.start: self.quote_end - hit.start]


@dataclass(frozen=True)
class Reading:
    candidate: Candidate
    #: Estimated probability that the sentence answers the question (0..1).
    probability: float
    features: tuple[float, ...]


@dataclass(frozen=True)
class Choice:
    """The reading given as the answer, and where the model named the answer in its quote
    as shown (white space collapsed: ``" ".join(quote.split())``), None when it did not."""

    reading: Reading
    named: tuple[int, int] | None


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
        spans = evidence_spans(text)
        is_prose = source.hit.sheet_rows is None  # a sheet's next row is another record
        for i, (start, end) in enumerate(spans):
            sentence = text[start:end]
            words = content_words(sentence)
            if len(sentence) < MIN_CHARACTERS or not words - question_words:
                continue  # a restatement of the question, or a fragment
            following = spans[i + 1] if i + 1 < len(spans) and is_prose else None
            quote_end = following[1] if following and runs_on(text, end, following[0]) else end
            offset = source.hit.start
            found.append((-overlap(question_words, words), order,
                          Candidate(source, offset + start, offset + end, sentence,
                                    offset + quote_end)))
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
    scores, states = model.read_continuations(pairs, cancel)
    plain = {title: scores[len(chosen) + i] for i, title in enumerate(plain_titles)}
    rows = features(question, chosen, scores[: len(chosen)], [plain[t] for t in titles])
    head = model.reader_head
    if head is not None and states is not None:
        likely = head.probabilities(np.array(rows), states[: len(chosen)]).tolist()
    else:
        likely = [probability(row) for row in rows]
    readings = [Reading(candidate, p, row)
                for candidate, p, row in zip(chosen, likely, rows, strict=True)]
    readings.sort(key=lambda r: -r.probability)
    return readings


def choose(model: ChatModel, question: str, readings: Sequence[Reading],
           cancel: CancelToken | None = None,
           on_chosen: Callable[[Reading], None] | None = None) -> Choice | None:
    """The best reading when it answers: likely enough (``FOUND_PROBABILITY``), or nearly so
    (``NAMED_PROBABILITY``) and the model names an answer that stands in its quote. None when
    the files do not seem to say. ``on_chosen`` hears of the answer as soon as it is known:
    a likely one before the model names its answer (only the emphasis waits for that).
    Raises ``Cancelled`` when ``cancel`` is set while it reads."""
    found, named_from = thresholds(model)
    if not readings or readings[0].probability < min(named_from, found):
        return None
    best = readings[0]
    likely = best.probability >= found
    if likely and on_chosen is not None:
        on_chosen(best)
    named = named_answer(model, question, " ".join(best.candidate.quote.split()), cancel)
    if named is None and not likely:
        return None
    if not likely and on_chosen is not None:
        on_chosen(best)
    return Choice(best, named)


def thresholds(model: ChatModel) -> tuple[float, float]:
    """(found, named): the probabilities from which the best quote is given, whatever the
    model names in it and when it names an answer in it; a trained reader's own, calibrated
    with it, or ``FOUND_PROBABILITY`` and ``NAMED_PROBABILITY``."""
    head = model.reader_head
    if head is not None:
        return head.found, head.named
    return FOUND_PROBABILITY, NAMED_PROBABILITY


def named_answer(model: ChatModel, question: str, quote: str,
                 cancel: CancelToken | None = None) -> tuple[int, int] | None:
    """Where in ``quote`` the model names the answer to ``question``, after the worked
    examples; None when what it names is not in the quote (it answered from memory, or said
    the passage does not say). Raises ``Cancelled`` when ``cancel`` is set while it reads."""
    line = model.complete_line(naming_prompt(question, quote), NAMING_TOKENS, cancel)
    if cancel is not None and cancel.cancelled:
        raise Cancelled()
    return named_in(quote, line)


def naming_prompt(question: str, quote: str) -> str:
    """What the model continues to name the answer: the worked examples, then this case."""
    return (f"{NAMING_EXAMPLES}Passage: {' '.join(quote.split())}\n"
            f"Question: {' '.join(question.split())}\nAnswer:")


def named_in(quote: str, line: str) -> tuple[int, int] | None:
    """Where the answer the model named on ``line`` stands in ``quote``; None when it said the
    passage does not say or named words the quote does not hold."""
    if " ".join(line.lower().split()).strip(" .") == NOT_STATED:
        return None
    return find_phrase(quote, line)


def features(question: str, chosen: Sequence[Candidate], scores: Sequence[np.ndarray],
             plain: Sequence[np.ndarray]) -> list[tuple[float, ...]]:
    """The ``FEATURES`` of each candidate: ``scores`` are the question's token log-probabilities
    after each candidate's sentence, ``plain`` after its file's name alone."""
    question_words = content_words(question)
    question_order = list(dict.fromkeys(_content_sequence(question)))
    kind = question_kind(question)
    explains = np.array([float(s.sum()) - float(p.sum()) for s, p in zip(scores, plain,
                                                                         strict=True)])
    best = float(explains.max())
    shares = np.exp(explains - best)
    shares /= shares.sum()
    rows: list[tuple[float, ...]] = []
    for i, (candidate, s, p) in enumerate(zip(chosen, scores, plain, strict=True)):
        gain = float(explains[i])
        tokens = max(1, len(s))
        words = content_words(candidate.text)
        others = np.delete(explains, i)
        ahead = gain - (float(others.max()) if len(others) else gain - 5.0)
        found = bool(kind) and bool(kind_spans(question, candidate.text, kind))
        token_gains = (np.asarray(s, dtype=float) - np.asarray(p, dtype=float)
                       if len(s) == len(p) else np.zeros(1))
        in_window = candidate.start >= candidate.source.start and \
            candidate.end <= candidate.source.end
        rows.append((
            gain, gain / tokens, gain - best, overlap(question_words, words),
            float(candidate.source.n - 1), float(min(len(words - question_words), 10)),
            ahead, float(shares[i]), float(found), float(bool(kind) and not found),
            _in_order(question_order, _content_sequence(candidate.text)),
            float(i), float(in_window), math.log(len(candidate.text)),
            float(np.mean(s)) if len(s) else 0.0, float(np.mean(p)) if len(p) else 0.0,
            float(token_gains.max()), float((token_gains > 0.5).mean()), float(len(chosen)),
        ))
    return rows


def _content_sequence(text: str) -> list[str]:
    """The meaningful words of ``text`` in the order they are written, stemmed."""
    return [stem(w) for w in WORD.findall(text.lower()) if w not in STOPWORDS and len(w) > 1]


def _in_order(question: Sequence[str], sentence: Sequence[str]) -> float:
    """Share of the question's words the sentence says in the same order (longest common
    subsequence): "the tenant must give" vs "the landlord must give the tenant"."""
    if not question:
        return 0.0
    previous = [0] * (len(sentence) + 1)
    for word in question:
        current = [0]
        for j, other in enumerate(sentence):
            current.append(previous[j] + 1 if word == other
                           else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1] / len(question)


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

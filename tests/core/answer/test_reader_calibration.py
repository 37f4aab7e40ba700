"""The rule that chooses the reader's thresholds on training questions (bench/fit_reader.py):
the wrong share they allow must hold on a new collection, not only on these questions."""
from __future__ import annotations

import argparse

import numpy as np

from bench.fit_reader import choose_thresholds, collection_upper, wilson_upper

Z = 1.645


def _articles(count: int, each: int) -> np.ndarray:
    return np.repeat([f"{a}" for a in range(count)], each)


def test_wrong_answers_gathered_in_a_few_articles_widen_the_bound():
    articles = _articles(40, 20)
    spread = np.zeros(800, dtype=bool)
    spread[::40] = True  # one wrong answer in each of 20 articles
    gathered = np.zeros(800, dtype=bool)
    gathered[:20] = True  # the same 20 wrong answers, all in one article
    assert spread.mean() == gathered.mean()
    assert collection_upper(gathered, articles, Z) > collection_upper(spread, articles, Z) + 0.01


def test_the_bound_is_never_looser_than_wilsons_for_independent_questions():
    rng = np.random.default_rng(3)
    articles = _articles(30, 20)
    for share in (0.0, 0.01, 0.03, 0.1):
        wrong = rng.random(600) < share
        assert collection_upper(wrong, articles, Z) >= wilson_upper(wrong.mean(), 600, Z)


def test_a_smaller_collection_to_hold_on_needs_a_wider_margin():
    rng = np.random.default_rng(4)
    articles = _articles(40, 20)
    wrong = rng.random(800) < 0.02
    small = collection_upper(wrong, articles, Z, collection=(5, 10))
    large = collection_upper(wrong, articles, Z, collection=(50, 100))
    assert small > large > wrong.mean()


def test_thresholds_are_chosen_so_the_bound_holds():
    # 40 articles of 20 questions; the best quote's probability predicts its rightness
    rng = np.random.default_rng(5)
    best: dict[str, tuple[float, bool, bool]] = {}
    for article in range(40):
        for k in range(20):
            p = float(rng.random())
            best[f"{article}-{k}"] = (p, bool(rng.random() < p), False)
    questions = list(best)
    args = argparse.Namespace(wrong=0.03, z=Z, collection=(10, 30), bound="collection")
    plain, _, correct, wrong = choose_thresholds(questions, best, args)
    given = [q for q in questions if best[q][0] >= plain]
    flags = np.array([q in given and not best[q][1] for q in questions])
    articles = np.array([q.split("-")[0] for q in questions])
    assert correct > 0.0 and wrong == flags.mean()
    assert collection_upper(flags, articles, Z) <= 0.03
    # every lower threshold that would give more right answers breaks the rule
    for step in range(30, round(plain * 100)):
        t = step / 100
        right = sum(best[q][0] >= t and best[q][1] for q in questions) / len(questions)
        lower = np.array([best[q][0] >= t and not best[q][1] for q in questions])
        assert right <= correct or collection_upper(lower, articles, Z) > 0.03

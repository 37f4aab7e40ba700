"""Fit the reader's weights and its "found" threshold on TRAINING questions only.

../shared/train/squad_train_rest (never ../shared/eval). ``bench/reader_rows.py`` writes 40 of
its articles as files (every 10th, so retrieval meets as many distractors as on the eval set),
indexes them by keywords, and for 20 questions from each of 20 of them (seed 1) runs the
product's retrieval, source choice and reader candidates, keeping the model's raw scores of up
to 16 candidates (the question's token log-probabilities after each sentence and after the
file name alone). This script turns those rows into ``core.answer.reader.features`` of the
first ``--at-most`` candidates, labelled by whether the sentence holds the gold answer
(normalised as the SQuAD README says), and:

1. scores the feature set with 5 folds grouped by article (fit on 4/5 of the articles,
   predict the rest): correct / wrong / not found per threshold, the best candidate's
   probability deciding found or not and its quote (the sentence and the one after it in
   its paragraph, what the user is shown) judged;
2. fits the weights on all rows and prints WEIGHTS, BIAS and the threshold with the most
   correct answers whose wrong share stays within 3% on a new collection the size of the
   goal's sample (10 articles of 30 questions; ``collection_upper``: some articles are harder
   than others, so a share measured on these articles moves on others more than Wilson's
   bound for independent questions says), to put in core/answer/reader.py;
3. with ``--named`` (``bench/reader_named_rows.py``: whether the model names an answer that
   stands in the best quote), chooses FOUND_PROBABILITY and NAMED_PROBABILITY together by
   the same rule, and says how the pair holds on articles it was not chosen on.

    nice -n 10 python bench/reader_rows.py --articles 20 --per-article 20 --at-most 16 \\
        --out bench/.cache/squad_train_rest/raw16.jsonl      # ~15 min on 2 cores
    nice -n 10 python bench/reader_rows.py --articles 20 --per-article 20 --at-most 16 \\
        --first 1 --out bench/.cache/squad_train_rest/raw16-first1.jsonl   # the other 20
    nice -n 10 python bench/reader_named_rows.py bench/.cache/squad_train_rest/raw16*.jsonl \
        --out bench/.cache/squad_train_rest/named.jsonl     # ~8 min
    python bench/fit_reader.py bench/.cache/squad_train_rest/raw16*.jsonl \
        --named bench/.cache/squad_train_rest/named.jsonl --bound wilson
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.answer import reader  # noqa: E402


class _Source:
    def __init__(self, n: int) -> None:
        self.n, self.start, self.end = n, 0, 0


class _Candidate:
    def __init__(self, row: dict) -> None:
        self.text = row["text"]
        self.source = _Source(row["source_n"])
        self.start = 0 if row["in_window"] else -1
        self.end = 0


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-2,
                 steps: int = 50) -> tuple[np.ndarray, float]:
    """Newton's method on the L2-regularised log loss; features standardised inside."""
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-z @ w))
        gradient = z.T @ (p - y) + l2 * np.r_[w[:-1], 0.0]
        hessian = (z * (p * (1 - p))[:, None]).T @ z + l2 * np.diag(np.r_[np.ones(len(w) - 1),
                                                                          0.0])
        w -= np.linalg.solve(hessian, gradient)
    return w[:-1] / scale, float(w[-1] - (w[:-1] * mean / scale).sum())


def wilson_upper(share: float, n: int, z: float) -> float:
    """Upper end of the Wilson score interval of a share seen in ``n`` trials: the threshold
    must keep wrong answers rare on questions it was not chosen on, not only on these."""
    if n == 0 or z == 0:
        return share
    centre = share + z * z / (2 * n)
    spread = z * np.sqrt(share * (1 - share) / n + z * z / (4 * n * n))
    return float((centre + spread) / (1 + z * z / n))


def collection_upper(wrong: np.ndarray, articles: np.ndarray, z: float,
                     collection: tuple[int, int] = (10, 30)) -> float:
    """How high the wrong share may run on a new collection of ``collection`` = (articles,
    questions each): what the goal is measured on, and what a user's folder is like. It
    varies with the questions, with the articles (some are harder than others: the spread of
    the articles' own shares beyond what their question counts explain), and with how well
    these questions pin the share down (its standard error, clustered by article). The
    higher of that and Wilson's bound (which holds when few wrong answers are seen)."""
    n = len(wrong)
    share = float(wrong.mean()) if n else 0.0
    names, inverse = np.unique(articles, return_inverse=True)
    k = len(names)
    if k < 2:
        return wilson_upper(share, n, z)
    per_article = np.bincount(inverse).astype(float)
    wrong_per_article = np.bincount(inverse, weights=wrong.astype(float))
    residual = wrong_per_article - share * per_article
    clustered = k / (k - 1) * float((residual ** 2).sum()) / (n * n)
    article_shares = wrong_per_article / per_article
    between = max(0.0, float(np.mean((article_shares - share) ** 2
                                     - share * (1 - share) / per_article)))
    count, each = collection
    spread = clustered + between / count + share * (1 - share) / (count * each)
    return max(wilson_upper(share, n, z), share + z * float(np.sqrt(spread)))


def wrong_bound(wrong: np.ndarray, articles: np.ndarray, args: argparse.Namespace) -> float:
    """The bound ``args.bound`` names: ``collection_upper``, or Wilson's for independent
    questions (how the shipped reader's own thresholds were chosen)."""
    if args.bound == "wilson":
        return wilson_upper(float(wrong.mean()) if len(wrong) else 0.0, len(wrong), args.z)
    return collection_upper(wrong, articles, args.z, args.collection)


def tables(path: Path, at_most: int,
           cosine: bool = False) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per question: the candidates' features, whether each sentence holds the gold answer
    (what the weights learn), and whether the quote it would give does (what is judged).
    ``cosine``: two more features from the rows' embed-mode cosines (``reader_rows.py
    --cosine``), the cosine and how far it is behind the question's best."""
    by_question: dict[str, list[dict]] = {}
    for line in path.open():
        row = json.loads(line)
        by_question.setdefault(row["q"], []).append(row)
    out = {}
    for qid, rows in by_question.items():
        rows = [r for r in rows if not r.get("none") and r["order"] < at_most]
        if not rows:
            out[qid] = (np.zeros((0, len(reader.FEATURES) + 2 * cosine)), np.zeros(0),
                        np.zeros(0))
            continue
        x = reader.features(rows[0]["question"], [_Candidate(r) for r in rows],  # type: ignore[misc]
                            [np.array(r["fwd"]) for r in rows],
                            [np.array(r["null"]) for r in rows])
        # How many candidates were read says how large the collection is, not whether a
        # sentence answers; held at the count nearly every training question had, so the
        # weights do not learn to doubt small folders (core/answer/reader.py, BIAS).
        count = reader.FEATURES.index("candidates")
        x = [(*row[:count], float(reader.READ_AT_MOST), *row[count + 1:]) for row in x]
        if cosine:
            cosines = np.array([r["cosine"] for r in rows], dtype=float)
            x = np.hstack([np.array(x), cosines[:, None], (cosines - cosines.max())[:, None]])
        out[qid] = (np.array(x), np.array([float(r["label"]) for r in rows]),
                    np.array([float(r["quote_label"]) for r in rows]))
    return out


def pooled_tables(paths: list[Path], at_most: int,
                  cosine: bool = False) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """The questions of every path; a question sampled again by a later set keeps its first
    reading."""
    data: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for path in paths:
        for question, table in tables(path, at_most, cosine).items():
            data.setdefault(question, table)
    return data


def _article(question: str) -> str:
    return question.split("-")[0]


def held_out_probabilities(data: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
                           folds: int) -> dict[str, np.ndarray]:
    """Each question's candidates' probabilities from weights fitted without its article
    (``folds`` folds of the articles)."""
    ids = list(data)
    articles = sorted({_article(q) for q in ids})
    out: dict[str, np.ndarray] = {}
    for fold in range(folds):
        held = set(articles[fold:: folds])
        fit = [q for q in ids if _article(q) not in held and len(data[q][1])]
        w, b = fit_logistic(np.vstack([data[q][0] for q in fit]),
                            np.concatenate([data[q][1] for q in fit]))
        for q in ids:
            if _article(q) in held:
                x = data[q][0]
                out[q] = 1 / (1 + np.exp(-(b + x @ w))) if len(x) else np.zeros(0)
    return out


def _named_rows(path: Path) -> dict[str, dict[int, bool]]:
    """Per question, per candidate read: whether the model named an answer in its quote."""
    out: dict[str, dict[int, bool]] = {}
    for line in path.open():
        row = json.loads(line)
        out[row["q"]] = {r["order"]: r["named"] for r in row["read"]}
    return out


def _given(questions: list[str], best: dict[str, tuple[float, bool, bool]], plain: float,
           named: float) -> tuple[np.ndarray, np.ndarray]:
    """Which of ``questions`` are answered rightly and which wrongly when the best quote is
    given at ``plain``, or at ``named`` when the model names an answer that stands in it."""
    p = np.array([best[q][0] for q in questions])
    right = np.array([best[q][1] for q in questions], dtype=bool)
    names = np.array([best[q][2] for q in questions], dtype=bool)
    given = (p >= plain) | (names & (p >= named))
    return given & right, given & ~right


def choose_thresholds(questions: list[str], best: dict[str, tuple[float, bool, bool]],
                      args: argparse.Namespace) -> tuple[float, float, float, float]:
    """The (plain, named) pair with the most correct answers whose wrong share stays within
    ``args.wrong`` by ``wrong_bound``; with its correct and wrong shares."""
    chosen = (1.0, 1.0, 0.0, 0.0)
    articles = np.array([_article(q) for q in questions])
    steps = [step / 100 for step in range(30, 101)]
    for plain in steps:
        for named in (t for t in steps if t <= plain):
            right, wrong = _given(questions, best, plain, named)
            if right.mean() > chosen[2] and wrong_bound(wrong, articles, args) <= args.wrong:
                chosen = (plain, named, float(right.mean()), float(wrong.mean()))
    return chosen


def named_thresholds(ids: list[str], best: dict[str, tuple[float, bool]],
                     probabilities: dict[str, np.ndarray], named: dict[str, dict[int, bool]],
                     args: argparse.Namespace) -> tuple[float, float]:
    """Choose FOUND_PROBABILITY and NAMED_PROBABILITY together on all questions, and say how
    well the rule holds on articles it was not chosen on (chosen on 4/5 of the articles,
    applied to the rest, ``args.folds`` times). ``probabilities``: held out, as ``best``."""
    table: dict[str, tuple[float, bool, bool]] = {}
    for q in ids:
        p = probabilities[q]
        top = int(p.argmax()) if len(p) else -1
        table[q] = (best[q][0], best[q][1], named.get(q, {}).get(top, False))
    n = len(ids)
    print(f"named: {sum(v[2] for v in table.values())} of {n} best quotes hold the answer the "
          f"model names; of the right ones {sum(v[2] and v[1] for v in table.values())}/"
          f"{sum(v[1] for v in table.values())}, of the wrong ones "
          f"{sum(v[2] and not v[1] for v in table.values())}/"
          f"{sum(not v[1] for v in table.values())}")
    articles = sorted({_article(q) for q in ids})
    correct = wrong = 0.0
    for fold in range(args.folds):
        held = set(articles[fold:: args.folds])
        chosen_on = [q for q in ids if _article(q) not in held]
        plain, at_named, _, _ = choose_thresholds(chosen_on, table, args)
        test = [q for q in ids if _article(q) in held]
        rights, wrongs = _given(test, table, plain, at_named)
        c, w = float(rights.mean()), float(wrongs.mean())
        correct += c * len(test)
        wrong += w * len(test)
        print(f"fold {fold}: FOUND {plain:.2f} NAMED {at_named:.2f} -> held-out correct "
              f"{c:.3f} wrong {w:.3f} ({len(test)} questions)")
    print(f"thresholds chosen without the article: correct {correct / n:.3f}, wrong "
          f"{wrong / n:.3f}")
    plain, at_named, c, w = choose_thresholds(ids, table, args)
    _, wrongs = _given(ids, table, plain, at_named)
    bound = wrong_bound(wrongs, np.array([_article(q) for q in ids]), args)
    print(f"FOUND_PROBABILITY {plain:.2f} NAMED_PROBABILITY {at_named:.2f}: correct {c:.3f} "
          f"wrong {w:.3f} (upper bound {bound:.3f})")
    return plain, at_named


def one_threshold(best: dict[str, tuple[float, bool]], args: argparse.Namespace,
                  low: float = 0.5) -> tuple[float, float, float]:
    """The threshold with the most correct answers whose wrong share stays within
    ``args.wrong`` by ``wrong_bound``; printed step by step. ``best``: per question, the best
    candidate's probability and whether its quote holds the answer."""
    ids = list(best)
    table = {q: (p, right, False) for q, (p, right) in best.items()}
    articles = np.array([_article(q) for q in ids])
    chosen = (1.0, 0.0, 0.0)
    for step in range(round(low * 100), 99):
        t = step / 100
        rights, wrongs = _given(ids, table, t, t)
        correct, wrong = float(rights.mean()), float(wrongs.mean())
        bound = wrong_bound(wrongs, articles, args)
        print(f"held out, threshold {t:.2f}: correct {correct:.3f} wrong {wrong:.3f} "
              f"(upper bound {bound:.3f}) not found {1 - correct - wrong:.3f}")
        if bound <= args.wrong and correct > chosen[1]:
            chosen = (t, correct, wrong)
    print(f"threshold {chosen[0]:.2f}: held-out correct {chosen[1]:.3f}, wrong {chosen[2]:.3f}")
    return chosen


def add_rule_arguments(parser: argparse.ArgumentParser) -> None:
    """The rule thresholds are chosen by: at most ``--wrong`` wrong answers on a new
    collection of ``--collection`` articles and questions each, at ``--z`` standard errors."""
    parser.add_argument("--wrong", type=float, default=0.03)
    parser.add_argument("--z", type=float, default=1.645,
                        help="standard errors of the wrong share on a new collection "
                             "(1.645: 95%% one-sided) that must stay within --wrong")
    parser.add_argument("--collection", type=int, nargs=2, default=(10, 30),
                        metavar=("ARTICLES", "QUESTIONS"),
                        help="the new collection the bound is for (the goal's smallest sample)")
    parser.add_argument("--bound", choices=("collection", "wilson"), default="collection",
                        help="wilson: the bound for independent questions, which the shipped "
                             "reader's FOUND/NAMED_PROBABILITY were chosen with")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rows", type=Path, nargs="+", help="reader_rows.py outputs, pooled")
    parser.add_argument("--at-most", type=int, default=reader.READ_AT_MOST)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--write", type=Path,
                        help="also write the weights and thresholds here (json, for "
                             "bench/answers.py --adapted-reader)")
    parser.add_argument("--named", type=Path,
                        help="reader_named_rows.py output: also choose NAMED_PROBABILITY, the "
                             "lower threshold that holds when the model names an answer that "
                             "stands in the quote")
    parser.add_argument("--cosine", action="store_true",
                        help="add the embed mode's cosine features (rows of reader_rows.py "
                             "--cosine)")
    add_rule_arguments(parser)
    args = parser.parse_args()
    data = pooled_tables(args.rows, args.at_most, args.cosine)
    ids = list(data)
    articles = sorted({_article(q) for q in ids})
    best: dict[str, tuple[float, bool]] = {}
    probabilities = held_out_probabilities(data, args.folds)
    for q, p in probabilities.items():
        quoted = data[q][2]
        best[q] = (float(p.max()), bool(quoted[int(p.argmax())])) if len(p) else (0.0, False)
    n = len(ids)
    print(f"{n} questions, {len(articles)} articles, first {args.at_most} candidates; gold "
          f"among them {sum(bool(data[q][1].any()) for q in ids) / n:.3f}, among their quotes "
          f"{sum(bool(data[q][2].any()) for q in ids) / n:.3f}")
    found, _, _ = one_threshold(best, args)
    named = found
    if args.named:
        found, named = named_thresholds(ids, best, probabilities, _named_rows(args.named), args)
    rows = [q for q in ids if len(data[q][1])]
    w, b = fit_logistic(np.vstack([data[q][0] for q in rows]),
                        np.concatenate([data[q][1] for q in rows]))
    print("FEATURES", reader.FEATURES)
    print("WEIGHTS", tuple(round(float(v), 4) for v in w))
    print("BIAS", round(b, 4))
    if args.write:
        args.write.write_text(json.dumps({"weights": [float(v) for v in w], "bias": float(b),
                                          "found": found, "named": named}, indent=1))


if __name__ == "__main__":
    main()

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
   correct answers whose wrong share is at most 3% with 95% confidence (its Wilson upper
   bound: a share measured on a few hundred questions is loose, and new questions are harder),
   to put in core/answer/reader.py;
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
        --named bench/.cache/squad_train_rest/named.jsonl
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


def tables(path: Path, at_most: int) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per question: the candidates' features, whether each sentence holds the gold answer
    (what the weights learn), and whether the quote it would give does (what is judged)."""
    by_question: dict[str, list[dict]] = {}
    for line in path.open():
        row = json.loads(line)
        by_question.setdefault(row["q"], []).append(row)
    out = {}
    for qid, rows in by_question.items():
        rows = [r for r in rows if not r.get("none") and r["order"] < at_most]
        if not rows:
            out[qid] = (np.zeros((0, len(reader.FEATURES))), np.zeros(0), np.zeros(0))
            continue
        x = reader.features(rows[0]["question"], [_Candidate(r) for r in rows],  # type: ignore[misc]
                            [np.array(r["fwd"]) for r in rows],
                            [np.array(r["null"]) for r in rows])
        out[qid] = (np.array(x), np.array([float(r["label"]) for r in rows]),
                    np.array([float(r["quote_label"]) for r in rows]))
    return out


def pooled_tables(paths: list[Path], at_most: int) -> dict[str, tuple[np.ndarray, np.ndarray,
                                                                      np.ndarray]]:
    data = {}
    for path in paths:
        data.update(tables(path, at_most))
    return data


def held_out_probabilities(data: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
                           folds: int) -> dict[str, np.ndarray]:
    """Each question's candidates' probabilities from weights fitted without its article
    (``folds`` folds of the articles)."""
    ids = list(data)
    articles = sorted({q.split("-")[0] for q in ids})
    out: dict[str, np.ndarray] = {}
    for fold in range(folds):
        held = set(articles[fold:: folds])
        fit = [q for q in ids if q.split("-")[0] not in held and len(data[q][1])]
        w, b = fit_logistic(np.vstack([data[q][0] for q in fit]),
                            np.concatenate([data[q][1] for q in fit]))
        for q in ids:
            if q.split("-")[0] in held:
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


def _outcome(questions: list[str], best: dict[str, tuple[float, bool, bool]], plain: float,
             named: float) -> tuple[float, float]:
    """Correct and wrong shares when the best quote is given at ``plain``, or at ``named``
    when the model names an answer that stands in it."""
    correct = wrong = 0
    for q in questions:
        p, right, names = best[q]
        if p >= plain or (names and p >= named):
            correct += right
            wrong += not right
    return correct / len(questions), wrong / len(questions)


def _choose(questions: list[str], best: dict[str, tuple[float, bool, bool]],
            args: argparse.Namespace) -> tuple[float, float, float, float]:
    """The (plain, named) pair with the most correct answers whose wrong share stays within
    ``args.wrong`` at the Wilson bound; with its correct and wrong shares."""
    chosen = (1.0, 1.0, 0.0, 0.0)
    steps = [step / 100 for step in range(30, 101)]
    for plain in steps:
        for named in (t for t in steps if t <= plain):
            correct, wrong = _outcome(questions, best, plain, named)
            if wilson_upper(wrong, len(questions), args.z) <= args.wrong and \
                    correct > chosen[2]:
                chosen = (plain, named, correct, wrong)
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
    articles = sorted({q.split("-")[0] for q in ids})
    correct = wrong = 0.0
    for fold in range(args.folds):
        held = set(articles[fold:: args.folds])
        plain, at_named, _, _ = _choose([q for q in ids if q.split("-")[0] not in held],
                                        table, args)
        test = [q for q in ids if q.split("-")[0] in held]
        c, w = _outcome(test, table, plain, at_named)
        correct += c * len(test)
        wrong += w * len(test)
        print(f"fold {fold}: FOUND {plain:.2f} NAMED {at_named:.2f} -> held-out correct "
              f"{c:.3f} wrong {w:.3f} ({len(test)} questions)")
    print(f"thresholds chosen without the article: correct {correct / n:.3f}, wrong "
          f"{wrong / n:.3f}")
    plain, at_named, c, w = _choose(ids, table, args)
    print(f"FOUND_PROBABILITY {plain:.2f} NAMED_PROBABILITY {at_named:.2f}: correct {c:.3f} "
          f"wrong {w:.3f} (upper bound {wilson_upper(w, n, args.z):.3f})")
    return plain, at_named


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rows", type=Path, nargs="+", help="reader_rows.py outputs, pooled")
    parser.add_argument("--at-most", type=int, default=reader.READ_AT_MOST)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--named", type=Path,
                        help="reader_named_rows.py output: also choose NAMED_PROBABILITY, the "
                             "lower threshold that holds when the model names an answer that "
                             "stands in the quote")
    parser.add_argument("--wrong", type=float, default=0.03)
    parser.add_argument("--z", type=float, default=1.645,
                        help="the wrong share's upper bound (Wilson, this many standard "
                             "errors; 1.645: 95%% one-sided) must stay within --wrong")
    args = parser.parse_args()
    data = pooled_tables(args.rows, args.at_most)
    ids = list(data)
    articles = sorted({q.split("-")[0] for q in ids})
    best: dict[str, tuple[float, bool]] = {}
    probabilities = held_out_probabilities(data, args.folds)
    for q, p in probabilities.items():
        quoted = data[q][2]
        best[q] = (float(p.max()), bool(quoted[int(p.argmax())])) if len(p) else (0.0, False)
    n = len(ids)
    print(f"{n} questions, {len(articles)} articles, first {args.at_most} candidates; gold "
          f"among them {sum(bool(data[q][1].any()) for q in ids) / n:.3f}, among their quotes "
          f"{sum(bool(data[q][2].any()) for q in ids) / n:.3f}")
    chosen = (0.0, 0.0, 1.0)
    for step in range(50, 96):
        t = step / 100
        found = [v for v in best.values() if v[0] >= t]
        correct, wrong = sum(v[1] for v in found) / n, (len(found) - sum(v[1] for v in found)) / n
        bound = wilson_upper(wrong, n, args.z)
        print(f"held out, threshold {t:.2f}: correct {correct:.3f} wrong {wrong:.3f} "
              f"(upper bound {bound:.3f}) not found {1 - correct - wrong:.3f}")
        if bound <= args.wrong and correct > chosen[1]:
            chosen = (t, correct, wrong)
    print(f"threshold {chosen[0]:.2f}: held-out correct {chosen[1]:.3f}, wrong {chosen[2]:.3f}")
    if args.named:
        named_thresholds(ids, best, probabilities, _named_rows(args.named), args)
    rows = [q for q in ids if len(data[q][1])]
    w, b = fit_logistic(np.vstack([data[q][0] for q in rows]),
                        np.concatenate([data[q][1] for q in rows]))
    print("FEATURES", reader.FEATURES)
    print("WEIGHTS", tuple(round(float(v), 4) for v in w))
    print("BIAS", round(b, 4))


if __name__ == "__main__":
    main()

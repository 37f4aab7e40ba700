"""Fit the reader's weights and its "found" threshold on TRAINING questions only.

../shared/train/squad_train_rest (never ../shared/eval): a fixed set of its articles is
written as files, indexed by keywords (the product's retrieval with no vectors: minutes to
build instead of an hour of embedding), and each sampled question goes through the product's
own retrieval, source choice and reader. Every candidate sentence the reader scores is a
training row, labelled by whether it holds the gold answer (normalised as the SQuAD README
says). A logistic model is fitted on the first part of the questions; on the held-out rest it
prints correct / wrong / not found for several thresholds, and the weights to put in
core/answer/reader.py (WEIGHTS, BIAS, FOUND_PROBABILITY).

    nice -n 10 python bench/fit_reader.py --articles 12 --per-article 50
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.squad import TRAIN, contains_answer, questions, sample, write_articles  # noqa: E402
from core.answer import reader  # noqa: E402
from core.answer.answerer import Answerer, with_previous_question  # noqa: E402
from core.answer.sources import select_sources  # noqa: E402
from core.config import AppPaths, Settings  # noqa: E402
from core.index.indexer import Indexer  # noqa: E402
from core.services import load_default_or_chosen_model  # noqa: E402
from core.store.database import Store  # noqa: E402

CACHE = ROOT / "bench" / ".cache" / "squad_train_rest"


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
    weights = w[:-1] / scale
    bias = float(w[-1] - (w[:-1] * mean / scale).sum())
    return weights, bias


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=12)
    parser.add_argument("--per-article", type=int, default=50)
    parser.add_argument("--rows", type=Path, default=CACHE / "rows.jsonl",
                        help="scored candidates (reused when present with --reuse)")
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()

    all_questions = questions(TRAIN)
    articles = sorted({q.article for q in all_questions}, key=int)
    # Every n-th article: spread over the folder, always the same ones.
    step = max(1, len(articles) // args.articles)
    chosen_articles = articles[::step][: args.articles]
    chosen = sample(all_questions, chosen_articles, args.per_article, seed=1)
    CACHE.mkdir(parents=True, exist_ok=True)
    if not (args.reuse and args.rows.exists()):
        score_rows(chosen, chosen_articles, args.rows)
    rows = [json.loads(line) for line in args.rows.open()]
    by_question: dict[str, list[dict]] = {}
    for row in rows:
        by_question.setdefault(row["q"], []).append(row)
    ids = [q.id for q in chosen]
    split = int(len(ids) * 0.6)
    train_ids, test_ids = set(ids[:split]), ids[split:]
    x = np.array([r["features"] for r in rows if r["q"] in train_ids])
    y = np.array([float(r["label"]) for r in rows if r["q"] in train_ids])
    weights, bias = fit_logistic(x, y)
    print("FEATURES", reader.FEATURES)
    print("WEIGHTS", tuple(round(float(w), 4) for w in weights), "BIAS", round(bias, 4))
    for name, subset in (("fit part", ids[:split]), ("held out", test_ids)):
        print(f"\n== {name}: {len(subset)} questions")
        best = []
        for qid in subset:
            candidates = by_question.get(qid, [])
            if not candidates:
                best.append((0.0, False, False))
                continue
            scored = [(1 / (1 + np.exp(-(bias + np.dot(weights, r["features"])))), r)
                      for r in candidates]
            p, top = max(scored, key=lambda item: item[0])
            best.append((float(p), bool(top["label"]), any(r["label"] for r in candidates)))
        reachable = sum(b[2] for b in best)
        print(f"gold among read candidates: {reachable}/{len(best)}")
        for threshold in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
            found = [b for b in best if b[0] >= threshold]
            correct = sum(b[1] for b in found)
            n = len(best)
            print(f"threshold {threshold:.2f}: correct {correct / n:.3f} wrong "
                  f"{(len(found) - correct) / n:.3f} not found {(n - len(found)) / n:.3f}")


def score_rows(chosen: list, chosen_articles: list[str], out: Path) -> None:
    files = write_articles(TRAIN, CACHE / "files", set(chosen_articles))
    model = load_default_or_chosen_model(Settings(), AppPaths.resolve())
    store = Store.open(CACHE / "keywords.db")
    with Indexer(store, None, Settings(use_gitignore=False)) as indexer:
        indexer.add_folder(files[0].parent)
        indexer.run(lambda p: None)
    answerer = Answerer(store, model)
    started = time.perf_counter()
    with out.open("w") as sink:
        for i, q in enumerate(chosen):
            hits = answerer.retrieve(q.text, None)
            sources = select_sources(with_previous_question(q.text, ()), hits, model)
            for r in reader.read(model, q.text, sources):
                sink.write(json.dumps({"q": q.id, "features": r.features,
                                       "text": r.candidate.text,
                                       "label": contains_answer(r.candidate.text, q.answers),
                                       "gold_paragraph": q.paragraph}) + "\n")
            if i % 50 == 0:
                print(f"{i}/{len(chosen)} {time.perf_counter() - started:.0f}s", file=sys.stderr)
    store.close()


if __name__ == "__main__":
    main()

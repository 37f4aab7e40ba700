"""Fit the bundled model's trained reader (``core.models.reader_head``) on TRAINING questions.

Input: ``bench/reader_probe_rows.py`` outputs (questions of ../shared/train/squad_train_rest,
never ../shared/eval): for each question the product's candidates with the model's scores
(the reader's features) and its pooled inner states while reading them. The head is a
logistic model over the reader's features and the first ``--dims`` principal components of
the states (each question's mean state taken off, then standardised), L2-regularised.

1. 5 folds grouped by article: fitted on 4/5 of the articles, it scores the rest. Printed:
   how often the best candidate's quote holds the answer, and correct / wrong at each
   threshold, as ``bench/fit_reader.py`` does for the reader's own weights on the same rows.
2. ``--write-probabilities F``: those held-out probabilities, for
   ``bench/reader_named_rows.py --probabilities F`` (the model naming the answer in the best
   two quotes).
3. ``--named N``: FOUND and NAMED chosen together by fit_reader's rule (the most correct
   answers whose wrong share stays within 3% on a new collection of 10 articles of 30
   questions, ``fit_reader.collection_upper``) and how the pair holds on articles it was not
   chosen on.
4. ``--export PATH``: the head fitted on all rows, with the chosen thresholds; prints its
   sha256 for ``ReaderHeadSpec``.
5. ``--check P ...``: the head fitted on the positional rows, at the one threshold chosen on
   them, applied to other rows (other articles, more distractors): does the calibration
   carry over to a new collection within the training data?

    nice -n 10 python bench/reader_probe_rows.py --articles 20 --per-article 20 \\
        --out bench/.cache/squad_train_rest/probe0   # 1.2-2.8 s a question
    ... --first 1 --out .../probe1
    ... --indexed 80 --articles 40 --per-article 15 --first 1 --seed 2 --out .../probe2
    ... --indexed 160 --articles 80 --per-article 5 --first 1 --seed 3 --out .../probe3
    python bench/fit_reader_head.py .../probe0 .../probe1 .../probe2 .../probe3 \\
        --write-probabilities .../head3-heldout.json
    nice -n 10 python bench/reader_named_rows.py .../probe0.jsonl .../probe1.jsonl \\
        .../probe2.jsonl .../probe3.jsonl --probabilities .../head3-heldout.json --best 1 \\
        --out .../head3-named.jsonl                                # ~9 min
    python bench/fit_reader_head.py .../probe0 .../probe1 .../probe2 .../probe3 \\
        --named .../head3-named.jsonl --export resources/reader_heads/gemma-3-270m-reader-v3.npz

probe3's 80 articles include 16 of probe1's, and 9 of its questions were probe1's too: those
count once (their first reading), so the four sets hold 1,791 questions of 144 articles.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fit_reader import (  # noqa: E402
    _named_rows,
    add_rule_arguments,
    fit_logistic,
    named_thresholds,
    one_threshold,
    tables,
)
from core.answer import reader  # noqa: E402
from core.models.reader_head import (  # noqa: E402
    GEMMA_270M_READER,
    ReaderHead,
    save_reader_head,
)


class Rows:
    """Every candidate of every question, in file order."""

    def __init__(self, prefixes: list[Path], taps: list[str]) -> None:
        self.qids: list[str] = []
        seen: set[str] = set()
        features: list[np.ndarray] = []
        labels: list[np.ndarray] = []
        quote_labels: list[np.ndarray] = []
        states: list[np.ndarray] = []
        for prefix in prefixes:
            with np.load(prefix.with_suffix(".npz")) as npz:
                file_states = np.hstack([npz[tap] for tap in taps])
            at = 0
            for q, (x, label, quote_label) in tables(prefix.with_suffix(".jsonl"),
                                                     reader.READ_AT_MOST).items():
                part = file_states[at: at + len(x)]
                at += len(x)
                # Sets drawn with other seeds can sample a question again: it counts once,
                # as its first reading (as fit_reader.pooled_tables keeps it).
                if len(x) and q not in seen:
                    seen.add(q)
                    self.qids += [q] * len(x)
                    features.append(x)
                    labels.append(label)
                    quote_labels.append(quote_label)
                    states.append(part)
            if at != len(file_states):
                raise SystemExit(f"{prefix}: {len(file_states)} states for {at} candidates")
        self.features = np.vstack(features)
        self.labels = np.concatenate(labels)
        self.quote_labels = np.concatenate(quote_labels)
        self.states = np.concatenate(states)
        ids = np.array(self.qids)
        self.groups = {q: np.flatnonzero(ids == q) for q in dict.fromkeys(self.qids)}
        self.articles = np.array([q.split("-")[0] for q in self.qids])


def fit_head(rows: Rows, where: np.ndarray, dims: int, l2: float, found: float = 1.0,
             named: float = 1.0) -> ReaderHead:
    shared = rows.states.copy()
    for members in rows.groups.values():
        shared[members] -= shared[members].mean(axis=0)
    shared = shared[where]
    centre = shared.mean(axis=0)
    scale = shared.std(axis=0) + 1e-6
    standard = (shared - centre) / scale
    _, _, vt = np.linalg.svd(standard[:: max(1, len(standard) // 4000)], full_matrices=False)
    basis = vt[:dims]
    x = np.hstack([rows.features[where], standard @ basis.T])
    weights, bias = fit_logistic(x, rows.labels[where], l2=l2, steps=20)
    n = rows.features.shape[1]
    return ReaderHead(spec=GEMMA_270M_READER, centre=centre.astype(np.float32),
                      scale=scale.astype(np.float32), basis=basis.astype(np.float32),
                      feature_weights=weights[:n], state_weights=weights[n:], bias=bias,
                      found=found, named=named)


def held_out(rows: Rows, dims: int, l2: float, folds: int = 5) -> dict[str, np.ndarray]:
    names = sorted(set(rows.articles))
    out: dict[str, np.ndarray] = {}
    for fold in range(folds):
        held = np.isin(rows.articles, names[fold::folds])
        head = fit_head(rows, ~held, dims, l2)
        for q, members in rows.groups.items():
            if held[members[0]]:
                out[q] = head.probabilities(rows.features[members], rows.states[members])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("prefixes", nargs="+", type=Path)
    ap.add_argument("--taps", default="mean6,last9",
                    help="the states (reader_probe_rows.py names), as the spec's taps")
    ap.add_argument("--dims", type=int, default=32)
    ap.add_argument("--l2", type=float, default=100.0)
    ap.add_argument("--folds", type=int, default=5)
    add_rule_arguments(ap)
    ap.add_argument("--write-probabilities", type=Path)
    ap.add_argument("--named", type=Path)
    ap.add_argument("--export", type=Path)
    ap.add_argument("--check", type=Path, nargs="+",
                    help="other rows (other articles, other distractors): the head fitted on "
                         "all the positional rows, at the one threshold chosen on them, "
                         "applied to these")
    a = ap.parse_args()
    rows = Rows(a.prefixes, a.taps.split(","))
    probabilities = held_out(rows, a.dims, a.l2, a.folds)
    ids = list(rows.groups)
    n = len(ids)
    best: dict[str, tuple[float, bool]] = {}
    for q, p in probabilities.items():
        top = rows.groups[q][int(p.argmax())]
        best[q] = (float(p.max()), bool(rows.quote_labels[top]))
    holds = np.mean([v[1] for v in best.values()])
    print(f"{n} questions, {len(set(rows.articles))} articles, {len(rows.qids)} candidates; "
          f"held out, the best quote holds the answer for {holds:.3f}")
    chosen = one_threshold(best, a)
    if a.write_probabilities:
        a.write_probabilities.write_text(json.dumps({q: p.tolist()
                                                     for q, p in probabilities.items()}))
    if a.check:
        other = Rows(a.check, a.taps.split(","))
        head = fit_head(rows, np.ones(len(rows.qids), dtype=bool), a.dims, a.l2)
        right = wrong = 0
        for members in other.groups.values():
            p = head.probabilities(other.features[members], other.states[members])
            if p.max() >= chosen[0]:
                quoted = bool(other.quote_labels[members[int(p.argmax())]])
                right, wrong = right + quoted, wrong + (not quoted)
        print(f"on the --check rows ({len(other.groups)} questions, "
              f"{len(set(other.articles))} articles) at {chosen[0]:.2f}: correct "
              f"{right / len(other.groups):.3f} wrong {wrong / len(other.groups):.3f}")
    found, named = chosen[0], chosen[0]
    if a.named:
        found, named = named_thresholds(ids, best, probabilities, _named_rows(a.named), a)
    if a.export:
        head = fit_head(rows, np.ones(len(rows.qids), dtype=bool), a.dims, a.l2)
        layers = [int(re.fullmatch(r"(?:mean|last)(\d+)", tap)[1])  # type: ignore[index]
                  for tap in a.taps.split(",")]
        sha = save_reader_head(a.export, layers, centre=head.centre, scale=head.scale,
                               basis=head.basis, feature_weights=head.feature_weights,
                               state_weights=head.state_weights, bias=head.bias, found=found,
                               named=named)
        print(f"wrote {a.export}: sha256 {sha}")


if __name__ == "__main__":
    main()

"""Reader rows plus the model's inner states while it reads (scratch for a trained reader).

Like ``bench/reader_rows.py`` (the same articles of ../shared/train/squad_train_rest, the same
retrieval, sources and candidates), but while the model scores "file name / sentence /
Question: q" the product's ``ScoreRunner`` also keeps blocks' rows of the question's tokens
(RMS-scaled), pooled two ways: their mean and the last one (``core.models.reader_head``).
Those tokens have read the sentence before them, so their state says how the sentence and
the question fit. Writes the raw rows (jsonl, the format
``bench/fit_reader.py`` reads) and an .npz with the pooled states per row.

    nice -n 10 python bench/reader_probe_rows.py --articles 20 --per-article 20 \\
        --out bench/.cache/squad_train_rest/probe0
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.reader_rows import CACHE, Reading, chosen_questions, keyword_answerer  # noqa: E402
from core.answer import reader  # noqa: E402
from core.config import AppPaths, Settings  # noqa: E402
from core.models.llama.score import ScoreRunner  # noqa: E402
from core.models.reader_head import POOLS, StateTap  # noqa: E402
from core.services import load_default_or_chosen_model  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--articles", type=int, default=20)
    p.add_argument("--per-article", type=int, default=20)
    p.add_argument("--at-most", type=int, default=reader.READ_AT_MOST)
    p.add_argument("--layers", default="6,9,12,15")
    p.add_argument("--out", type=Path, default=CACHE / "probe")
    p.add_argument("--indexed", type=int, default=40, help="articles indexed (distractors)")
    p.add_argument("--first", type=int, default=0)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    layers = [int(x) for x in a.layers.split(",")]
    chosen, indexed = chosen_questions(a.indexed, a.articles, a.per_article, a.first, a.seed)
    model: Any = load_default_or_chosen_model(Settings(), AppPaths.resolve())
    taps = [StateTap(layer, pool) for layer in layers for pool in POOLS]
    # The product's own scoring passes, with every tap tried (the head keeps some of them).
    scorer = ScoreRunner(vocab=model._vocab, context_params=model._context_params,
                         new_context=model._new_context, width=model.dim, taps=taps)
    answerer, store = keyword_answerer(model, indexed)
    pooled: dict[str, list[np.ndarray]] = {f"{t.pool}{t.layer}": [] for t in taps}
    t0 = time.perf_counter()
    with a.out.with_suffix(".jsonl").open("w") as sink:
        for i, q in enumerate(chosen):
            reading = Reading(answerer, model, q.text, a.at_most)
            cands = reading.candidates
            if not cands:
                sink.write(json.dumps({"q": q.id, "none": True}) + "\n")
                continue
            s0 = time.perf_counter()
            scores, states = scorer.read(reading.pairs)
            el = time.perf_counter() - s0
            assert states is not None
            for k, t in enumerate(taps):
                part = states[: len(cands), k * model.dim: (k + 1) * model.dim]
                pooled[f"{t.pool}{t.layer}"].extend(part)
            for row in reading.rows(q, scores, el):
                sink.write(json.dumps(row) + "\n")
            if i % 25 == 0:
                print(f"{i}/{len(chosen)} {time.perf_counter() - t0:.0f}s", file=sys.stderr,
                      flush=True)
    np.savez(a.out.with_suffix(".npz"),
             **{k: np.array(v, dtype=np.float32) for k, v in pooled.items()})
    scorer.close()
    store.close()


if __name__ == "__main__":
    main()

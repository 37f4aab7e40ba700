"""The model naming the answer in the reader's best quotes, for TRAINING questions (see
fit_reader: the second, cheaper-to-pass threshold).

For each question of ``bench/reader_rows.py``'s rows, the candidates are scored with weights
fitted without the question's article (``fit_reader.held_out_probabilities``: the same folds as
``fit_reader``), and the model reads the quotes of the best two the way the product does
(``core.answer.reader.naming_prompt`` and ``named_in``, as ``named_answer`` does). One row
per question: for each of the two, its place among the candidates, whether the model's named
answer stands in the quote, and the line.

    nice -n 10 python bench/reader_named_rows.py bench/.cache/squad_train_rest/raw16*.jsonl \\
        --out bench/.cache/squad_train_rest/named.jsonl      # ~8 min on 2 cores
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

from bench.fit_reader import held_out_probabilities, pooled_tables  # noqa: E402
from core.answer import reader  # noqa: E402
from core.config import AppPaths, Settings  # noqa: E402
from core.services import load_default_or_chosen_model  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rows", type=Path, nargs="+")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--best", type=int, default=2, help="quotes read per question")
    parser.add_argument("--probabilities", type=Path,
                        help="held-out probabilities from bench/fit_reader_head.py "
                             "--write-probabilities, instead of the reader's own weights")
    args = parser.parse_args()
    data = pooled_tables(args.rows, reader.READ_AT_MOST)
    raw: dict[str, list[dict]] = {}
    for path in args.rows:
        for line in path.open():
            row = json.loads(line)
            if not row.get("none") and row["order"] < reader.READ_AT_MOST:
                raw.setdefault(row["q"], []).append(row)
    if args.probabilities:
        probabilities = {q: np.array(p) for q, p in
                         json.loads(args.probabilities.read_text()).items()}
    else:
        probabilities = held_out_probabilities(data, args.folds)
    done = {json.loads(line)["q"] for line in args.out.open()} if args.out.exists() else set()
    model = load_default_or_chosen_model(Settings(), AppPaths.resolve())
    started = time.perf_counter()
    with args.out.open("a") as sink:
        for n, (q, p) in enumerate(probabilities.items()):
            if q in done or not len(p):
                continue
            read = []
            for k in np.argsort(-p)[: args.best]:
                row = raw[q][int(k)]
                quote = " ".join(row["quote"].split())
                line = model.complete_line(reader.naming_prompt(row["question"], quote),
                                           reader.NAMING_TOKENS)
                read.append({"order": int(k), "probability": float(p[k]), "line": line,
                             "named": reader.named_in(quote, line) is not None,
                             "quote_label": bool(row["quote_label"])})
            sink.write(json.dumps({"q": q, "read": read}) + "\n")
            sink.flush()
            if n % 50 == 0:
                print(f"{n}/{len(probabilities)} {time.perf_counter() - started:.0f}s",
                      file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()

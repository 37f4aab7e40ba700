"""Retrieval quality on ../shared/eval: nDCG@10 and recall@100 for keywords alone (BM25),
meaning alone (dense) and hybrid at several fusion weights, through the real pipeline.

Each collection is written as files on disk (one .txt per document; the PDF set as it is),
indexed by the same Indexer a user's folder goes through, and queried through ``search``.
Indexes are kept in bench/.cache between runs: an unchanged file costs nothing.

    python bench/retrieval.py                       # every collection, default model
    python bench/retrieval.py medline adi --weights 0,0.25,0.5,1
    python bench/retrieval.py --model path/to/other.gguf
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.cancel import Progress  # noqa: E402
from core.config import AppPaths, Settings  # noqa: E402
from core.indexer import Indexer  # noqa: E402
from core.search import search  # noqa: E402
from core.services import load_default_or_chosen_model  # noqa: E402
from core.store import Store  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"
CACHE = ROOT / "bench" / ".cache"
COLLECTIONS = ("adi", "medline", "cranfield", "scifact", "docugami_sec10q")


def load_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    for line in path.read_text().splitlines()[1:]:
        qid, did, score = line.split("\t")
        if int(score) > 0:
            qrels[qid][did] = int(score)
    return qrels


def materialise(name: str) -> tuple[Path, dict[str, str]]:
    """The collection as a folder of files; returns the folder and path → document id."""
    src = EVAL / name
    if (src / "pdfs").is_dir():
        folder = src / "pdfs"
        return folder, {str(p): p.stem for p in folder.glob("*.pdf")}
    folder = CACHE / name / "docs"
    folder.mkdir(parents=True, exist_ok=True)
    mapping: dict[str, str] = {}
    with (src / "corpus.jsonl").open() as f:
        for line in f:
            doc = json.loads(line)
            path = folder / f"{doc['_id']}.txt"
            text = (doc.get("title") or "").strip()
            text = f"{text}\n\n{doc['text']}" if text else doc["text"]
            if not path.exists() or path.read_text() != text:
                path.write_text(text)
            mapping[str(path)] = doc["_id"]
    return folder, mapping


def ndcg_at(ranked: list[str], rel: dict[str, int], k: int = 10) -> float:
    dcg = sum((2 ** rel.get(d, 0) - 1) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(rel.values(), reverse=True)[:k]
    idcg = sum((2**g - 1) / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def recall_at(ranked: list[str], rel: dict[str, int], k: int = 100) -> float:
    return len(set(ranked[:k]) & set(rel)) / len(rel) if rel else 0.0


def evaluate(name: str, model, weights: list[float], max_queries: int | None) -> list[dict]:
    folder, mapping = materialise(name)
    db = CACHE / name / f"{model.model_id.replace('/', '_').replace(':', '_')}.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    store = Store.open(db)
    indexer = Indexer(store, model, Settings(use_gitignore=False))
    indexer.add_folder(folder)
    started = time.perf_counter()
    last = [0.0]

    def progress(p: Progress) -> None:
        now = time.perf_counter()
        if now - last[0] > 30:
            last[0] = now
            print(f"  [{name}] {p.phase} {p.done}/{p.total}", file=sys.stderr, flush=True)

    indexer.run(progress)
    print(f"  [{name}] indexed in {time.perf_counter() - started:.0f}s", file=sys.stderr)

    qrels = load_qrels(EVAL / name / "qrels.tsv")
    queries = [json.loads(line) for line in (EVAL / name / "queries.jsonl").open()]
    queries = [q for q in queries if q["_id"] in qrels][:max_queries]
    settings = [("bm25", "lexical", 0.0), ("dense", "semantic", 1.0)] + [
        (f"hybrid w={w:g}", "hybrid", w) for w in weights
    ]
    rows = []
    for label, mode, weight in settings:
        ndcg = recall = 0.0
        for q in queries:
            result = search(
                store, q["text"], model, limit=100, mode=mode, dense_weight=weight, candidates=300
            )
            ranked = [mapping.get(h.path, "") for h in result.hits]
            ndcg += ndcg_at(ranked, qrels[q["_id"]])
            recall += recall_at(ranked, qrels[q["_id"]])
        rows.append(
            {
                "collection": name,
                "setting": label,
                "queries": len(queries),
                "ndcg@10": ndcg / len(queries),
                "recall@100": recall / len(queries),
            }
        )
        print(
            f"{name:16} {label:16} nDCG@10 {rows[-1]['ndcg@10']:.3f}  "
            f"recall@100 {rows[-1]['recall@100']:.3f}",
            flush=True,
        )
    store.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("collections", nargs="*", default=list(COLLECTIONS))
    parser.add_argument("--model", help="GGUF file (default: the bundled model)")
    parser.add_argument("--weights", default="0.25,0.5,1", help="dense weights to try")
    parser.add_argument("--max-queries", type=int)
    args = parser.parse_args()
    settings = Settings(model_path=args.model or "")
    model = load_default_or_chosen_model(settings, AppPaths.resolve(CACHE / "home"))
    print(
        f"model {model.model_id} profile {model.profile.name} "
        f"(default dense weight {model.profile.dense_weight})"
    )
    weights = [float(w) for w in args.weights.split(",")]
    for name in args.collections:
        evaluate(name, model, weights, args.max_queries)


if __name__ == "__main__":
    main()

"""Retrieval quality on ../shared/eval: nDCG@10 and recall@100 for keywords alone (BM25),
meaning alone (dense) and hybrid at several fusion settings, through the real pipeline.
The setting search() uses by default for the model's profile is marked with "*".

Each collection is written as files on disk (one .txt per document; the PDF set as it is),
indexed by the same Indexer a user's folder goes through, and queried through ``search``.
Indexes are kept in bench/.cache between runs: an unchanged file costs nothing.

    python bench/retrieval.py                       # every collection, default model
    python bench/retrieval.py medline adi --weights 0,0.25,0.5,1
    python bench/retrieval.py --model path/to/other.gguf
    python bench/retrieval.py medline --embedder all-minilm-l6-v2.gguf   # a dedicated embedder
                                                # measured beside the model, same BM25 run
    python bench/retrieval.py medline --chunk-tokens 128 --late-chunking   # an index of its own
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.cancel import Progress  # noqa: E402
from core.config import AppPaths, Settings  # noqa: E402
from core.index.indexer import Indexer  # noqa: E402
from core.search.fusion import fuse, fuse_guarded, gate_dense_only, query_dense_weight  # noqa: E402
from core.search.query import parse_query  # noqa: E402
from core.search.retrieval import file_filter, lexical_ids, nearest_by_meaning  # noqa: E402
from core.services import load_default_or_chosen_model  # noqa: E402
from core.store.database import Store  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"
CACHE = ROOT / "bench" / ".cache"
#: Collections built from training data only (``bench/embed_head/fusion_set.py``), in the eval
#: sets' layout, for choosing settings that ../shared/eval may only measure.
TRAINING_SETS = CACHE / "sets"
DEPTH = 300
COLLECTIONS = ("adi", "medline", "cranfield", "scifact", "docugami_sec10q")


def load_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    for line in path.read_text().splitlines()[1:]:
        qid, did, score = line.split("\t")
        if int(score) > 0:
            qrels[qid][did] = int(score)
    return qrels


def collection_source(name: str) -> Path:
    """Where collection ``name`` lives: an eval set, or else a training set of that name."""
    return EVAL / name if (EVAL / name).is_dir() else TRAINING_SETS / name


def materialise(name: str) -> tuple[Path, dict[str, str]]:
    """The collection as a folder of files; returns the folder and path → document id."""
    src = collection_source(name)
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


Ranker = Callable[[list[int], list[tuple[int, float]]], list[int]]


def evaluate(name: str, model, weights: list[float], max_queries: int | None,
             label: str = "", index_settings: Settings | None = None,
             extra: Sequence[tuple[str, Ranker]] = ()) -> list[dict]:
    """nDCG@10 and recall@100 of every setting; ``extra`` adds (name, ranker) settings to try
    (a ranker maps the keyword ids and the nearest (id, similarity) pairs to a ranking)."""
    folder, mapping = materialise(name)
    index_settings = index_settings or Settings(use_gitignore=False)
    stem = model.model_id.replace("/", "_").replace(":", "_") + _variant(index_settings)
    db = CACHE / name / f"{stem}.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    store = Store.open(db)
    indexer = Indexer(store, model, index_settings)
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

    qrels = load_qrels(collection_source(name) / "qrels.tsv")
    queries = [json.loads(line) for line in (collection_source(name) / "queries.jsonl").open()]
    queries = [q for q in queries if q["_id"] in qrels][:max_queries]
    doc_of_chunk = {
        int(cid): mapping.get(str(path), "")
        for cid, path in store.rows(
            "SELECT c.id, f.path FROM chunks c JOIN files f ON f.id = c.file_id"
        )
    }
    file_of_chunk = {
        int(cid): int(fid) for cid, fid in store.rows("SELECT id, file_id FROM chunks")
    }
    table = store.chunks.vec_table(model.model_id)
    runs = []  # per query: (qrels, lexical ids, nearest (id, similarity))
    for q in queries:
        parsed = parse_query(_plain(q["text"]))
        files = file_filter(parsed)
        lexical = lexical_ids(store, parsed, files, DEPTH)
        nearest = nearest_by_meaning(store, parsed, model, table, files, DEPTH) if table else []
        runs.append((qrels[q["_id"]], lexical, nearest))

    profile = model.profile
    floor = profile.min_similarity
    settings: list[tuple[str, Ranker]] = [
        ("bm25", lambda lex, near: lex),
        ("dense", lambda lex, near: [c for c, _ in near]),
        *extra,
    ]
    for w in weights:
        settings.append(
            (f"rrf w={w:g} ungated", lambda lex, near, w=w: _fused(lex, [c for c, _ in near], w))
        )
        settings.append(
            (f"rrf w={w:g} gate@10",
             lambda lex, near, w=w: _fused(lex, gate_dense_only(lex, near, floor), w))
        )
        for extra in sorted({3, profile.dense_only}):
            settings.append(
                (f"guarded w={w:g} +{extra}",
                 lambda lex, near, w=w, n=extra: _guarded(lex, near, w, n, floor))
            )
    default = f"guarded w={profile.dense_weight:g} +{profile.dense_only}"
    if profile.weight_by_agreement:
        default += " by agreement"
    if default not in {name for name, _ in settings}:
        settings.append(
            (default, lambda lex, near: _guarded(lex, near,
                                                 query_dense_weight(profile, lex, near,
                                                                    file_of_chunk),
                                                 profile.dense_only, floor))
        )
    rows = []
    for setting, rank in settings:
        label_text = f"{label}{setting}{' *' if setting == default else ''}"
        ndcg = recall = 0.0
        for rel, lexical, nearest in runs:
            ranked = _documents(rank(lexical, nearest), doc_of_chunk)
            ndcg += ndcg_at(ranked, rel)
            recall += recall_at(ranked, rel)
        rows.append(
            {
                "collection": name,
                "setting": label_text,
                "queries": len(runs),
                "ndcg@10": ndcg / len(runs),
                "recall@100": recall / len(runs),
            }
        )
        print(
            f"{name:16} {label_text:32} nDCG@10 {rows[-1]['ndcg@10']:.3f}  "
            f"recall@100 {rows[-1]['recall@100']:.3f}",
            flush=True,
        )
    store.close()
    return rows


def _variant(settings: Settings) -> str:
    """The index file's suffix for settings that change chunks or vectors (none by default,
    so existing indexes are reused)."""
    default = Settings()
    suffix = "" if settings.chunk_tokens == default.chunk_tokens else f"-c{settings.chunk_tokens}"
    return suffix + ("-late" if settings.late_chunking else "")


def _plain(text: str) -> str:
    """Queries are questions, not query syntax: keep only their words."""
    return " ".join(re.findall(r"\w+", text))


def _fused(lexical: list[int], semantic: list[int], weight: float) -> list[int]:
    return [cand.chunk_id for cand, _ in fuse(lexical, semantic, dense_weight=weight)]


def _guarded(lexical: list[int], nearest: list[tuple[int, float]], weight: float, extra: int,
             floor: float) -> list[int]:
    return [cand.chunk_id for cand, _ in fuse_guarded(lexical, nearest, dense_weight=weight,
                                                      dense_only=extra, min_similarity=floor)]


def _documents(chunk_ids: list[int], doc_of_chunk: dict[int, str]) -> list[str]:
    """Chunk ranking to document ranking: each document at its best chunk's place."""
    return list(dict.fromkeys(doc_of_chunk[c] for c in chunk_ids if c in doc_of_chunk))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("collections", nargs="*", default=list(COLLECTIONS))
    parser.add_argument("--model", help="GGUF file (default: the bundled model)")
    parser.add_argument("--weights", default="0.25,0.5,1", help="dense weights to try")
    parser.add_argument("--max-queries", type=int)
    parser.add_argument("--embedder", help="a dedicated embedding GGUF (e.g. all-MiniLM-L6-v2) "
                        "measured beside the model, rows prefixed 'embedder:'")
    parser.add_argument("--chunk-tokens", type=int, default=Settings().chunk_tokens,
                        help="chunk size the index is built with")
    parser.add_argument("--late-chunking", action="store_true",
                        help="index with late chunking (Settings.late_chunking)")
    args = parser.parse_args()
    index_settings = Settings(use_gitignore=False, chunk_tokens=args.chunk_tokens,
                              late_chunking=args.late_chunking)
    settings = Settings(model_path=args.model or "")
    model = load_default_or_chosen_model(settings, AppPaths.resolve(CACHE / "home"))
    embedder = None
    if args.embedder:
        from core.models.llama.unified import UnifiedModel

        embedder = UnifiedModel.load(args.embedder)
    for each in (model, embedder):
        if each is not None:
            print(f"model {each.model_id} profile {each.profile.name} (default: dense weight "
                  f"{each.profile.dense_weight:g}, at most {each.profile.dense_only} "
                  "found by meaning alone)")
    weights = [float(w) for w in args.weights.split(",")]
    rows: list[dict] = []
    for name in args.collections:
        rows += evaluate(name, model, weights, args.max_queries, index_settings=index_settings)
        if embedder is not None:
            rows += evaluate(name, embedder, weights, args.max_queries, label="embedder: ")
    print_table(rows)


def print_table(rows: list[dict]) -> None:
    """One markdown row per collection and setting; the embedder's figures beside the model's."""
    embedder = {(r["collection"], r["setting"].removeprefix("embedder: ").removesuffix(" *")): r
                for r in rows if r["setting"].startswith("embedder: ")}
    print("\n| collection | setting | nDCG@10 | recall@100 |"
          + (" embedder nDCG@10 | embedder recall@100 |" if embedder else ""))
    print("|---|---|---|---|" + ("---|---|" if embedder else ""))
    for row in rows:
        if row["setting"].startswith("embedder: "):
            continue
        line = (f"| {row['collection']} ({row['queries']} q) | {row['setting']} | "
                f"{row['ndcg@10']:.3f} | {row['recall@100']:.3f} |")
        other = embedder.get((row["collection"], row["setting"].removesuffix(" *")))
        if embedder:
            line += (f" {other['ndcg@10']:.3f} | {other['recall@100']:.3f} |" if other
                     else " — | — |")
        print(line)


if __name__ == "__main__":
    main()

"""Search latency: p50/p95 of hybrid search at growing collection sizes, the query embedding
reported apart.

Real text for the first size (a collection from ../shared/eval, keyword-indexed through the
real pipeline), then synthetic chunks (words drawn from that text) to reach 100k and 1M.
Vectors are random unit vectors of the default model's width: KNN cost depends on count and
width, not on what the vectors mean. The query embedding is timed with the real model.

    python bench/latency.py                      # 10k, 100k chunks
    python bench/latency.py --sizes 10000,100000,1000000
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.config import AppPaths, Settings  # noqa: E402
from core.model import ModelProfile, TextModel  # noqa: E402
from core.search import search  # noqa: E402
from core.services import load_default_or_chosen_model  # noqa: E402
from core.store import Store, text_hash  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"
CACHE = ROOT / "bench" / ".cache" / "latency"
DIM = 640  # gemma-3-270m's embedding width


class FixedQueryModel(TextModel):
    """Returns precomputed query vectors so the timing covers search alone."""

    model_id = "latency-bench"
    dim = DIM
    n_ctx = 2048
    profile = ModelProfile("generic", dense_weight=0.25)

    def __init__(self, seed: int = 7) -> None:
        self.rng = np.random.default_rng(seed)

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def embed_documents(self, texts):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    def embed_query(self, text: str) -> np.ndarray:
        v = self.rng.standard_normal(DIM).astype(np.float32)
        return v / np.linalg.norm(v)

    def chat_stream(self, messages, settings=None, cancel=None):  # type: ignore[no-untyped-def]
        raise NotImplementedError


def build(size: int, texts: list[str]) -> Path:
    db = CACHE / f"chunks-{size}.db"
    if db.exists():
        return db
    db.parent.mkdir(parents=True, exist_ok=True)
    store = Store.open(db)
    model = FixedQueryModel()
    table = store.ensure_model(model.model_id, DIM)
    folder = store.add_folder(Path("/bench"))
    vocab = " ".join(texts).split()
    rng = random.Random(1)
    rows_per_file = 10
    conn = store.conn
    with conn:
        for i in range(size):
            if i % rows_per_file == 0:
                conn.execute(
                    "INSERT INTO files(folder_id, path, size, mtime, state, content_hash) "
                    "VALUES (?, ?, 0, ?, 'embedded', 'x')",
                    (folder, f"/bench/f{i // rows_per_file}.txt", 1.7e9 + i),
                )
                file_id = conn.last_insert_rowid()
            text = texts[i] if i < len(texts) else " ".join(rng.choices(vocab, k=120))
            conn.execute(
                'INSERT INTO chunks(file_id, ordinal, page, start, "end", heading, text, '
                "text_hash, token_count) VALUES (?, ?, NULL, 0, ?, '', ?, ?, 120)",
                (file_id, i % rows_per_file, len(text), text, text_hash(text)),
            )
            vector = np.random.default_rng(i).standard_normal(DIM).astype(np.float32)
            conn.execute(
                f"INSERT INTO {table}(chunk_id, embedding) VALUES (?, ?)",
                (conn.last_insert_rowid(), (vector / np.linalg.norm(vector)).tobytes()),
            )
    store.close()
    return db


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--collection", default="scifact")
    args = parser.parse_args()
    corpus = [json.loads(line) for line in (EVAL / args.collection / "corpus.jsonl").open()]
    texts = [f"{d.get('title', '')}\n{d['text']}" for d in corpus]
    with (EVAL / args.collection / "queries.jsonl").open() as f:
        queries = [json.loads(line)["text"] for line in f]
    queries = queries[: args.queries]

    real = load_default_or_chosen_model(Settings(), AppPaths.resolve(CACHE / "home"))
    embed_ms = []
    for q in queries[:30]:
        start = time.perf_counter()
        real.embed_query(q)
        embed_ms.append((time.perf_counter() - start) * 1000)
    print(f"query embedding ({real.model_id}): p50 {percentile(embed_ms, .5):.1f} ms, "
          f"p95 {percentile(embed_ms, .95):.1f} ms")
    real.close()

    model = FixedQueryModel()
    for size in (int(s) for s in args.sizes.split(",")):
        started = time.perf_counter()
        db = build(size, texts)
        built = time.perf_counter() - started
        store = Store.open(db)
        for mode in ("lexical", "semantic", "hybrid"):
            times = []
            for q in queries:
                start = time.perf_counter()
                search(store, q, model, limit=20, mode=mode)
                times.append((time.perf_counter() - start) * 1000)
            print(f"{size:>9} chunks  {mode:8}  p50 {percentile(times, .5):7.1f} ms  "
                  f"p95 {percentile(times, .95):7.1f} ms  mean {statistics.mean(times):7.1f} ms"
                  + (f"   (built in {built:.0f} s)" if mode == "lexical" and built > 1 else ""),
                  flush=True)
        store.close()


if __name__ == "__main__":
    main()

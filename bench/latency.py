"""Search latency: p50/p95 of keyword, meaning and hybrid search at growing collection sizes,
the query embedding reported apart.

Real text for the first size (a collection from ../shared/eval, keyword-indexed through the
real pipeline), then synthetic chunks (words drawn from that text) to reach 100k and 1M.
Vectors are random unit vectors of the default model's width: KNN cost depends on count and
width, not on what the vectors mean (bench/vectors.py measures recall). The query embedding
is timed with the real model.

Each mode prints wall-clock p50/p95 and the p50/p95 of this process's CPU time, which a
machine shared with other work inflates far less. "hybrid exact" forces the float scan
whatever the size: the same-run baseline for the bit shortlist that "hybrid" switches to
past ``core.store.vectors.EXACT_SCAN_LIMIT`` vectors.

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
from core.models.interface import TextModel  # noqa: E402
from core.models.profiles import GENERIC  # noqa: E402
from core.search.retrieval import search  # noqa: E402
from core.services import load_default_or_chosen_model  # noqa: E402
from core.store.chunks import text_hash  # noqa: E402
from core.store.database import Store  # noqa: E402
from core.store.vectors import EXACT_SCAN_LIMIT, bits_table_for  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval"
CACHE = ROOT / "bench" / ".cache" / "latency"
DIM = 640  # gemma-3-270m's embedding width


class FixedQueryModel(TextModel):
    """Returns precomputed query vectors so the timing covers search alone."""

    model_id = "latency-bench"
    dim = DIM
    n_ctx = 2048
    # The bundled model's profile, so hybrid search weighs meaning per query as it ships.
    profile = GENERIC

    def __init__(self, seed: int = 7) -> None:
        self.rng = np.random.default_rng(seed)

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def embed_batch(self, texts, *, query=False):  # type: ignore[no-untyped-def]
        if not query:
            raise NotImplementedError
        v = self.rng.standard_normal((len(texts), DIM)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def chat_stream(self, messages, settings=None, cancel=None):  # type: ignore[no-untyped-def]
        raise NotImplementedError


ALWAYS_EXACT = 10**12
# (label, search mode, exact_scan_limit)
MODES = (
    ("keywords", "lexical", EXACT_SCAN_LIMIT),
    ("meaning", "semantic", EXACT_SCAN_LIMIT),
    ("hybrid", "hybrid", EXACT_SCAN_LIMIT),
    ("hybrid exact", "hybrid", ALWAYS_EXACT),
)


def build(size: int, texts: list[str]) -> Path:
    db = CACHE / f"chunks-{size}.db"
    if db.exists():
        return db
    db.parent.mkdir(parents=True, exist_ok=True)
    store = Store.open(db)
    model = FixedQueryModel()
    table = store.chunks.ensure_model(model.model_id, DIM)
    folder = store.folders.add(Path("/bench"))
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
            row = (conn.last_insert_rowid(), (vector / np.linalg.norm(vector)).tobytes())
            conn.execute(f"INSERT INTO {table}(chunk_id, embedding) VALUES (?, ?)", row)
            conn.execute(
                f"INSERT INTO {bits_table_for(table)}(chunk_id, embedding) "
                "VALUES (?, vec_quantize_binary(vec_f32(?)))",
                row,
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
        started = time.perf_counter()
        store = Store.open(db)  # migrates a database built by an older Kenning
        opened = time.perf_counter() - started
        if opened > 1:
            print(f"{size:>9} chunks  opened in {opened:.0f} s (integrity check, and the "
                  "schema upgrade if the database is older)")
        p95_of: dict[str, float] = {}
        for label, mode, limit in MODES:
            wall: list[float] = []
            cpu: list[float] = []
            for q in queries:
                start, start_cpu = time.perf_counter(), time.process_time()
                search(store, q, model, limit=20, mode=mode, exact_scan_limit=limit)
                wall.append((time.perf_counter() - start) * 1000)
                cpu.append((time.process_time() - start_cpu) * 1000)
            p95_of[label] = percentile(wall, .95)
            print(f"{size:>9} chunks  {label:12}  p50 {percentile(wall, .5):7.1f} ms  "
                  f"p95 {percentile(wall, .95):7.1f} ms  mean {statistics.mean(wall):7.1f} ms"
                  f"   cpu p50 {percentile(cpu, .5):6.1f} p95 {percentile(cpu, .95):6.1f} ms"
                  + (f"   (built in {built:.0f} s)" if label == "keywords" and built > 1 else ""),
                  flush=True)
        print(f"{size:>9} chunks  hybrid p95 ratio exact/shortlist "
              f"{p95_of['hybrid exact'] / p95_of['hybrid']:.2f}")
        store.close()

if __name__ == "__main__":
    main()

"""Vector search at scale: vec0's exact float scan against the bit shortlist re-scored with
float vectors (``core/store/vectors.py``), on synthetic 640-wide unit vectors.

Two kinds of vectors: "random" (independent directions, the hard case for a 1-bit copy: true
neighbours are barely closer than anything else) and "structured" (most of each vector in a
64-dimensional subspace plus noise, as text embeddings spread over far fewer directions than
their width; each query is a perturbed stored vector, as a question is close to the passage
that answers it). For each size and kind it prints p50/p95 of the exact
scan (the baseline, same run) and of the shortlist at two oversampling factors, the ratio,
and recall@10 / recall@100 of the shortlist's top 100 against the exact top 100.

    python bench/vectors.py                          # 10k and 100k
    python bench/vectors.py --sizes 10000,100000,1000000 --queries 30
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.store.database import Store  # noqa: E402
from core.store.vectors import Restriction, bits_table_for, exact_scan, nearest  # noqa: E402

CACHE = ROOT / "bench" / ".cache" / "vectors"
DIM = 640  # gemma-3-270m's embedding width
LATENT = 64
K = 100  # what search() asks the meaning side for
BATCH = 10_000


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def make_vectors(kind: str, start: int, count: int, basis: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(start + (0 if kind == "random" else 10**9))
    noise = rng.standard_normal((count, DIM)).astype(np.float32)
    if kind == "random":
        return unit(noise)
    latent = rng.standard_normal((count, LATENT)).astype(np.float32)
    # Subspace part of norm ~1, noise of norm ~0.5 spread over every dimension.
    return unit(latent @ basis / np.sqrt(LATENT) + noise * (0.5 / np.sqrt(DIM)))


def basis_for() -> np.ndarray:
    return unit(np.random.default_rng(42).standard_normal((LATENT, DIM)))


def build(size: int, kind: str) -> Path:
    db = CACHE / f"{kind}-{size}.db"
    if db.exists():
        return db
    db.parent.mkdir(parents=True, exist_ok=True)
    partial = db.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    store = Store.open(partial)
    table = store.chunks.ensure_model(f"bench-{kind}", DIM)
    bits = bits_table_for(table)
    basis = basis_for()
    for start in range(0, size, BATCH):
        vectors = make_vectors(kind, start, min(BATCH, size - start), basis)
        rows = [(start + i + 1, v.tobytes()) for i, v in enumerate(vectors)]
        with store.conn:
            store.conn.executemany(f"INSERT INTO {table}(chunk_id, embedding) VALUES (?, ?)", rows)
            store.conn.executemany(
                f"INSERT INTO {bits}(chunk_id, embedding) "
                "VALUES (?, vec_quantize_binary(vec_f32(?)))",
                rows,
            )
    store.close()
    for suffix in ("-wal", "-shm"):
        Path(str(partial) + suffix).unlink(missing_ok=True)
    partial.rename(db)
    return db


def queries_for(kind: str, size: int, count: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    if kind == "random":
        return unit(rng.standard_normal((count, DIM)))
    # A stored vector (regenerated from its batch seed) nudged away: cosine ~0.85 to it.
    picks = rng.integers(0, size, count)
    basis = basis_for()
    rows = []
    for pick in picks:
        start = int(pick) // BATCH * BATCH
        rows.append(make_vectors(kind, start, min(BATCH, size - start), basis)[pick - start])
    return unit(np.array(rows) + rng.standard_normal((count, DIM)) * (0.75 / np.sqrt(DIM)))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def exact_top(conn: object, table: str, query: np.ndarray) -> tuple[list[int], float]:
    started = time.perf_counter()
    found = exact_scan(conn, table, query, K, Restriction())
    return [c for c, _ in found], (time.perf_counter() - started) * 1000


def shortlist_top(
    conn: object, table: str, query: np.ndarray, oversample: int
) -> tuple[list[int], float]:
    started = time.perf_counter()
    found = nearest(conn, table, bits_table_for(table), query, K, exact_scan_limit=0,
                    oversample=oversample)
    return [c for c, _ in found], (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--kinds", default="structured,random")
    parser.add_argument("--queries", type=int, default=30)
    parser.add_argument("--oversample", default="4,8")
    args = parser.parse_args()
    factors = [int(f) for f in args.oversample.split(",")]
    print(f"{'size':>9} {'kind':9} {'exact p50/p95':>15} "
          + " ".join(f"{'x' + str(f) + ' p50/p95':>15} {'ratio':>5} {'R@10':>5} {'R@100':>5}"
                     for f in factors))
    for size in (int(s) for s in args.sizes.split(",")):
        for kind in args.kinds.split(","):
            started = time.perf_counter()
            db = build(size, kind)
            built = time.perf_counter() - started
            store = Store.open(db)
            found_table = store.chunks.vec_table(f"bench-{kind}")
            assert found_table is not None
            table: str = found_table
            conn = store.conn
            queries = queries_for(kind, size, args.queries)
            exact_ms: list[float] = []
            truth: list[list[int]] = []
            for q in queries:
                expected, ms = exact_top(conn, table, q)
                exact_ms.append(ms)
                truth.append(expected)
            cells = [f"{size:>9} {kind:9} "
                     f"{percentile(exact_ms, .5):6.1f}/{percentile(exact_ms, .95):6.1f} ms"]
            for factor in factors:
                short_ms: list[float] = []
                hits10 = hits100 = 0
                for q, expected in zip(queries, truth, strict=True):
                    got, ms = shortlist_top(conn, table, q, factor)
                    short_ms.append(ms)
                    hits10 += len(set(got[:10]) & set(expected[:10]))
                    hits100 += len(set(got) & set(expected))
                ratio = percentile(exact_ms, .95) / percentile(short_ms, .95)
                cells.append(
                    f"{percentile(short_ms, .5):6.1f}/{percentile(short_ms, .95):6.1f} ms "
                    f"{ratio:5.1f} {hits10 / (10 * len(queries)):5.3f} "
                    f"{hits100 / (K * len(queries)):5.3f}"
                )
            print(" ".join(cells) + (f"   (built in {built:.0f} s)" if built > 1 else ""),
                  flush=True)
            store.close()


if __name__ == "__main__":
    main()

"""Retrieval figures of an embed head over cached frozen features (``features.py eval``):
BM25 (the product's FTS5 lists, cached), dense alone and hybrid through ``core.search.fusion``, as
``bench/retrieval.py`` computes them (document at its best chunk, nDCG@10, recall@100).
Dense search here is an exact cosine scan over the cached chunk vectors.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.retrieval import DEPTH, _documents, ndcg_at, recall_at  # noqa: E402
from core.models.embed_recipe import normalise_rows  # noqa: E402
from core.models.interface import ModelProfile  # noqa: E402
from core.models.profiles import GENERIC  # noqa: E402
from core.search.fusion import fuse, fuse_guarded, query_dense_weight  # noqa: E402

CACHE = ROOT / "bench" / ".cache" / "embed_head"
LAYERS = (6, 9, 12, 15)

#: A head maps {layer: pooled features} to unit vectors; ``query`` says which side it is.
Head = Callable[[dict[int, np.ndarray], bool], np.ndarray]


@dataclass
class Collection:
    name: str
    docs: dict[int, np.ndarray]
    queries: dict[int, np.ndarray]
    chunk_ids: np.ndarray
    doc_of_chunk: dict[int, str]
    file_of_chunk: dict[int, int]
    lexical: list[list[int]]
    qrels: list[dict[str, int]]
    centre: np.ndarray

    @classmethod
    def load(cls, tag: str) -> Collection:
        data = np.load(CACHE / f"{tag}.npz")
        meta = json.loads(str(data["meta"]))
        ids = data["chunk_ids"]
        return cls(
            name=tag,
            docs={layer: data[f"doc{layer}"] for layer in LAYERS},
            queries={layer: data[f"query{layer}"] for layer in LAYERS},
            chunk_ids=ids,
            doc_of_chunk={int(c): str(d) for c, d in zip(ids, data["chunk_doc"], strict=True)},
            file_of_chunk={int(c): int(f) for c, f in zip(ids, data["chunk_file"], strict=True)},
            lexical=meta["lexical"],
            qrels=[meta["qrels"][q] for q in meta["qids"]],
            centre=data["centre"],
        )


def product_head(centre: np.ndarray, layer: int = 15) -> Head:
    """Today's recipe: block ``layer``'s pooled rows, normalised, centred, normalised."""
    def head(feats: dict[int, np.ndarray], query: bool) -> np.ndarray:
        return normalise_rows(normalise_rows(feats[layer]) - centre)
    return head


def nearest(queries: np.ndarray, docs: np.ndarray, ids: np.ndarray,
            depth: int = DEPTH) -> list[list[tuple[int, float]]]:
    sims = queries @ docs.T
    top = np.argsort(-sims, axis=1)[:, :depth]
    return [[(int(ids[j]), float(sims[i, j])) for j in row] for i, row in enumerate(top)]


def measure(coll: Collection, head: Head, profile: ModelProfile = GENERIC,
            weights: tuple[float, ...] = (0.25, 0.5, 1.0)) -> dict[str, float]:
    """nDCG@10 (and recall@100 as "<setting> r") of each setting."""
    near = nearest(head(coll.queries, True), head(coll.docs, False), coll.chunk_ids)
    settings: dict[str, Callable[[list[int], list[tuple[int, float]]], list[int]]] = {
        "bm25": lambda lex, nr: lex,
        "dense": lambda lex, nr: [c for c, _ in nr],
        "default": lambda lex, nr: [c.chunk_id for c, _ in fuse_guarded(
            lex, nr, dense_weight=query_dense_weight(profile, lex, nr, coll.file_of_chunk),
            dense_only=profile.dense_only, min_similarity=profile.min_similarity)],
    }
    for w in weights:
        settings[f"guarded {w:g}"] = (lambda lex, nr, w=w: [c.chunk_id for c, _ in fuse_guarded(
            lex, nr, dense_weight=w, dense_only=profile.dense_only,
            min_similarity=profile.min_similarity)])
        settings[f"rrf {w:g}"] = (lambda lex, nr, w=w: [c.chunk_id for c, _ in fuse(
            lex, [c for c, _ in nr], dense_weight=w)])
    out = {}
    for name, rank in settings.items():
        ndcg = recall = 0.0
        for rel, lex, nr in zip(coll.qrels, coll.lexical, near, strict=True):
            ranked = _documents(rank(lex, nr), coll.doc_of_chunk)
            ndcg += ndcg_at(ranked, rel)
            recall += recall_at(ranked, rel)
        out[name] = ndcg / len(coll.qrels)
        out[f"{name} r"] = recall / len(coll.qrels)
    return out

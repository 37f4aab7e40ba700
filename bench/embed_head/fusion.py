"""Choose a trained embedder's fusion with the keywords on training data, then measure it.

``choose`` runs every setting of the product's fusion (``core.search.fusion``: meaning's weight,
weighed by agreement or not, how many passages meaning alone may add, and their similarity
floor) over a collection built from training data only (``fusion_set.py``, indexed by
``features.py eval``), and prints nDCG@10 and recall@100 of each against BM25 in the same run.
The setting it names is the best on that collection. ``measure`` applies one setting to eval
collections: they measure it, nothing is chosen on them.

    python bench/embed_head/fusion.py choose squad-heldout manuals --adapter ADAPTER.gguf
    python bench/embed_head/fusion.py measure adi medline cranfield scifact docugami_sec10q \
        --adapter ADAPTER.gguf --weight 1 --agreement off --dense-only 3 --floor 0.3
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.embed_head.measure import Collection, nearest  # noqa: E402
from bench.retrieval import _documents, ndcg_at, recall_at  # noqa: E402
from core.models.embed_head import BUNDLED_HEAD, EmbedHead  # noqa: E402
from core.models.interface import ModelProfile  # noqa: E402
from core.models.profiles import GENERIC  # noqa: E402
from core.search.fusion import fuse, guarded_semantic, query_dense_weight  # noqa: E402

#: A ranking of chunk ids from a query's keyword list and its nearest (chunk id, similarity).
Ranking = Callable[[list[int], list[tuple[int, float]]], list[int]]


@dataclass(frozen=True)
class Setting:
    weight: float
    agreement: bool
    dense_only: int
    floor: float

    def profile(self) -> ModelProfile:
        return replace(GENERIC, dense_weight=self.weight, weight_by_agreement=self.agreement,
                       dense_only=self.dense_only, min_similarity=self.floor)

    def __str__(self) -> str:
        return (f"weight {self.weight:g} agreement {'on' if self.agreement else 'off'} "
                f"dense-only {self.dense_only} floor {self.floor:.2f}")


def adapted_head(adapter: Path) -> EmbedHead:
    """The head trained with ``adapter`` (its ``.npz`` beside it), on the bundled head's block."""
    with np.load(adapter.with_suffix(".npz")) as arrays:
        return EmbedHead(BUNDLED_HEAD, arrays["mean"].astype(np.float32),
                         arrays["weight"].astype(np.float32))


def hybrid(profile: ModelProfile, coll: Collection, lexical: list[int],
           near: list[tuple[int, float]]) -> list[int]:
    """The product's hybrid ranking (``core.search.retrieval.search``'s fusion step)."""
    semantic = guarded_semantic(lexical, near, profile.min_similarity, profile.dense_only)
    weight = query_dense_weight(profile, lexical, near, coll.file_of_chunk)
    return [c.chunk_id for c, _ in fuse(lexical, semantic, dense_weight=weight)]


class Scored:
    """One collection's nearest neighbours under a head, scored per query for any ranking."""

    def __init__(self, coll: Collection, head: EmbedHead) -> None:
        layer = head.spec.layer
        self.coll = coll
        self.near = nearest(head.apply(coll.queries[layer]), head.apply(coll.docs[layer]),
                            coll.chunk_ids)

    def figures(self, rank: Ranking) -> tuple[np.ndarray, np.ndarray]:
        """Per-query nDCG@10 and recall@100 of ``rank(lexical, nearest)``."""
        ndcg, recall = [], []
        for rel, lex, near in zip(self.coll.qrels, self.coll.lexical, self.near, strict=True):
            ranked = _documents(rank(lex, near), self.coll.doc_of_chunk)
            ndcg.append(ndcg_at(ranked, rel))
            recall.append(recall_at(ranked, rel))
        return np.array(ndcg), np.array(recall)

    def setting(self, setting: Setting) -> tuple[np.ndarray, np.ndarray]:
        profile = setting.profile()
        return self.figures(lambda lex, near: hybrid(profile, self.coll, lex, near))

    def top_similarities(self) -> np.ndarray:
        return np.array([near[0][1] for near in self.near if near])


def grid(floors: list[float]) -> list[Setting]:
    # Meaning alone always adds a few passages: a query whose words stand in no file must
    # still find something, which a training set of questions written from their paragraphs
    # (every one has keyword hits) cannot show.
    return [Setting(w, a, n, f) for w, a, n, f in itertools.product(
        (0.25, 0.5, 0.75, 1.0, 1.5, 2.0), (True, False), (3, 10), floors)]


def changes(setting: Setting) -> int:
    """How many of the zero-shot profile's fusion settings this one changes besides weight."""
    return ((setting.agreement != GENERIC.weight_by_agreement)
            + (setting.dense_only != GENERIC.dense_only)
            + (setting.floor != GENERIC.min_similarity))


def choose(tags: list[str], adapter: Path) -> Setting:
    """The setting for ``adapter``'s head over the training collections ``tags``, each weighed
    as its nDCG@10 over BM25's (so a collection where keywords score high counts as much)."""
    head = adapted_head(adapter)
    collections = [Scored(Collection.load(f"{tag}+{adapter.stem}"), head) for tag in tags]
    bm25 = []
    for tag, scored in zip(tags, collections, strict=True):
        keywords, keywords_r = scored.figures(lambda lex, near: lex)
        dense, dense_r = scored.figures(lambda lex, near: [c for c, _ in near])
        bm25.append(keywords.mean())
        print(f"{tag}: {len(keywords)} queries; bm25 {keywords.mean():.4f} "
              f"({keywords_r.mean():.3f}) dense {dense.mean():.4f} ({dense_r.mean():.3f})")
    # the floor for passages only meaning found: none, or how similar a typical best match is
    tops = np.concatenate([scored.top_similarities() for scored in collections])
    floors = [0.0, *np.round(np.quantile(tops, [0.25, 0.5]), 2).tolist()]
    # per setting, each collection's per-query nDCG@10 over that collection's BM25 mean
    ratios: dict[Setting, list[np.ndarray]] = {}
    for setting in grid(floors):
        ratios[setting] = [scored.setting(setting)[0] / keywords
                           for scored, keywords in zip(collections, bm25, strict=True)]
        print(f"  {setting!s:55} " + " ".join(f"x{r.mean():.3f}" for r in ratios[setting])
              + f"  mean x{_mean(ratios[setting]):.4f}", flush=True)
    # The one-standard-error rule: among the settings the best does not beat by more than the
    # standard error of the paired per-query difference, the one leaning least on meaning and
    # changing least else (differences that small are these samples' luck).
    best = max(ratios, key=lambda s: _mean(ratios[s]))
    close = []
    for setting, ratio in ratios.items():
        gaps = [b - r for b, r in zip(ratios[best], ratio, strict=True)]
        error = np.sqrt(sum(g.var(ddof=1) / len(g) for g in gaps)) / len(gaps)
        if _mean(gaps) <= error:
            close.append(setting)
    chosen = min(close, key=lambda s: (s.weight, changes(s), -s.dense_only, s.floor))
    print(f"best: {best} x{_mean(ratios[best]):.4f}; within one standard error: {len(close)}")
    print(f"chosen: {chosen} x{_mean(ratios[chosen]):.4f}")
    return chosen


def _mean(per_collection: list[np.ndarray]) -> float:
    return float(np.mean([values.mean() for values in per_collection]))


def measure(tags: list[str], adapter: Path, setting: Setting) -> None:
    head = adapted_head(adapter)
    ratios = []
    for tag in tags:
        scored = Scored(Collection.load(f"{tag}+{adapter.stem}"), head)
        bm25, _ = scored.figures(lambda lex, near: lex)
        dense, _ = scored.figures(lambda lex, near: [c for c, _ in near])
        default, _ = scored.setting(Setting(GENERIC.dense_weight, GENERIC.weight_by_agreement,
                                            GENERIC.dense_only, GENERIC.min_similarity))
        chosen, recall = scored.setting(setting)
        ratios.append(chosen.mean() / bm25.mean())
        print(f"{tag:18} bm25 {bm25.mean():.3f} dense {dense.mean():.3f} "
              f"today's fusion {default.mean():.3f} chosen {chosen.mean():.3f} "
              f"({recall.mean():.3f}) x{ratios[-1]:.3f}", flush=True)
    print(f"chosen fusion over BM25, averaged: x{np.mean(ratios):.3f}; lowest x{min(ratios):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    ch = sub.add_parser("choose")
    ch.add_argument("tags", nargs="+", help="training collections cached by features.py eval")
    me = sub.add_parser("measure")
    me.add_argument("tags", nargs="+")
    me.add_argument("--weight", type=float, required=True)
    me.add_argument("--agreement", choices=("on", "off"), required=True)
    me.add_argument("--dense-only", type=int, required=True)
    me.add_argument("--floor", type=float, required=True)
    for each in (ch, me):
        each.add_argument("--adapter", type=Path, required=True,
                          help="the LoRA (its head .npz beside it) the features were made with")
    args = parser.parse_args()
    if args.what == "choose":
        choose(args.tags, args.adapter)
    else:
        measure(args.tags, args.adapter,
                Setting(args.weight, args.agreement == "on", args.dense_only, args.floor))


if __name__ == "__main__":
    main()

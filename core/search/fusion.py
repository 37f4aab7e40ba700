"""Weighted reciprocal rank fusion of the keyword and meaning rankings, guarded so a weak
embedder cannot push unrelated passages above good keyword hits.

>>> ranked = fuse_guarded([4, 7, 9], [(9, 0.8), (4, 0.7), (12, 0.6)], dense_weight=0.5)
>>> [candidate.chunk_id for candidate, _ in ranked]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from core.models.interface import ModelProfile

RRF_K = 60
# How many files of each side are compared when a profile weighs meaning by agreement.
AGREEMENT_DEPTH = 10


@dataclass(frozen=True)
class FusedCandidate:
    chunk_id: int
    lexical_rank: int | None = None
    semantic_rank: int | None = None


def query_dense_weight(
    profile: ModelProfile,
    lexical: list[int],
    nearest: list[tuple[int, float]],
    file_of: Mapping[int, int] | None = None,
) -> float:
    """The meaning side's weight in this query's fusion: the profile's, scaled for profiles
    that ask for it by how far the two sides agree (0 when the keywords found nothing: the
    meaning side then answers alone, in its own order).

    Agreement is the share of the first files the keywords point to that are also among the
    first files the meaning side points to, with ``file_of`` mapping chunk ids to files (each
    passage counts as its own file without it). Files, not passages: in long documents the
    two sides often pick different passages of the same right file, which is agreement on
    what the user is after (on near-identical filings, passage agreement turned down a
    meaning side that beat the keywords)."""
    if not profile.weight_by_agreement:
        return profile.dense_weight
    top = _first_files(lexical, file_of)
    if not top:
        return 0.0
    near = set(_first_files([chunk_id for chunk_id, _ in nearest], file_of))
    return profile.dense_weight * sum(f in near for f in top) / len(top)


def _first_files(chunk_ids: list[int], file_of: Mapping[int, int] | None) -> list[int]:
    """The first ``AGREEMENT_DEPTH`` distinct files of a ranking, in order."""
    files: list[int] = []
    for chunk_id in chunk_ids:
        # A chunk missing from the map (deleted meanwhile) stands for itself; negative so it
        # never equals a file id.
        key = chunk_id if file_of is None else file_of.get(chunk_id, -chunk_id)
        if key not in files:
            files.append(key)
            if len(files) == AGREEMENT_DEPTH:
                break
    return files


def gate_dense_only(
    lexical: list[int],
    nearest: list[tuple[int, float]],
    min_similarity: float,
    reference_depth: int = 10,
    max_unreferenced: int = 10,
) -> list[int]:
    """The meaning-based ranking, keeping passages the keywords missed only when they look as
    relevant as the keyword results do.

    Nearest-neighbour search always returns *something*; without this gate a weak embedder
    pushes unrelated files into results. The reference is the weakest similarity among the
    top keyword hits that the meaning side also found. With no such reference (the query's
    words appear nowhere, which is when meaning-based search matters most) a bounded number
    of the nearest passages above the model's floor are kept.
    """
    lexical_set = set(lexical)
    top_lexical = set(lexical[:reference_depth])
    confirmed = [sim for chunk_id, sim in nearest if chunk_id in top_lexical]
    reference = min(confirmed) if confirmed else None
    kept: list[int] = []
    unreferenced = 0
    for chunk_id, similarity in nearest:
        if chunk_id in lexical_set:
            kept.append(chunk_id)
        elif similarity < min_similarity:
            continue
        elif reference is not None:
            if similarity >= reference:
                kept.append(chunk_id)
        elif unreferenced < max_unreferenced:
            kept.append(chunk_id)
            unreferenced += 1
    return kept


def fuse(
    lexical: list[int], semantic: list[int], *, dense_weight: float = 1.0, k: int = RRF_K
) -> list[tuple[FusedCandidate, float]]:
    """Weighted reciprocal rank fusion; ties keep the keyword order."""
    cands: dict[int, FusedCandidate] = {}
    scores: dict[int, float] = {}
    for rank, chunk_id in enumerate(lexical, 1):
        cands[chunk_id] = FusedCandidate(chunk_id, lexical_rank=rank)
        scores[chunk_id] = 1.0 / (k + rank)
    for rank, chunk_id in enumerate(semantic, 1):
        prior = cands.get(chunk_id, FusedCandidate(chunk_id))
        cands[chunk_id] = FusedCandidate(chunk_id, prior.lexical_rank, semantic_rank=rank)
        scores[chunk_id] = scores.get(chunk_id, 0.0) + dense_weight / (k + rank)
    order = sorted(cands, key=lambda c: -scores[c])
    return [(cands[c], scores[c]) for c in order]


def fuse_guarded(
    lexical: list[int],
    nearest: list[tuple[int, float]],
    *,
    dense_weight: float,
    dense_only: int = 3,
    min_similarity: float = 0.0,
    k: int = RRF_K,
) -> list[tuple[FusedCandidate, float]]:
    """Keyword ranking re-ordered by meaning, plus at most ``dense_only`` passages that only
    the meaning side found.

    The meaning side votes with its order among the keyword candidates, so a passage the
    keywords ranked well is never outvoted by unrelated nearest neighbours; the few passages
    found by meaning alone pass ``gate_dense_only`` and keep their own nearest-neighbour rank.
    """
    semantic = guarded_semantic(lexical, nearest, min_similarity, dense_only)
    return fuse(lexical, semantic, dense_weight=dense_weight, k=k)


def guarded_semantic(
    lexical: list[int], nearest: list[tuple[int, float]], min_similarity: float, dense_only: int
) -> list[int]:
    """The meaning side's ranking for ``fuse_guarded``: the keyword candidates in meaning
    order, with at most ``dense_only`` gated passages of its own at their nearest ranks."""
    found = set(lexical)
    extras = [c for c in gate_dense_only(lexical, nearest, min_similarity) if c not in found]
    allowed = found | set(extras[: max(0, dense_only)])
    return [chunk_id for chunk_id, _ in nearest if chunk_id in allowed]

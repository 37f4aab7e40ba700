"""Hybrid retrieval: FTS5 BM25 and sqlite-vec KNN, fused with weighted reciprocal rank fusion
(``core/search/fusion.py``: meaning re-orders the keyword hits and adds a bounded few of its own).

The query syntax (phrases, exclusions, folder, type and date filters) applies to both sides.
The meaning-based side uses only vectors of the active model and is weighted by the model
profile (``query_dense_weight``): a trained embed mode's own fusion, chosen on training data
(``HeadSpec.fusion``), or else the profile's, so hybrid never ranks worse than keywords alone.

>>> result = search(store, '"notice period" lease ext:pdf', model, limit=10)
>>> [(h.path, h.page) for h in result.hits]
"""

from __future__ import annotations

from dataclasses import dataclass, field

import apsw

from core.models.interface import Embedder
from core.search.fusion import FusedCandidate, fuse, guarded_semantic, query_dense_weight
from core.search.query import ParsedQuery, fts_quote, parse_query
from core.search.snippets import Snippeter
from core.store.database import Store
from core.store.search import FileFilter
from core.store.vectors import EXACT_SCAN_LIMIT
from core.types import Hit

CANDIDATES = 100
#: When the keyword side's words occur in more than ``POSTINGS_BUDGET`` chunks together,
#: those in more than ``COMMON_SHARE`` of all chunks are left out (``informative_words``).
POSTINGS_BUDGET = 20_000
#: Past that budget, the rarest remaining words are scored until their postings reach this
#: share of all chunks (long questions of middling words were the slow tail at 100k chunks).
SCORED_SHARE = 0.5
COMMON_SHARE = 0.5
KEEP_WHEN_ALL_COMMON = 3


@dataclass
class SearchResult:
    query: ParsedQuery
    hits: list[Hit]
    semantic_used: bool
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "query": self.query.raw,
            "hits": [h.to_json() for h in self.hits],
            "semantic": self.semantic_used,
            "warnings": self.warnings,
        }


def search(
    store: Store,
    query: str | ParsedQuery,
    model: Embedder | None = None,
    *,
    limit: int = 20,
    per_file: int = 1,
    mode: str = "hybrid",
    dense_weight: float | None = None,
    candidates: int = CANDIDATES,
    exact_scan_limit: int = EXACT_SCAN_LIMIT,
) -> SearchResult:
    """Rank chunks for ``query``. ``mode`` is "hybrid", "lexical" or "semantic" (the nearest
    passages by meaning, ungated); without a model (or without vectors yet) the keyword side
    answers alone. Past ``exact_scan_limit`` vectors the meaning side searches a shortlist
    (``core/store/vectors.py``)."""
    parsed = parse_query(query) if isinstance(query, str) else query
    warnings = list(parsed.warnings)
    files = file_filter(parsed)

    lexical: list[int] = []
    if mode in ("hybrid", "lexical"):
        lexical = lexical_ids(store, parsed, files, candidates)
    semantic: list[int] = []
    closest: list[tuple[int, float]] = []
    table = store.chunks.vec_table(model.model_id) if model is not None else None
    if mode in ("hybrid", "semantic") and model is not None and parsed.has_text:
        if table is None:
            warnings.append("Meaning-based search starts once the first files are embedded.")
        else:
            closest = nearest_by_meaning(
                store, parsed, model, table, files, candidates,
                exact_scan_limit=exact_scan_limit,
            )
            if mode == "semantic":
                semantic = [chunk_id for chunk_id, _ in closest]
            else:
                semantic = guarded_semantic(lexical, closest, model.profile.min_similarity,
                                            model.profile.dense_only)
    if not parsed.has_text and parsed.has_filters:
        lexical = store.search.opening_chunks(files, candidates)

    if dense_weight is not None:
        weight = dense_weight
    elif model is not None and mode == "hybrid" and semantic:
        file_of = (store.chunks.files_of(lexical + [chunk_id for chunk_id, _ in closest])
                   if model.profile.weight_by_agreement else None)
        weight = query_dense_weight(model.profile, lexical, closest, file_of)
    else:
        weight = model.profile.dense_weight if model is not None else 1.0
    ranked = fuse(lexical, semantic, dense_weight=weight)
    hits = _collect_hits(store, parsed, ranked, limit, per_file)
    return SearchResult(parsed, hits, bool(semantic), warnings)


def file_filter(parsed: ParsedQuery) -> FileFilter:
    """The files the query's folder, type and date filters let through."""
    return FileFilter(tuple(parsed.dirs), tuple(parsed.exts), parsed.after, parsed.before)


def lexical_ids(
    store: Store,
    parsed: ParsedQuery,
    files: FileFilter,
    limit: int,
    *,
    common_share: float = COMMON_SHARE,
) -> list[int]:
    """Chunk ids by BM25 (body, and heading at 0.3 weight), best first.

    In a large collection, words found in more than ``common_share`` of all chunks are
    left out of the OR (``informative_words``): each such word adds most of the collection to
    what BM25 must score and sort, while its own weight (inverse document frequency) is near
    zero.
    """
    words = parsed.keywords()
    if len(words) > 1:
        words = informative_words(store, words, common_share)
    match = parsed.fts_match(words)
    if match is None:
        return []
    return store.search.keyword_ranked(match, limit, files)


def informative_words(store: Store, words: list[str], common_share: float) -> list[str]:
    """``words`` less those in more than ``common_share`` of the chunks, when together they
    occur in more than ``POSTINGS_BUDGET`` chunks (by the full-text vocabulary's document
    counts, the words tokenised as the index tokenises them), and then only the rarest words
    whose postings fit in ``SCORED_SHARE`` of the chunks. A small collection keeps every
    word: there BM25 is fast anyway and a common word still helps fill the candidates. When
    every word is that common, the ``KEEP_WHEN_ALL_COMMON`` rarest stay."""
    tokenize = store.search.tokenizer()
    tokens = {
        w: tokenize(w.encode(), apsw.FTS5_TOKENIZE_QUERY, None, include_offsets=False,
                    include_colocated=False)
        for w in words
    }
    counts = store.search.document_counts(sorted({t for ts in tokens.values() for t in ts}))
    if counts is None:
        return words  # a database from before the vocabulary table: no pruning
    frequency = {w: max((counts.get(t, 0) for t in ts), default=0) for w, ts in tokens.items()}
    if sum(frequency[w] for w in set(words)) <= POSTINGS_BUDGET:
        return words
    total = store.chunks.count()
    kept = [w for w in words if frequency[w] <= common_share * total]
    if not kept:
        rarest = sorted(dict.fromkeys(words), key=lambda w: frequency[w])[:KEEP_WHEN_ALL_COMMON]
        return [w for w in words if w in rarest]
    # A long query of middling words still scores most of the collection: the rarest words,
    # which carry most of BM25's weight, until their postings reach SCORED_SHARE of it.
    budget = SCORED_SHARE * total
    chosen: set[str] = set()
    spent = 0
    for word in sorted(dict.fromkeys(kept), key=lambda w: frequency[w]):  # ties: query order
        if len(chosen) >= KEEP_WHEN_ALL_COMMON and spent + frequency[word] > budget:
            break
        chosen.add(word)
        spent += frequency[word]
    return [w for w in kept if w in chosen]


def nearest_by_meaning(
    store: Store,
    parsed: ParsedQuery,
    model: Embedder,
    table: str,
    files: FileFilter,
    limit: int,
    *,
    exact_scan_limit: int = EXACT_SCAN_LIMIT,
) -> list[tuple[int, float]]:
    """The ``limit`` chunks closest in meaning that pass the query's filters, phrases and
    exclusions, as (chunk id, cosine similarity); see ``core/store/vectors.py`` for how."""
    vector = model.embed_query(parsed.semantic_text)
    return store.search.nearest(
        table,
        vector,
        limit,
        files,
        phrases=[fts_quote(phrase) for phrase in parsed.phrases],
        excluded=parsed.excluded_match() if parsed.excluded else None,
        exact_scan_limit=exact_scan_limit,
    )


def _collect_hits(
    store: Store,
    parsed: ParsedQuery,
    ranked: list[tuple[FusedCandidate, float]],
    limit: int,
    per_file: int,
) -> list[Hit]:
    snippeter = Snippeter(store, [*parsed.phrases, *parsed.keywords()])
    per_file_count: dict[int, int] = {}
    hits: list[Hit] = []
    for cand, score in ranked:
        if len(hits) >= limit:
            break
        row = store.search.hit_row(cand.chunk_id)
        if row is None:
            continue  # deleted between ranking and fetching
        if per_file and per_file_count.get(row.file_id, 0) >= per_file:
            continue
        per_file_count[row.file_id] = per_file_count.get(row.file_id, 0) + 1
        snippet = snippeter.make(row.text, row.start)
        hits.append(
            Hit(
                chunk_id=cand.chunk_id,
                file_id=row.file_id,
                path=row.path,
                page=row.page,
                start=row.start,
                end=row.end,
                text=row.text,
                heading=row.heading,
                snippet=snippet.text,
                snippet_matches=snippet.matches,
                snippet_start=snippet.start,
                score=score,
                lexical_rank=cand.lexical_rank,
                semantic_rank=cand.semantic_rank,
                mtime=row.mtime,
                location=row.location,
                sheet_rows=row.sheet_rows,
            )
        )
    return hits

"""Hybrid retrieval: FTS5 BM25 and sqlite-vec KNN, fused with weighted reciprocal rank fusion
(``core/search/fusion.py``: meaning re-orders the keyword hits and adds a bounded few of its own).

The query syntax (phrases, exclusions, folder, type and date filters) applies to both sides.
The meaning-based side uses only vectors of the active model and is weighted by the model
profile (``query_dense_weight``), calibrated on ../shared/eval so hybrid never ranks worse
than keywords alone there.

>>> result = search(store, '"notice period" lease ext:pdf', model, limit=10)
>>> [(h.path, h.page) for h in result.hits]
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

import apsw

from core.models.interface import TextModel
from core.search.fusion import FusedCandidate, fuse, guarded_semantic, query_dense_weight
from core.search.query import ParsedQuery, fts_quote, parse_query
from core.search.snippets import Snippeter
from core.store.chunks import FTS_TOKENIZER, prefix_range
from core.store.database import Store
from core.store.vectors import EXACT_SCAN_LIMIT, Restriction, bits_table_for, nearest
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
    model: TextModel | None = None,
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
    where, args = filter_sql(parsed)

    lexical: list[int] = []
    if mode in ("hybrid", "lexical"):
        lexical = lexical_ids(store, parsed, where, args, candidates)
    semantic: list[int] = []
    closest: list[tuple[int, float]] = []
    table = store.vec_table(model.model_id) if model is not None else None
    if mode in ("hybrid", "semantic") and model is not None and parsed.has_text:
        if table is None:
            warnings.append("Meaning-based search starts once the first files are embedded.")
        else:
            closest = nearest_by_meaning(
                store, parsed, model, table, where, args, candidates,
                exact_scan_limit=exact_scan_limit,
            )
            if mode == "semantic":
                semantic = [chunk_id for chunk_id, _ in closest]
            else:
                semantic = guarded_semantic(lexical, closest, model.profile.min_similarity,
                                            model.profile.dense_only)
    if not parsed.has_text and parsed.has_filters:
        lexical = _filtered_only_ids(store, where, args, candidates)

    if dense_weight is not None:
        weight = dense_weight
    elif model is not None and mode == "hybrid" and semantic:
        file_of = (store.files_of_chunks(lexical + [chunk_id for chunk_id, _ in closest])
                   if model.profile.weight_by_agreement else None)
        weight = query_dense_weight(model.profile, lexical, closest, file_of)
    else:
        weight = model.profile.dense_weight if model is not None else 1.0
    ranked = fuse(lexical, semantic, dense_weight=weight)
    hits = _collect_hits(store, parsed, ranked, limit, per_file)
    return SearchResult(parsed, hits, bool(semantic), warnings)


def filter_sql(parsed: ParsedQuery) -> tuple[str, list[object]]:
    """SQL conditions over ``f`` (files) for the folder, type and date filters."""
    clauses: list[str] = []
    args: list[object] = []
    if parsed.dirs:
        scopes = [folder_scope_sql(d) for d in parsed.dirs]
        clauses.append("(" + " OR ".join(sql for sql, _ in scopes) + ")")
        for _, scope_args in scopes:
            args.extend(scope_args)
    if parsed.exts:
        clauses.append("(" + " OR ".join("f.path LIKE ? ESCAPE '\\'" for _ in parsed.exts) + ")")
        args.extend("%." + _like_escape(e) for e in parsed.exts)
    if parsed.after is not None:
        clauses.append("f.mtime >= ?")
        args.append(parsed.after)
    if parsed.before is not None:
        clauses.append("f.mtime < ?")
        args.append(parsed.before)
    return (" AND ".join(clauses) or "1"), args


#: Whether file names on this system ignore case (Windows, and macOS as it ships); a folder
#: scope follows the file system, so ``Taxes`` and ``TAXES`` are one folder only there.
PATHS_IGNORE_CASE = sys.platform in ("win32", "darwin")


def folder_scope_sql(
    folder: str, ignore_case: bool = PATHS_IGNORE_CASE
) -> tuple[str, list[object]]:
    """SQL over ``f.path`` for the files in ``folder`` and below it, by whole path components:
    ``/T/Taxes/2025`` never takes in ``/T/Taxes/2025-old``. An absolute folder is that folder;
    a bare name (``dir:contracts``) is any folder of that name."""
    column = "lower(f.path)" if ignore_case else "f.path"
    if ignore_case:
        folder = folder.lower()
    if folder.startswith(("/", "\\")) or (len(folder) > 2 and folder[1] == ":"):
        low, high = prefix_range(folder.rstrip("/\\") or folder)
        return f"({column} >= ? AND {column} < ?)", [low, high]
    name = folder.strip("/\\").replace("/", os.sep)
    # GLOB, unlike LIKE, tells capitals apart.
    return f"{column} GLOB ?", [f"*{os.sep}{_glob_escape(name)}{os.sep}*"]


def _glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def lexical_ids(
    store: Store,
    parsed: ParsedQuery,
    where: str,
    args: list[object],
    limit: int,
    *,
    common_share: float = COMMON_SHARE,
) -> list[int]:
    """Chunk ids by BM25 (body, and heading at 0.3 weight), best first.

    In a large collection, words found in more than ``common_share`` of all chunks are
    left out of the OR (``informative_words``): each such word adds most of the collection to
    what BM25 must score and sort, while its own weight (inverse document frequency) is near
    zero. Without filters the full-text table answers alone, so no join runs for the
    thousands of rows that miss the limit.
    """
    words = parsed.keywords()
    if len(words) > 1:
        words = informative_words(store, words, common_share)
    match = parsed.fts_match(words)
    if match is None:
        return []
    if where == "1":
        sql = (
            "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ? "
            "ORDER BY bm25(chunks_fts, 1.0, 0.3) LIMIT ?"
        )
        return [int(r[0]) for r in store.conn.execute(sql, (match, limit))]
    rows = store.conn.execute(
        "SELECT c.id FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid "
        "JOIN files f ON f.id = c.file_id "
        f"WHERE chunks_fts MATCH ? AND {where} ORDER BY bm25(chunks_fts, 1.0, 0.3) LIMIT ?",
        (match, *args, limit),
    )
    return [int(r[0]) for r in rows]


def informative_words(store: Store, words: list[str], common_share: float) -> list[str]:
    """``words`` less those in more than ``common_share`` of the chunks, when together they
    occur in more than ``POSTINGS_BUDGET`` chunks (by the full-text vocabulary's document
    counts, the words tokenised as the index tokenises them), and then only the rarest words
    whose postings fit in ``SCORED_SHARE`` of the chunks. A small collection keeps every
    word: there BM25 is fast anyway and a common word still helps fill the candidates. When
    every word is that common, the ``KEEP_WHEN_ALL_COMMON`` rarest stay."""
    try:
        tokenize = store.conn.fts5_tokenizer(*FTS_TOKENIZER)
        tokens = {
            w: tokenize(w.encode(), apsw.FTS5_TOKENIZE_QUERY, None, include_offsets=False,
                        include_colocated=False)
            for w in words
        }
        wanted = sorted({t for ts in tokens.values() for t in ts})
        counts = dict(
            store.conn.execute(
                "SELECT term, doc FROM chunks_fts_terms WHERE term IN "
                f"({', '.join('?' * len(wanted))})",
                wanted,
            ).fetchall()
        ) if wanted else {}
    except apsw.SQLError:
        return words  # a database from before the vocabulary table: no pruning
    frequency = {w: max((counts.get(t, 0) for t in ts), default=0) for w, ts in tokens.items()}
    if sum(frequency[w] for w in set(words)) <= POSTINGS_BUDGET:
        return words
    total = store.count("SELECT count(*) FROM chunks")
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
    model: TextModel,
    table: str,
    where: str,
    args: list[object],
    limit: int,
    *,
    exact_scan_limit: int = EXACT_SCAN_LIMIT,
) -> list[tuple[int, float]]:
    """The ``limit`` chunks closest in meaning that pass the query's filters, phrases and
    exclusions, as (chunk id, cosine similarity); see ``core/store/vectors.py`` for how."""
    vector = model.embed_query(parsed.semantic_text)
    included: list[str] = []
    include_args: list[object] = []
    if parsed.has_filters:
        included.append(f"SELECT c.id FROM chunks c JOIN files f ON f.id = c.file_id WHERE {where}")
        include_args.extend(args)
    for phrase in parsed.phrases:
        included.append("SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ?")
        include_args.append(fts_quote(phrase))
    excluded = "SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH ?"
    restriction = Restriction(
        include=" INTERSECT ".join(included) if included else None,
        include_args=include_args,
        exclude=excluded if parsed.excluded else None,
        exclude_args=[parsed.excluded_match()] if parsed.excluded else [],
    )
    return nearest(
        store.conn,
        table,
        bits_table_for(table),
        vector,
        limit,
        restriction,
        exact_scan_limit=exact_scan_limit,
    )


def _filtered_only_ids(store: Store, where: str, args: list[object], limit: int) -> list[int]:
    """Filters without words: the opening chunk of each matching file, newest first."""
    rows = store.conn.execute(
        "SELECT c.id FROM chunks c JOIN files f ON f.id = c.file_id "
        f"WHERE c.ordinal = 0 AND {where} ORDER BY f.mtime DESC LIMIT ?",
        (*args, limit),
    )
    return [int(r[0]) for r in rows]


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
        row = store.conn.execute(
            'SELECT c.file_id, f.path, c.page, c.start, c."end", c.text, c.heading, f.mtime, '
            "c.location FROM chunks c JOIN files f ON f.id = c.file_id WHERE c.id = ?",
            (cand.chunk_id,),
        ).fetchall()
        if not row:
            continue  # deleted between ranking and fetching
        file_id, path, page, start, end, text, heading, mtime, location = row[0]
        if per_file and per_file_count.get(file_id, 0) >= per_file:
            continue
        per_file_count[file_id] = per_file_count.get(file_id, 0) + 1
        snippet = snippeter.make(text, start)
        hits.append(
            Hit(
                chunk_id=cand.chunk_id,
                file_id=int(file_id),
                path=str(path),
                page=page,
                start=int(start),
                end=int(end),
                text=str(text),
                heading=str(heading),
                snippet=snippet.text,
                snippet_matches=snippet.matches,
                snippet_start=snippet.start,
                score=score,
                lexical_rank=cand.lexical_rank,
                semantic_rank=cand.semantic_rank,
                mtime=float(mtime),
                location=location,
            )
        )
    return hits

"""Nearest chunks by meaning at any collection size.

Each model has two sqlite-vec tables kept in step by ``core/store/chunks.py``: its float
vectors (``vec_…``, exact) and a one-bit-per-dimension copy (``vbit_…``, 32 times smaller).
Up to ``EXACT_SCAN_LIMIT`` vectors vec0's exact float scan answers on its own. Past it, the
bit copy picks a shortlist of ``k * oversample_for(count)`` chunks by Hamming distance and the float
vectors re-score that shortlist exactly, so the similarities returned are always exact
cosines; only a chunk missing from the shortlist can be lost. ``bench/vectors.py`` measured
both limits (recall and latency at 10k, 100k and 1M vectors; see docs/benchmarks.md).

The shortlist scan is numpy over the bit table's own storage, read a thousand vectors per
row: vec0's KNN selects its top k with a cost that grows with k times the table size, which
a shortlist of hundreds makes slower than the float scan it replaces. If a sqlite-vec
version stores bit tables differently, ``hamming_scan`` says so (None) and the exact scan
answers instead: slower, never wrong.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import apsw
import numpy as np

#: Past this many vectors the bit shortlist answers. The float scan costs about 0.9 ms per
#: thousand 640-wide vectors, the shortlist ~2 ms plus 0.08 ms per thousand (bench/vectors.py);
#: below this the exact answer costs under ~20 ms, so small collections keep it.
EXACT_SCAN_LIMIT = 20_000
#: Shortlist size as a multiple of k up to ``OVERSAMPLE_SIZE`` vectors: with 8 the top 10
#: matched the exact scan's on 100k vectors with structure, 4 lost 2% of it. Beyond, the
#: shortlist grows with the square root of the collection: at 1M a fixed ×8 kept 0.90 of the
#: top 10, ×25 keeps 0.97 for about 45 ms more (bench/vectors.py, docs/benchmarks.md).
OVERSAMPLE = 8
OVERSAMPLE_SIZE = 100_000


def oversample_for(count: int) -> int:
    """The shortlist's multiple of k for a collection of ``count`` vectors."""
    return math.ceil(OVERSAMPLE * math.sqrt(max(1.0, count / OVERSAMPLE_SIZE)))


def bits_table_for(vec_table: str) -> str:
    """The bit companion's name for a float vector table (``vec_<hash>`` → ``vbit_<hash>``)."""
    return "vbit_" + vec_table.removeprefix("vec_")


def create_bits_table_sql(bits_table: str, dim: int) -> str:
    return (
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {bits_table} USING vec0("
        f"chunk_id INTEGER PRIMARY KEY, embedding bit[{dim}])"
    )


@dataclass(frozen=True)
class Restriction:
    """Which chunks may be returned: those ``include`` selects (every chunk when None),
    minus those ``exclude`` selects. Both are SQL returning chunk ids."""

    include: str | None = None
    include_args: list[object] = field(default_factory=list)
    exclude: str | None = None
    exclude_args: list[object] = field(default_factory=list)


def nearest(
    conn: Any,
    vec_table: str,
    bits_table: str | None,
    query: np.ndarray,
    k: int,
    restriction: Restriction = Restriction(),
    *,
    exact_scan_limit: int = EXACT_SCAN_LIMIT,
    oversample: int | None = None,
) -> list[tuple[int, float]]:
    """The ``k`` chunks closest to ``query`` as (chunk id, cosine similarity), closest first.
    ``oversample`` fixes the shortlist's multiple of k (default: ``oversample_for``)."""
    query = np.ascontiguousarray(query, dtype=np.float32)
    # One read transaction: the storage read below must not change between its statements.
    with conn:
        return _nearest(conn, vec_table, bits_table, query, k, restriction, exact_scan_limit,
                        oversample)


def _nearest(
    conn: Any,
    vec_table: str,
    bits_table: str | None,
    query: np.ndarray,
    k: int,
    restriction: Restriction,
    exact_scan_limit: int,
    oversample: int | None,
) -> list[tuple[int, float]]:
    count = live_count(conn, bits_table) if bits_table is not None else None
    if bits_table is None or count is None or count <= exact_scan_limit:
        return exact_scan(conn, vec_table, query, k, restriction)
    query_bits = conn.execute("SELECT vec_quantize_binary(?)", (query.tobytes(),)).fetchall()
    scanned = hamming_scan(conn, bits_table, query_bits[0][0], count)
    if scanned is None:
        return exact_scan(conn, vec_table, query, k, restriction)
    ids, distance = scanned
    allowed = np.ones(len(ids), dtype=bool)
    if restriction.include is not None:
        allowed &= np.isin(ids, _id_array(conn, restriction.include, restriction.include_args))
    if restriction.exclude is not None:
        allowed &= ~np.isin(ids, _id_array(conn, restriction.exclude, restriction.exclude_args))
    if not allowed.all():
        ids, distance = ids[allowed], distance[allowed]
    shortlist = k * (oversample or oversample_for(count))
    return rescore(conn, vec_table, query, ids[closest(distance, shortlist)], k)


def closest(distance: np.ndarray, size: int) -> np.ndarray:
    """Indices of the ``size`` smallest Hamming distances (ties at the cut-off taken in
    storage order), in no particular order.

    Distances are small integers, so a histogram finds the cut-off in one pass; a full
    partition of a million values costs several times more.
    """
    if len(distance) <= size:
        return np.arange(len(distance))
    counts = np.cumsum(np.bincount(distance))
    cutoff = int(np.searchsorted(counts, size))  # first distance reaching ``size`` rows
    below = np.flatnonzero(distance < cutoff)
    ties = np.flatnonzero(distance == cutoff)[: size - len(below)]
    return np.concatenate([below, ties])


def exact_scan(
    conn: Any, vec_table: str, query: np.ndarray, k: int, restriction: Restriction
) -> list[tuple[int, float]]:
    """vec0's exact float scan (every vector compared)."""
    sql = f"SELECT chunk_id, distance FROM {vec_table} WHERE embedding MATCH ? AND k = ?"
    args: list[object] = [query.tobytes(), k]
    if restriction.include is not None:
        sql += f" AND chunk_id IN ({restriction.include})"
        args += restriction.include_args
    if restriction.exclude is not None:
        sql += f" AND chunk_id NOT IN ({restriction.exclude})"
        args += restriction.exclude_args
    sql += " ORDER BY distance"
    # vec0 reports cosine distance; similarity = 1 - distance.
    return [(int(r[0]), 1.0 - float(r[1])) for r in conn.execute(sql, args)]


def rescore(
    conn: Any, vec_table: str, query: np.ndarray, ids: np.ndarray, k: int
) -> list[tuple[int, float]]:
    """Exact cosine similarity of ``query`` to each chunk in ``ids``; the ``k`` best,
    closest first. Ids without a vector are skipped."""
    found, matrix = read_floats(conn, vec_table, ids, query.shape[0])
    if not found:
        return []
    # einsum rather than ``matrix @ query``: BLAS threads cost ~10 ms on a busy machine,
    # where the sums themselves take a quarter of a millisecond.
    norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix)) * float(np.sqrt(query @ query))
    similarity = np.einsum("ij,j->i", matrix, query) / np.where(norms == 0, 1.0, norms)
    order = np.argsort(-similarity, kind="stable")[:k]
    return [(found[i], float(similarity[i])) for i in order]


def read_floats(
    conn: Any, vec_table: str, ids: np.ndarray, dim: int
) -> tuple[list[int], np.ndarray]:
    """The float vectors of ``ids`` that exist, as (their ids, one row each).

    Read from vec0's storage in (chunk, slot) order, one blob handle per chunk of a thousand
    vectors: a primary-key lookup through vec0 re-walks the chunk's pages for every vector,
    about twice the cost. Falls back to those lookups if the storage is laid out otherwise.
    """
    row_bytes = dim * 4
    try:
        slots = conn.execute(
            f"SELECT rowid, chunk_id, chunk_offset FROM {vec_table}_rowids "
            "WHERE rowid IN (SELECT value FROM json_each(?)) ORDER BY chunk_id, chunk_offset",
            (json.dumps(ids.tolist()),),
        ).fetchall()
        matrix = np.empty((len(slots), dim), dtype=np.float32)
        blobs: dict[int, Any] = {}
        try:
            for row, (_, chunk, offset) in enumerate(slots):
                if chunk not in blobs:
                    blobs[chunk] = conn.blob_open(
                        "main", f"{vec_table}_vector_chunks00", "vectors", chunk, False
                    )
                blobs[chunk].seek(offset * row_bytes)
                blobs[chunk].read_into(matrix[row])  # ValueError past the blob's end
        finally:
            for blob in blobs.values():
                blob.close()
        return [int(s[0]) for s in slots], matrix
    except (apsw.SQLError, ValueError):
        pass  # not the layout known here
    found: list[int] = []
    vectors: list[bytes] = []
    for chunk_id in ids.tolist():
        rows = conn.execute(
            f"SELECT embedding FROM {vec_table} WHERE chunk_id = ?", (chunk_id,)
        ).fetchall()
        if rows:
            found.append(chunk_id)
            vectors.append(rows[0][0])
    return found, np.frombuffer(b"".join(vectors), dtype=np.float32).reshape(len(found), dim)


def live_count(conn: Any, bits_table: str) -> int | None:
    """How many vectors a vec0 bit table holds, from its chunks' validity bitmaps (a count
    through vec0 itself reads every row). None when the storage is not laid out that way."""
    try:
        bitmaps = conn.execute(f"SELECT validity FROM {bits_table}_chunks").fetchall()
    except apsw.SQLError:  # no such table or column: not the layout known here
        return None
    packed = np.frombuffer(b"".join(row[0] for row in bitmaps), dtype=np.uint8)
    return int(_popcount(packed).sum())


def hamming_scan(
    conn: Any, bits_table: str, query_bits: bytes, count: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """(chunk ids, Hamming distances to ``query_bits``) of every vector in a vec0 bit table,
    read from its chunk storage: ``<table>_chunks`` holds each chunk's validity bitmap and
    row ids, ``<table>_vector_chunks00`` its packed vectors, slot by slot.

    One chunk (about a thousand vectors) at a time, so the working memory stays cache-sized
    however large the table (joining chunks first measured several times slower). None when
    the storage is not laid out that way."""
    width = len(query_bits)
    word = np.uint64 if width % 8 == 0 else np.uint8  # eight bytes at a time when possible
    query_words = np.frombuffer(query_bits, dtype=word)
    ids = np.empty(count, dtype=np.int64)
    distance = np.empty(count, dtype=np.int32)
    filled = 0
    try:
        rows = conn.execute(
            f"SELECT c.validity, c.rowids, v.vectors FROM {bits_table}_chunks c "
            f"JOIN {bits_table}_vector_chunks00 v ON v.rowid = c.chunk_id"
        )
        for validity, rowids, vectors in rows:
            slots = len(rowids) // 8
            if len(validity) * 8 != slots or len(vectors) != slots * width:
                return None
            bitmap = np.frombuffer(validity, dtype=np.uint8)
            bits = np.frombuffer(vectors, dtype=word).reshape(slots, -1)
            chunk_ids = np.frombuffer(rowids, dtype=np.int64)
            if not (bitmap == 0xFF).all():  # a chunk with free slots: keep the live ones
                live = np.flatnonzero(np.unpackbits(bitmap, bitorder="little"))
                bits, chunk_ids = bits[live], chunk_ids[live]
            end = filled + len(chunk_ids)
            if end > count:
                return None  # changed under us; the caller's transaction prevents it
            ids[filled:end] = chunk_ids
            distance[filled:end] = _popcount(np.bitwise_xor(bits, query_words)).sum(
                axis=1, dtype=np.int32
            )
            filled = end
    except apsw.SQLError:
        return None
    return ids[:filled], distance[:filled]


def _popcount(values: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        return np.bitwise_count(values)
    as_bytes = values.view(np.uint8).reshape(*values.shape[:-1], -1)
    return _BYTE_POPCOUNT[as_bytes]


_BYTE_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _id_array(conn: Any, sql: str, args: list[object]) -> np.ndarray:
    return np.fromiter((int(r[0]) for r in conn.execute(sql, args)), dtype=np.int64)

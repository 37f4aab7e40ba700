"""Zero-shot embedding tricks for a decoder never trained to embed, measured per collection.

Document level: each document of ../shared/eval is embedded as one text (its first
``--doc-tokens`` tokens, the indexer's chunk size) by the real ``UnifiedModel`` embed context,
with a tap on llama.cpp's graph that copies the hidden rows of chosen layers, so one pass
yields many poolings (every tapped layer; mean with or without BOS; last token). Passes:

    plain     the text as is
    echo      "Rewrite the passage: {x}\\nRewritten passage: {x}", pooled over the 2nd copy
    eol       PromptEOL: 'This passage: "{x}" means in one word: "', last token
    bidir     plain text, non-causal attention in the embed context
    docpre    "passage: {x}" documents / "query: {x}" queries (e5-style prefixes)

Poolings: mean_all (final norm, every token: the recipe before issue 8), mean_final (final
norm, the text's tokens), last (last token), mean_layerN (block N's rows, RMS-normalised, the
text's tokens); "+centred" subtracts the collection's mean vector, "+refcentred" the mean of
CENTRE_REFERENCE (the default recipe is plain/mean_layer15+refcentred).

Pooled vectors are cached under ~/.cache/kenning-bench/vectors/<model>/<collection>/<pass>.npz
so each pass is computed once. Keywords come from SQLite FTS5 (porter, the product's
tokenizer and query expression) over the same documents; fusion rules from core.search.retrieval are
applied to the document rankings. Prints nDCG@10 and recall@100 per setting.

    nice -n 10 python bench/embed_tricks.py adi medline cranfield --passes plain,echo
    nice -n 10 python bench/embed_tricks.py medline --chunk-sizes 128,256   # late chunking
    nice -n 10 python bench/embed_tricks.py --speed 40     # default recipe vs zero-shot, final
"""

from __future__ import annotations

import argparse
import ctypes
import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

import apsw
import llama_cpp
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.retrieval import EVAL, load_qrels, ndcg_at, recall_at  # noqa: E402
from core.models.default_model import default_model_path  # noqa: E402
from core.models.embed_recipe import CENTRE_REFERENCE  # noqa: E402
from core.models.llama.bindings import clear_memory, tensor_name  # noqa: E402
from core.models.llama.gguf_info import GENERIC  # noqa: E402
from core.models.llama.unified import _EMBED_NODE, UnifiedModel  # noqa: E402
from core.search.fusion import fuse, fuse_guarded, gate_dense_only  # noqa: E402
from core.search.query import parse_query  # noqa: E402

VECTORS = Path.home() / ".cache" / "kenning-bench" / "vectors"
DEPTH = 300
TAP_LAYERS = (3, 5, 7, 9, 11, 13, 15, 16, 17)
GENERIC_LAYER = 15  # what the generic profile's embed_depth gives gemma-3-270m

PASSES: dict[str, tuple[str, str, str]] = {
    # name: (document template, query template, pooled span) ; {x} is the text
    "plain": ("{x}", "{x}", "text"),
    "echo": ("Rewrite the passage: {x}\nRewritten passage: {x}",
             "Rewrite the question: {x}\nRewritten question: {x}", "second"),
    "eol": ('This passage: "{x}" means in one word: "',
            'This question: "{x}" means in one word: "', "last"),
    "bidir": ("{x}", "{x}", "text"),
    "docpre": ("passage: {x}", "query: {x}", "text"),
}

_ggml: ctypes.CDLL | None = None


def _libggml() -> ctypes.CDLL:
    global _ggml
    if _ggml is None:
        from llama_cpp import _ggml as bindings

        _ggml = bindings.libggml
        _ggml.ggml_nelements.argtypes = [ctypes.c_void_p]
        _ggml.ggml_nelements.restype = ctypes.c_int64
        _ggml.ggml_backend_tensor_get.argtypes = [ctypes.c_void_p, ctypes.c_void_p,
                                                  ctypes.c_size_t, ctypes.c_size_t]
        _ggml.ggml_backend_tensor_get.restype = None
    return _ggml


class TappedModel(UnifiedModel):
    """``UnifiedModel`` whose embed pass also hands back the rows of chosen layers."""

    tap: dict[bytes, list[np.ndarray]] | None = None

    def _on_graph_node(self, tensor: int, ask: bool, user_data: int) -> bool:
        if self.tap is None:
            return super()._on_graph_node(tensor, ask, user_data)
        name = tensor_name(tensor)
        if ask:
            return name in self.tap
        ggml = _libggml()
        count = ggml.ggml_nelements(tensor)
        rows = np.empty(count, dtype=np.float32)
        ggml.ggml_backend_tensor_get(tensor, rows.ctypes.data, 0, count * 4)
        self.tap[name].append(rows.reshape(-1, self.dim))
        return name != _EMBED_NODE  # the final rows are the last thing needed

    def hidden_rows(self, sequences: list[list[int]]) -> dict[str, np.ndarray]:
        """Per-token rows of every tapped layer ("final" = after the final norm)."""
        names = {f"l_out-{n}".encode(): f"layer{n}" for n in TAP_LAYERS}
        names[_EMBED_NODE] = "final"
        self.tap = {name: [] for name in names}
        try:
            total = self._embed_batch.fill_sequences(sequences)
            clear_memory(self._embed_ctx)
            status = llama_cpp.llama_decode(self._embed_ctx, self._embed_batch.batch)
            if status != 0:
                raise RuntimeError(f"decode failed ({status}) for {total} tokens")
            return {label: np.concatenate(self.tap[name])[:total]
                    for name, label in names.items()}
        finally:
            self.tap = None


def cut_gguf(source: Path, blocks: int, target: Path) -> Path:
    """A copy of ``source`` keeping only its first ``blocks`` transformer blocks (and the
    output norm and head), written with llama.cpp's own ``gguf`` package."""
    import gguf

    reader = gguf.GGUFReader(source)
    architecture = str(reader.get_field("general.architecture").contents())
    count_key = f"{architecture}.block_count"
    writer = gguf.GGUFWriter(target, architecture)
    for field in reader.fields.values():
        if field.name == "general.architecture" or field.name.startswith("GGUF."):
            continue  # written by GGUFWriter itself
        kind = field.types[0]
        value = blocks if field.name == count_key else field.contents()
        sub = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, value, kind, sub_type=sub)
    kept = [t for t in reader.tensors
            if not (t.name.startswith("blk.") and int(t.name.split(".")[1]) >= blocks)]
    for tensor in kept:
        writer.add_tensor_info(tensor.name, tensor.data.shape, tensor.data.dtype,
                               tensor.data.nbytes, tensor.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for tensor in kept:
        writer.write_tensor_data(tensor.data)
    writer.close()
    return target


def _rms(rows: np.ndarray) -> np.ndarray:
    # Intermediate residual rows carry a few huge dimensions; per-token RMS norm as the next
    # layer would see them keeps one token from owning the mean.
    return rows / np.sqrt((rows.astype(np.float64) ** 2).mean(axis=1, keepdims=True) + 1e-6)


def _unit(v: np.ndarray) -> np.ndarray:
    return (v / max(float(np.linalg.norm(v)), 1e-12)).astype(np.float32)


def pool_pass(model: TappedModel, texts: list[str], template: str, span: str,
              max_body: int) -> dict[str, np.ndarray]:
    """Vectors for ``texts`` under one pass, for every pooling and tapped layer."""
    bos = list(model._special_head)
    items: list[tuple[list[int], int, int]] = []  # tokens, pooled span start, end
    for text in texts:
        body = _tok(model, text)[:max_body] or _tok(model, " ")
        before, _, after = template.partition("{x}")
        head = bos + (_tok(model, before) if before else [])
        if span == "second":
            middle = _tok(model, after.partition("{x}")[0])
            tokens = head + body + middle + body
            items.append((tokens, len(tokens) - len(body), len(tokens)))
        else:
            tail = _tok(model, after) if after else []
            tokens = head + body + tail
            items.append((tokens, len(head), len(head) + len(body)))
    out: dict[str, list[np.ndarray]] = {}
    group: list[tuple[list[int], int, int]] = []
    used = 0

    def flush() -> None:
        rows = model.hidden_rows([t for t, _, _ in group])
        offset = 0
        for tokens, start, end in group:
            for layer, all_rows in rows.items():
                seq = all_rows[offset: offset + len(tokens)]
                if layer != "final":
                    seq = _rms(seq)
                if layer == "final":
                    out.setdefault("mean_all", []).append(_unit(seq.mean(axis=0)))
                    out.setdefault("last", []).append(_unit(seq[-1]))
                out.setdefault(f"mean_{layer}", []).append(_unit(seq[start:end].mean(axis=0)))
            offset += len(tokens)

    for item in items:
        if group and (used + len(item[0]) > model.embed_max_tokens or len(group) == 32):
            flush()
            group, used = [], 0
        group.append(item)
        used += len(item[0])
    if group:
        flush()
    return {k: np.stack(v) for k, v in out.items()}


def _tok(model: UnifiedModel, text: str) -> list[int]:
    from core.models.llama.bindings import tokenize

    return tokenize(model._vocab, text, add_special=False, parse_special=False)


def load_collection(name: str) -> tuple[list[str], list[str], list[tuple[str, str]],
                                        dict[str, dict[str, int]]]:
    ids, texts = [], []
    for line in (EVAL / name / "corpus.jsonl").open():
        doc = json.loads(line)
        title = (doc.get("title") or "").strip()
        ids.append(doc["_id"])
        texts.append(f"{title}\n\n{doc['text']}" if title else doc["text"])
    qrels = load_qrels(EVAL / name / "qrels.tsv")
    queries = [json.loads(line) for line in (EVAL / name / "queries.jsonl").open()]
    return ids, texts, [(q["_id"], q["text"]) for q in queries if q["_id"] in qrels], qrels


def keyword_runs(ids: list[str], texts: list[str], queries: list[str]) -> list[list[int]]:
    """Document indices ranked by FTS5 BM25 with the product's tokenizer and query form."""
    conn = apsw.Connection(":memory:")
    conn.execute("CREATE VIRTUAL TABLE d USING fts5(text, "
                 "tokenize='porter unicode61 remove_diacritics 2')")
    with conn:
        conn.executemany("INSERT INTO d(rowid, text) VALUES (?, ?)",
                         [(i, t) for i, t in enumerate(texts)])
    runs = []
    for q in queries:
        match = parse_query(_plain(q)).fts_match()
        rows = conn.execute("SELECT rowid FROM d WHERE d MATCH ? ORDER BY bm25(d) LIMIT ?",
                            (match, DEPTH)) if match else []
        runs.append([int(r[0]) for r in rows])
    return runs


def _plain(text: str) -> str:
    return " ".join(re.findall(r"\w+", text))


def cached_pass(model: TappedModel, collection: str, pass_name: str, texts: list[str],
                queries: list[str], max_body: int) -> dict[str, np.ndarray]:
    folder = VECTORS / model.facts.fingerprint / f"{collection}-{max_body}"
    path = folder / f"{pass_name}.npz"
    doc_template, query_template, span = PASSES[pass_name]
    if path.exists():
        arrays = dict(np.load(path))
        if not any(k.startswith("r:") for k in arrays):  # older cache: add the reference
            reference = pool_pass(model, list(CENTRE_REFERENCE), doc_template, span, max_body)
            arrays |= {f"r:{k}": v for k, v in reference.items()}
            np.savez(path, **arrays)
        return arrays
    started = time.perf_counter()
    docs = pool_pass(model, texts, doc_template, span, max_body)
    qs = pool_pass(model, queries, query_template, span, max_body)
    reference = pool_pass(model, list(CENTRE_REFERENCE), doc_template, span, max_body)
    print(f"  [{collection}] pass {pass_name}: {time.perf_counter() - started:.0f}s",
          file=sys.stderr, flush=True)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = ({f"d:{k}": v for k, v in docs.items()} | {f"q:{k}": v for k, v in qs.items()}
              | {f"r:{k}": v for k, v in reference.items()})
    np.savez(path, **arrays)
    return arrays


Ranker = Callable[[list[int], list[tuple[int, float]]], list[int]]


def fusion_settings(floor: float) -> list[tuple[str, Ranker]]:
    def rrf(w: float) -> Ranker:
        return lambda lex, near: [c.chunk_id for c, _ in
                                  fuse(lex, gate_dense_only(lex, near, floor), dense_weight=w)]

    def guarded(w: float, extra: int) -> Ranker:
        return lambda lex, near: [c.chunk_id for c, _ in
                                  fuse_guarded(lex, near, dense_weight=w, dense_only=extra,
                                               min_similarity=floor)]

    settings = [("rrf w=0.1 gate@10 (old default)", rrf(0.1))]
    for w in (0.25, 0.5, 1.0):
        settings.append((f"rrf w={w:g} gate@10", rrf(w)))
    for w in (0.1, 0.25, 0.5, 1.0):
        for extra in (3, 10):
            settings.append((f"guarded w={w:g} +{extra}", guarded(w, extra)))
    return settings


def score(runs: list[list[int]], ids: list[str], rels: list[dict[str, int]]) -> tuple[float,
                                                                                     float]:
    ndcg = recall = 0.0
    for ranked, rel in zip(runs, rels, strict=True):
        names = [ids[i] for i in ranked]
        ndcg += ndcg_at(names, rel)
        recall += recall_at(names, rel)
    return ndcg / len(runs), recall / len(runs)


def evaluate(model: TappedModel, collection: str, passes: list[str], max_body: int,
             fusion_for: set[str]) -> None:
    ids, texts, queries, qrels = load_collection(collection)
    rels = [qrels[qid] for qid, _ in queries]
    lexical = keyword_runs(ids, texts, [q for _, q in queries])
    n, r = score(lexical, ids, rels)
    print(f"{collection:10} {'bm25':34} nDCG@10 {n:.3f}  recall@100 {r:.3f}", flush=True)
    for pass_name in passes:
        arrays = cached_pass(model, collection, pass_name, texts, [q for _, q in queries],
                             max_body)
        poolings = sorted(k[2:] for k in arrays if k.startswith("d:"))
        for pooling in poolings:
            raw_docs, raw_qs = arrays[f"d:{pooling}"], arrays[f"q:{pooling}"]
            # Remove the direction every vector shares (anisotropy): estimated from the
            # collection itself, or from the built-in reference text (what the product does).
            centres = {"": None, "+centred": raw_docs.mean(axis=0),
                       "+refcentred": arrays[f"r:{pooling}"].mean(axis=0)}
            for suffix, centre in centres.items():
                docs, qs = raw_docs, raw_qs
                if centre is not None:
                    docs, qs = _rows_unit(docs - centre), _rows_unit(qs - centre)
                label = f"{pass_name}/{pooling}{suffix}"
                sims = qs @ docs.T
                nearest = [[(int(i), float(row[i])) for i in np.argsort(-row)[:DEPTH]]
                           for row in sims]
                n, r = score([[c for c, _ in near] for near in nearest], ids, rels)
                print(f"{collection:10} {label:34} nDCG@10 {n:.3f}  recall@100 {r:.3f}",
                      flush=True)
                if label in fusion_for:
                    for fusion, rank in fusion_settings(GENERIC.min_similarity):
                        fused = [rank(lex, near) for lex, near in zip(lexical, nearest,
                                                                      strict=True)]
                        n, r = score(fused, ids, rels)
                        print(f"{collection:10}   {label} {fusion:30} nDCG@10 {n:.3f}  "
                              f"recall@100 {r:.3f}", flush=True)


def chunk_vectors(model: TappedModel, texts: list[str], size: int, late: bool,
                  window: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Block-15 vectors of each document's ``size``-token chunks (first ``window`` tokens),
    and the document each belongs to. ``late``: the window is run once and each chunk pools
    its own span of it (late chunking); otherwise each chunk is run alone."""
    bos = list(model._special_head)
    layer = f"layer{GENERIC_LAYER}"
    vectors: list[np.ndarray] = []
    owners: list[int] = []
    pending: list[tuple[int, list[int], list[tuple[int, int]]]] = []
    used = 0

    def flush() -> None:
        rows = model.hidden_rows([tokens for _, tokens, _ in pending])[layer]
        offset = 0
        for doc, tokens, spans in pending:
            seq = _rms(rows[offset: offset + len(tokens)])
            for start, end in spans:
                vectors.append(_unit(seq[start:end].mean(axis=0)))
                owners.append(doc)
            offset += len(tokens)

    for doc, text in enumerate(texts):
        body = _tok(model, text)[:window] or _tok(model, " ")
        pieces = [body[i: i + size] for i in range(0, len(body), size)]
        if late:
            spans, sequences = [], [bos + body]
            for i in range(0, len(body), size):
                spans.append((1 + i, 1 + min(i + size, len(body))))
            work = [(doc, sequences[0], spans)]
        else:
            work = [(doc, bos + piece, [(1, 1 + len(piece))]) for piece in pieces]
        for item in work:
            if pending and (used + len(item[1]) > model.embed_max_tokens or len(pending) == 32):
                flush()
                pending, used = [], 0
            pending.append(item)
            used += len(item[1])
    if pending:
        flush()
    return np.stack(vectors), np.asarray(owners)


def evaluate_chunking(model: TappedModel, collection: str, sizes: list[int]) -> None:
    """Chunk size and late chunking at block 15, reference-centred; a document scores as its
    best chunk. Queries and the centre come from the cached plain pass."""
    ids, texts, queries, qrels = load_collection(collection)
    rels = [qrels[qid] for qid, _ in queries]
    plain = cached_pass(model, collection, "plain", texts, [q for _, q in queries], 256)
    key = f"mean_layer{GENERIC_LAYER}"
    centre = plain[f"r:{key}"].mean(axis=0)
    qs = _rows_unit(plain[f"q:{key}"] - centre)
    folder = VECTORS / model.facts.fingerprint / f"{collection}-chunks"
    folder.mkdir(parents=True, exist_ok=True)
    for size in sizes:
        for late in (False, True):
            path = folder / f"{'late' if late else 'alone'}-{size}.npz"
            if not path.exists():
                started = time.perf_counter()
                vectors, owners = chunk_vectors(model, texts, size, late)
                print(f"  [{collection}] chunks {size} late={late}: "
                      f"{time.perf_counter() - started:.0f}s", file=sys.stderr, flush=True)
                np.savez(path, vectors=vectors, owners=owners)
            saved = np.load(path)
            docs = _rows_unit(saved["vectors"] - centre)
            sims = qs @ docs.T
            runs = []
            for row in sims:
                best = np.full(len(ids), -2.0)
                np.maximum.at(best, saved["owners"], row)
                runs.append([int(i) for i in np.argsort(-best)[:DEPTH]])
            n, r = score(runs, ids, rels)
            label = f"{'late' if late else 'separate'} chunks of {size} (window 512)"
            print(f"{collection:10} {label:34} nDCG@10 {n:.3f}  recall@100 {r:.3f}", flush=True)


def compare_speed(path: Path, docs: int, rounds: int = 3, adapter: Path | None = None) -> None:
    """Embedding tokens/s of the trained head's recipe (its block for the bundled model, the
    graph stopping there; "default" in the output, whether or not it is on by default) against
    the zero-shot recipe (block 15, centred) and the final layer, alternating slice by slice in
    one process; with ``adapter`` (a LoRA from ``bench/embed_head/lora.py``), also the
    trained head's recipe computing through it."""
    from dataclasses import replace

    from core.models.llama.bindings import load_lora, use_lora

    _, texts, _, _ = load_collection("medline")
    models = {
        "final layer": UnifiedModel.load(path, profile=replace(GENERIC, embed_depth=1.0,
                                                               centred=False)),
        "zero-shot": UnifiedModel.load(path, trained_head=False),
        "default": UnifiedModel.load(path, trained_head=True),
    }
    if adapter is not None:
        adapted = UnifiedModel.load(path, trained_head=True)
        use_lora(adapted._embed_ctx, load_lora(adapted._model, adapter))
        models["default + adapter"] = adapted
    elapsed = dict.fromkeys(models, 0.0)
    tokens = 0
    default = models["default"]
    for round_ in range(rounds):
        batch = texts[round_ * docs: (round_ + 1) * docs]
        tokens += sum(min(default.count_tokens(t), 511) for t in batch)
        for label, model in models.items():
            started = time.perf_counter()
            for start in range(0, len(batch), 16):
                model.embed_documents(batch[start: start + 16])
            elapsed[label] += time.perf_counter() - started
    rates = {label: tokens / seconds for label, seconds in elapsed.items()}
    print("speed over " + f"{tokens} tokens: " + ", ".join(
        f"{label} ({model.model_id.rsplit(':', 1)[-1]}) {rates[label]:.0f} tok/s"
        for label, model in models.items()))
    if "default + adapter" in rates:
        print(f"default + adapter / default {rates['default + adapter'] / rates['default']:.2f}x,"
              f" / zero-shot {rates['default + adapter'] / rates['zero-shot']:.2f}x")
    print(f"default / zero-shot {rates['default'] / rates['zero-shot']:.2f}x, default / final "
          f"layer {rates['default'] / rates['final layer']:.2f}x")
    for model in models.values():
        model.close()


def _rows_unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)).astype(
        np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("collections", nargs="*", default=["adi", "medline", "cranfield"])
    parser.add_argument("--passes", default="plain")
    parser.add_argument("--doc-tokens", type=int, default=256)
    parser.add_argument("--fusion", default="plain/mean_all",
                        help="comma-separated pass/pooling labels to fuse with BM25")
    parser.add_argument("--model", help="GGUF (default: the bundled model)")
    parser.add_argument("--chunk-sizes", help="e.g. 128,256,512: chunk size and late chunking")
    parser.add_argument("--speed", type=int, metavar="DOCS",
                        help="only compare embedding speed, DOCS Medline documents a round")
    parser.add_argument("--embed-adapter", type=Path,
                        help="with --speed: also the trained head through this LoRA adapter")
    args = parser.parse_args()
    path = Path(args.model) if args.model else default_model_path(
        Path.home() / ".cache" / "kenning-bench" / "models")
    if args.speed:
        compare_speed(path, args.speed, adapter=args.embed_adapter)
        return
    if args.chunk_sizes:
        sizes = [int(n) for n in args.chunk_sizes.split(",")]
        for collection in args.collections:
            model = TappedModel.load(path, embed_batch_tokens=1024, profile=GENERIC)
            try:
                evaluate_chunking(model, collection, sizes)
            finally:
                model.close()
        return
    passes = args.passes.split(",")
    for collection in args.collections:
        for group in (["bidir"] if "bidir" in passes else []), [p for p in passes
                                                                if p != "bidir"]:
            if not group:
                continue
            profile = GENERIC if group != ["bidir"] else _bidirectional()
            model = TappedModel.load(path, embed_batch_tokens=1024, profile=profile)
            try:
                evaluate(model, collection, group, args.doc_tokens, set(args.fusion.split(",")))
            finally:
                model.close()


def _bidirectional():  # type: ignore[no-untyped-def]
    from dataclasses import replace

    return replace(GENERIC, causal=False)


if __name__ == "__main__":
    main()

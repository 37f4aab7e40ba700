"""Frozen features of the bundled gemma-3-270m for training and measuring an embed head.

One pass of the model per text reads the pooled rows after several blocks at once (the graph
stops at the deepest), so depth can be weighed against quality without embedding again. A
"feature" is the mean over the text's tokens of the RMS-normalised rows after a block: the
product's recipe before centring (``models.embed_recipe``), so the product vector of block 15 is
``normalise(normalise(f) - centre)``.

    # an eval collection, indexed through the real Indexer (product chunks, FTS5 BM25 lists):
    python bench/embed_head/features.py eval medline
    python bench/embed_head/features.py eval scifact --max-docs 1200   # judged docs + others
    # training texts (a jsonl of {"text": ...} lines), plus all-MiniLM-L6-v2 teacher vectors,
    # in resumable chunks; ``collect`` gathers the chunks finished so far into out.npz:
    python bench/embed_head/features.py texts train.jsonl out.npz --teacher minilm.gguf
    python bench/embed_head/features.py collect train.jsonl out.npz

Measurement data (eval) is only ever read here to be measured; nothing is fitted on it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.retrieval import DEPTH, collection_source, load_qrels, materialise  # noqa: E402
from bench.retrieval import _plain as plain_query  # noqa: E402
from core.config import AppPaths, Settings  # noqa: E402
from core.index.indexer import Indexer  # noqa: E402
from core.models.default_model import default_model_path  # noqa: E402
from core.models.embed_recipe import rms_rows  # noqa: E402
from core.models.llama.bindings import copy_tensor as _copy_tensor  # noqa: E402
from core.models.llama.bindings import load_lora, tensor_name, use_lora  # noqa: E402
from core.models.llama.embed_input import EmbedInput  # noqa: E402
from core.models.llama.gguf_info import GENERIC  # noqa: E402
from core.models.llama.unified import UnifiedModel  # noqa: E402
from core.search.query import parse_query  # noqa: E402
from core.search.retrieval import file_filter, lexical_ids  # noqa: E402
from core.services import embed_pass_tokens  # noqa: E402
from core.store.database import Store  # noqa: E402

CACHE = ROOT / "bench" / ".cache" / "embed_head"
LAYERS = (6, 9, 12, 15)


class TapModel(UnifiedModel):
    """The product model that also keeps the pooled rows of ``LAYERS`` of each text it embeds
    (``taken``: one array per layer, rows in embedding order since the last ``take``)."""

    def __init__(self, **kwargs: Any) -> None:
        self._taps = {f"l_out-{layer}".encode(): layer for layer in LAYERS}
        # sized before the base class embeds its own checks (widest model width assumed)
        size = int(kwargs["embed_batch_tokens"]) * 8192
        self._tap_rows = {layer: np.zeros(size, np.float32) for layer in LAYERS}
        self._tap_values = dict.fromkeys(LAYERS, 0)
        self._pending: dict[int, list[np.ndarray]] = {layer: [] for layer in LAYERS}
        self._batch: dict[int, np.ndarray] = {}
        super().__init__(**kwargs)
        self.take()

    def _on_graph_node(self, tensor: int, ask: bool, _user_data: int) -> bool:
        name = tensor_name(tensor)
        if ask:
            return name in self._taps
        layer = self._taps.get(name)
        if layer is None or _copy_tensor is None:
            return False
        self._tap_values[layer] = _copy_tensor(tensor, self._tap_rows[layer])
        if layer == self.profile.embed_layer:
            self._layer_values = _copy_tensor(tensor, self._layer_rows)
        return layer < max(LAYERS)  # the deepest tap ends the pass

    def _embed(self, inputs: list[EmbedInput]) -> np.ndarray:
        count = sum(len(i.spans) for i in inputs)
        self._batch = {layer: np.zeros((count, self.dim), np.float32) for layer in LAYERS}
        vectors = super()._embed(inputs)
        for layer in LAYERS:
            self._pending[layer].append(self._batch[layer])
        return vectors

    def _decode_group(self, group: list[tuple[int, EmbedInput]], vectors: np.ndarray) -> None:
        super()._decode_group(group, vectors)
        total = sum(len(item.tokens) for _, item in group)
        for layer in LAYERS:
            if self._tap_values[layer] < total * self.dim:
                raise RuntimeError(f"block {layer} was not handed over")
            rows = rms_rows(self._tap_rows[layer][: total * self.dim].reshape(total, self.dim))
            offset = 0
            for first_row, item in group:
                for row, (start, end) in enumerate(item.spans, first_row):
                    self._batch[layer][row] = rows[offset + start: offset + end].mean(axis=0)
                offset += len(item.tokens)

    def take(self) -> dict[int, np.ndarray]:
        taken = {layer: (np.concatenate(parts) if parts else np.zeros((0, self.dim), np.float32))
                 for layer, parts in self._pending.items()}
        self._pending = {layer: [] for layer in LAYERS}
        return taken

    @property
    def centre(self) -> np.ndarray:
        assert self._centre is not None
        return self._centre


def load_tap_model(threads: int | None = None, embed_adapter: Path | None = None) -> TapModel:
    paths = AppPaths.resolve(ROOT / "bench" / ".cache" / "home")
    path = default_model_path(paths.models_dir)
    settings = Settings(threads=threads or 0)
    # The zero-shot profile: heads are trained on (and compared with) its features.
    model = TapModel.load(path, n_threads=threads,
                          embed_batch_tokens=embed_pass_tokens(settings),
                          cache_dir=paths.model_cache_dir, profile=GENERIC)
    assert isinstance(model, TapModel)
    if model.profile.embed_layer != 15:
        raise SystemExit(f"expected the product recipe at block 15, got {model.profile}")
    if embed_adapter is not None:
        # After the load: the zero-shot centre above stays the base model's (a head ignores it).
        adapter = load_lora(model._model, embed_adapter)
        if adapter is None:
            raise SystemExit(f"llama.cpp refused the adapter {embed_adapter}")
        use_lora(model._embed_ctx, adapter)
    return model


def subset_folder(name: str, max_docs: int, seed: int = 0) -> tuple[Path, dict[str, str]]:
    """The judged documents of ``name`` plus random others up to ``max_docs``, as files."""
    src = collection_source(name)
    judged = {d for rel in load_qrels(src / "qrels.tsv").values() for d in rel}
    docs = [json.loads(line) for line in (src / "corpus.jsonl").open()]
    others = [d for d in docs if d["_id"] not in judged]
    random.Random(seed).shuffle(others)
    keep = {d["_id"] for d in docs if d["_id"] in judged}
    keep |= {d["_id"] for d in others[: max(0, max_docs - len(keep))]}
    folder = CACHE / f"{name}-{max_docs}" / "docs"
    folder.mkdir(parents=True, exist_ok=True)
    mapping = {}
    for doc in docs:
        if doc["_id"] not in keep:
            continue
        title = (doc.get("title") or "").strip()
        text = f"{title}\n\n{doc['text']}" if title else doc["text"]
        path = folder / f"{doc['_id']}.txt"
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        mapping[str(path)] = doc["_id"]
    return folder, mapping


def cache_eval(name: str, max_docs: int | None, threads: int | None = None,
               embed_adapter: Path | None = None) -> Path:
    """Index ``name`` with the product pipeline through the tap model; keep per chunk its
    document and features, per query its features and BM25 chunk list. With ``embed_adapter``
    (a LoRA, ``lora.py``) the embed context computes through it and the cache is named
    ``<collection>+<adapter file stem>``."""
    model = load_tap_model(threads, embed_adapter)
    folder, mapping = subset_folder(name, max_docs) if max_docs else materialise(name)
    tag = f"{name}-{max_docs}" if max_docs else name
    if embed_adapter is not None:
        tag = f"{tag}+{embed_adapter.stem}"
    db = CACHE / tag / "index.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    for stale in [*db.parent.glob("index.db*"), db.parent / "index-folders.json"]:
        stale.unlink(missing_ok=True)
    store = Store.open(db)
    chunk_ids: list[int] = []
    feats: dict[int, list[np.ndarray]] = {layer: [] for layer in LAYERS}
    add_vectors = store.chunks.add_vectors

    def recording(model_id: str, ids: Any, vectors: np.ndarray) -> None:
        taken = model.take()
        assert len(taken[LAYERS[0]]) == len(ids) == len(vectors)
        chunk_ids.extend(int(i) for i in ids)
        for layer in LAYERS:
            feats[layer].append(taken[layer])
        add_vectors(model_id, ids, vectors)

    store.chunks.add_vectors = recording  # type: ignore[method-assign]
    indexer = Indexer(store, model, Settings(use_gitignore=False, threads=threads or 0))
    indexer.add_folder(folder)
    started = time.perf_counter()
    indexer.run(lambda p: None)
    seconds = time.perf_counter() - started
    print(f"[{tag}] {len(chunk_ids)} chunks embedded in {seconds:.0f}s", file=sys.stderr)
    chunk_doc = {int(c): mapping.get(str(p), "") for c, p in store.rows(
        "SELECT c.id, f.path FROM chunks c JOIN files f ON f.id = c.file_id")}
    chunk_file = {int(c): int(f) for c, f in store.rows("SELECT id, file_id FROM chunks")}
    chunk_tokens = {int(c): int(t) for c, t in store.rows("SELECT id, token_count FROM chunks")}
    qrels = load_qrels(collection_source(name) / "qrels.tsv")
    queries = [json.loads(line) for line in (collection_source(name) / "queries.jsonl").open()]
    queries = [q for q in queries if q["_id"] in qrels]
    lexical, qids = [], []
    for q in queries:
        parsed = parse_query(plain_query(q["text"]))
        lexical.append(lexical_ids(store, parsed, file_filter(parsed), DEPTH))
        model.embed_query(parsed.semantic_text)
        qids.append(q["_id"])
    qfeats = model.take()
    store.close()
    out = CACHE / f"{tag}.npz"
    np.savez(out, chunk_ids=np.array(chunk_ids),
             chunk_doc=np.array([chunk_doc[c] for c in chunk_ids]),
             chunk_file=np.array([chunk_file[c] for c in chunk_ids]),
             chunk_tokens=np.array([chunk_tokens[c] for c in chunk_ids]),
             centre=model.centre, seconds=seconds,
             meta=json.dumps({"qids": qids, "lexical": lexical,
                              "qrels": {q: qrels[q] for q in qids}}),
             **{f"doc{layer}": np.concatenate(feats[layer]) for layer in LAYERS},
             **{f"query{layer}": qfeats[layer] for layer in LAYERS})
    model.close()
    return out


def cache_texts(source: Path, out: Path, teacher: Path | None, chunk: int = 400,
                threads: int | None = None) -> None:
    """Features of every text in ``source`` (jsonl, "text" field), and the teacher's vectors,
    written ``chunk`` texts at a time into ``out``'s folder and gathered into ``out`` at the
    end: an interrupted run picks up at the first missing chunk (``collect`` reads a prefix).
    """
    texts = [json.loads(line)["text"] for line in source.open()]
    parts_dir = out.with_suffix(".parts")
    parts_dir.mkdir(parents=True, exist_ok=True)
    model = load_tap_model(threads)
    minilm = UnifiedModel.load(teacher, n_threads=threads) if teacher is not None else None
    started = time.perf_counter()
    done = 0
    for at in range(0, len(texts), chunk):
        part = parts_dir / f"{at:07d}.npz"
        if part.exists():
            continue
        batch = texts[at: at + chunk]
        t0 = time.perf_counter()
        for first in range(0, len(batch), 16):
            model.embed_documents(batch[first: first + 16])
        taken = model.take()
        t1 = time.perf_counter()
        taught = (minilm.embed_documents(batch) if minilm is not None
                  else np.zeros((len(batch), 0), np.float32))
        t2 = time.perf_counter()
        np.savez(part.with_suffix(".tmp.npz"), centre=model.centre, teacher=taught,
                 gemma_seconds=t1 - t0, teacher_seconds=t2 - t1,
                 **{f"f{layer}": taken[layer] for layer in LAYERS})
        part.with_suffix(".tmp.npz").rename(part)
        done += len(batch)
        print(f"  {at + len(batch)}/{len(texts)} gemma {t1 - t0:.0f}s teacher {t2 - t1:.0f}s "
              f"({time.perf_counter() - started:.0f}s this run)", file=sys.stderr, flush=True)
    model.close()
    if minilm is not None:
        minilm.close()
    collect(source, out)


def collect(source: Path, out: Path, at_most: int | None = None) -> int:
    """Gather the finished chunks of ``source`` (a prefix of its texts, of at most
    ``at_most`` texts when given) into ``out``."""
    parts = sorted(out.with_suffix(".parts").glob("[0-9]*[0-9].npz"))
    loaded = []
    for part in parts:
        if int(part.stem) != sum(len(p["f15"]) for p in loaded):
            break  # a gap: only the unbroken prefix is usable
        if at_most is not None and int(part.stem) >= at_most:
            break
        loaded.append(np.load(part))
    if not loaded:
        raise SystemExit(f"no finished chunks for {out}")
    np.savez(out, centre=loaded[0]["centre"],
             gemma_seconds=sum(float(p["gemma_seconds"]) for p in loaded),
             teacher_seconds=sum(float(p["teacher_seconds"]) for p in loaded),
             teacher=np.concatenate([p["teacher"] for p in loaded]),
             digest=hashlib.sha256(source.read_bytes()).hexdigest(),
             **{f"f{layer}": np.concatenate([p[f"f{layer}"] for p in loaded])
                for layer in LAYERS})
    count = sum(len(p["f15"]) for p in loaded)
    print(f"{out}: {count} texts", file=sys.stderr)
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    ev = sub.add_parser("eval")
    ev.add_argument("collections", nargs="+")
    ev.add_argument("--max-docs", type=int)
    ev.add_argument("--embed-adapter", type=Path, help="a LoRA on the embed context")
    tx = sub.add_parser("texts")
    tx.add_argument("source", type=Path)
    tx.add_argument("out", type=Path)
    tx.add_argument("--teacher", type=Path)
    co = sub.add_parser("collect", help="gather the chunks finished so far")
    co.add_argument("source", type=Path)
    co.add_argument("out", type=Path)
    co.add_argument("--texts", type=int, help="at most this many texts (whole chunks)")
    for each in (ev, tx):
        each.add_argument("--threads", type=int, help="model threads (default: all cores)")
    args = parser.parse_args()
    CACHE.mkdir(parents=True, exist_ok=True)
    if args.what == "eval":
        for name in args.collections:
            print(cache_eval(name, args.max_docs, args.threads, args.embed_adapter))
    elif args.what == "collect":
        collect(args.source, args.out, args.texts)
    else:
        cache_texts(args.source, args.out, args.teacher, threads=args.threads)


if __name__ == "__main__":
    main()

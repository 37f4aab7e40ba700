"""Train an embed head on cached frozen features of gemma-3-270m and measure it.

Inputs (``features.py``): the training texts' pooled block features and their
all-MiniLM-L6-v2 vectors, and the eval collections' cached features. Heads are chosen on held-
out training data (SQuAD articles never trained on, held-out broad text); the eval figures
are only reported.

    python bench/embed_head/train.py baseline         # the product's centring, same figures
    python bench/embed_head/train.py ridge            # closed-form distillation, per layer
    python bench/embed_head/train.py fit --layers 15,12+15 --distill 0,1 --steps 2000
    python bench/embed_head/train.py fit --hidden 256 --query-rank 32
    # the shipped head (resources/embed_heads/; its sha256 goes in core.models.embed_head):
    python bench/embed_head/train.py fit --layers 12 --distill 300 --steps 1500 --lr 3e-4 \
        --export resources/embed_heads/gemma-3-270m-b12-v1.npz
    python bench/embed_head/train.py shipped    # that file through the product's code
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.embed_head.heads import Adam, Head, info_nce, relational, unit  # noqa: E402
from bench.embed_head.measure import CACHE, Collection, measure, product_head  # noqa: E402
from bench.embed_head.measure import Head as HeadFn  # noqa: E402
from core.models.embed_head import GEMMA_270M_BLOCK12 as HEAD_ALONE  # noqa: E402
from core.models.embed_head import EmbedHead, save_head  # noqa: E402
from core.models.embed_recipe import normalise_rows  # noqa: E402

EVAL_TAGS = ("adi", "medline", "cranfield", "scifact-1000", "docugami_sec10q")
SHOWN = ("bm25", "dense", "default", "guarded 0.5", "guarded 1", "rrf 1")


class Data:
    """The cached training texts (``features.py texts``; a prefix when the run was cut short):
    ``valid`` rows are held out for choosing (whole SQuAD articles, a tenth of the broad text)."""

    def __init__(self, name: str = "train") -> None:
        data = np.load(CACHE / f"{name}.npz")
        self.feats = {int(k[1:]): data[k] for k in data.files if k.startswith("f")}
        count = len(self.feats[15])
        self.rows = [json.loads(line) for line in (CACHE / f"{name}.jsonl").open()][:count]
        self.centre15 = data["centre"]
        self.teacher = normalise_rows(data["teacher"])
        self.gemma_seconds = float(data["gemma_seconds"])
        kind = np.array([r["kind"] for r in self.rows])
        split = np.array([r["split"] for r in self.rows])
        self.is_query = kind == "question"
        self.is_paragraph = kind == "paragraph"
        self.train = split == "train"
        self.held_broad = (split == "valid") & (kind == "broad")
        self.valid = (split == "valid") & (kind != "broad")
        # half the held-out articles choose the step count, the other half report
        odd = np.array([int(r.get("pair", "0-0").split("-")[0]) % 2 == 1 for r in self.rows])
        self.choose = self.valid & odd
        self.check = self.valid & ~odd
        self.pair = np.array([r.get("pair", "") for r in self.rows])
        # a question's paragraph must be in the prefix too
        index = {p: i for i, p in enumerate(self.pair) if self.is_paragraph[i]}
        self.para_of = np.array([index.get(p, -1) for p in self.pair])
        self.is_query &= self.para_of >= 0
        print(f"{name}: {count} texts, {int((self.train & self.is_paragraph).sum())} training "
              f"paragraphs, {int((self.train & self.is_query).sum())} questions, "
              f"{int((self.train & (kind == 'broad')).sum())} broad; held out "
              f"{int((self.valid & self.is_paragraph).sum())} paragraphs, "
              f"{int((self.valid & self.is_query).sum())} questions, "
              f"{int(self.held_broad.sum())} broad", file=sys.stderr)


class Inputs:
    """Per-layer normalised features, centred on the training mean, concatenated."""

    def __init__(self, layers: tuple[int, ...], feats: dict[int, np.ndarray],
                 mask: np.ndarray) -> None:
        self.layers = layers
        self.means = {L: unit(feats[L][mask]).mean(axis=0) for L in layers}

    def __call__(self, feats: dict[int, np.ndarray]) -> np.ndarray:
        return np.concatenate([unit(feats[L]) - self.means[L] for L in self.layers], axis=1)


def squad_valid(data: Data, vectors: np.ndarray, mask: np.ndarray | None = None) -> float:
    """MRR of held-out questions among the held-out paragraphs."""
    mask = data.check if mask is None else mask
    paragraphs = np.flatnonzero(mask & data.is_paragraph)
    questions = np.flatnonzero(mask & data.is_query)
    pids = data.pair[paragraphs]
    sims = vectors[questions] @ vectors[paragraphs].T
    order = np.argsort(-sims, axis=1)
    ranks = [int(np.flatnonzero(pids[row] == data.pair[q])[0]) + 1
             for q, row in zip(questions, order, strict=True)]
    return float(np.mean(1.0 / np.array(ranks)))


def distill_fit(data: Data, vectors: np.ndarray) -> float:
    """How far held-out broad texts keep the teacher's similarity structure (Pearson r of
    pairwise cosines)."""
    idx = np.flatnonzero(data.held_broad)
    s = (vectors[idx] @ vectors[idx].T)[np.triu_indices(len(idx), 1)]
    t = (data.teacher[idx] @ data.teacher[idx].T)[np.triu_indices(len(idx), 1)]
    return float(np.corrcoef(s, t)[0, 1])


def report(label: str, data: Data, train_vectors: np.ndarray, head: HeadFn,
           collections: list[Collection], seconds: float = 0.0) -> dict:
    row = {"head": label, "squad_mrr": squad_valid(data, train_vectors),
           "squad_mrr_choose": squad_valid(data, train_vectors, data.choose),
           "distill_r": distill_fit(data, train_vectors), "seconds": seconds}
    for coll in collections:
        figures = measure(coll, head)
        for key in SHOWN:
            row[f"{coll.name}:{key}"] = figures[key]
    cells = " ".join(f"{coll.name[:5]} d{row[f'{coll.name}:dense']:.3f}"
                     f"/h{row[f'{coll.name}:default']:.3f}/g1 {row[f'{coll.name}:guarded 1']:.3f}"
                     for coll in collections)
    print(f"{label:34} squad {row['squad_mrr']:.3f} r {row['distill_r']:.3f} | {cells}",
          flush=True)
    with (CACHE / "results.jsonl").open("a") as out:
        out.write(json.dumps(row) + "\n")
    return row


def baseline(data: Data, collections: list[Collection]) -> None:
    for coll in collections:
        figures = measure(coll, product_head(coll.centre))
        print(f"{coll.name:14} " + " ".join(f"{k} {figures[k]:.3f}" for k in SHOWN), flush=True)
    train_vec = normalise_rows(normalise_rows(data.feats[15]) - data.centre15)
    report("product (L15 centred)", data, train_vec,
           lambda f, q: normalise_rows(normalise_rows(f[15]) - data.centre15), collections)
    report("teacher (MiniLM, train only)", data, data.teacher, lambda f, q: f[15], [])


def shipped(data: Data, collections: list[Collection]) -> None:
    """The head-alone rung Kenning ships (on the base model's block; the adapted head is
    ``lora.py``'s), read and applied by the product's own code (``core.models.embed_head``),
    beside the zero-shot recipe and BM25 of the same run."""
    head = EmbedHead.load(HEAD_ALONE)
    layer = head.spec.layer
    for coll in collections:
        for label, fn in (("zero-shot", product_head(coll.centre)),
                          (HEAD_ALONE.tag, lambda f, q: head.apply(f[layer]))):
            figures = measure(coll, fn)
            print(f"{coll.name:16} {label:22} bm25 {figures['bm25']:.3f} ({figures['bm25 r']:.3f}) "
                  f"dense {figures['dense']:.3f} ({figures['dense r']:.3f}) hybrid "
                  f"{figures['default']:.3f} ({figures['default r']:.3f})", flush=True)
    report(f"shipped {HEAD_ALONE.tag}", data, head.apply(data.feats[layer]),
           lambda f, q: head.apply(f[layer]), collections)


def ridge(data: Data, collections: list[Collection], layer_sets: list[tuple[int, ...]],
          lambdas: list[float]) -> None:
    """Closed-form map of the features onto the teacher's vectors."""
    for layers in layer_sets:
        inputs = Inputs(layers, data.feats, data.train)
        x_all = inputs(data.feats)
        x, y = x_all[data.train], data.teacher[data.train]
        gram = x.T @ x
        for lam in lambdas:
            w = np.linalg.solve(gram + lam * np.eye(len(gram)), x.T @ y)
            vectors = unit(x_all @ w)

            def head(f: dict[int, np.ndarray], q: bool, w=w, inputs=inputs) -> np.ndarray:
                return unit(inputs(f) @ w).astype(np.float32)

            report(f"ridge L{'+'.join(map(str, layers))} lam {lam:g}", data, vectors, head,
                   collections)


def fit(data: Data, collections: list[Collection], layers: tuple[int, ...], out_dim: int,
        query_rank: int, hidden: int, distill: float, steps: int, lr: float = 1e-3,
        batch: int = 256, scale: float = 20.0, seed: int = 0, every: int = 100,
        anchor: float = 0.0) -> Head:
    """A head trained with in-batch InfoNCE on training SQuAD pairs, plus ``distill`` times the
    teacher's pairwise cosines kept over a batch of training texts. It starts as the product's
    recipe (identity on block 15 when ``out_dim`` is the width, the leading principal
    directions otherwise); the step count is chosen on the held-out SQuAD articles (MRR),
    checked every ``every`` steps; ``report`` gives the other held-out articles' figure."""
    rng = np.random.default_rng(seed)
    means = {L: unit(data.feats[L][data.train]).mean(axis=0) for L in layers}
    probe = Head(w=np.zeros((1, 1)), layers=layers, means=means)
    x_all = probe.inputs(data.feats)
    dim = x_all.shape[1]
    width = data.feats[layers[-1]].shape[1]
    if out_dim == width and layers[-1] == 15:
        w0 = np.zeros((dim, out_dim), np.float32)
        w0[dim - width:] = np.eye(width, dtype=np.float32)  # the last layer as it is
    else:
        _, _, vt = np.linalg.svd(x_all[data.train][:20000], full_matrices=False)
        w0 = vt[:out_dim].T.astype(np.float32)
    head = Head(w=w0, layers=layers, means=means)
    if hidden:
        head.hidden_a = (rng.normal(size=(dim, hidden)) / np.sqrt(dim)).astype(np.float32)
        head.hidden_bias = np.zeros(hidden, np.float32)
        head.hidden_b = np.zeros((hidden, out_dim), np.float32)
    if query_rank:
        head.query_a = (rng.normal(size=(dim, query_rank)) / np.sqrt(dim)).astype(np.float32)
        head.query_b = np.zeros((query_rank, out_dim), np.float32)
    params = head.params()
    opt = Adam(params, lr, anchor)
    questions = np.flatnonzero(data.train & data.is_query)
    texts = np.flatnonzero(data.train)
    teacher = data.teacher.astype(np.float32)
    started = time.perf_counter()

    def score() -> float:
        v = np.where(data.is_query[:, None], head.forward(x_all, True)[0],
                     head.forward(x_all, False)[0])
        return squad_valid(data, v, data.choose)

    best, best_step, best_params = score(), 0, {k: v.copy() for k, v in params.items()}
    history = [(0, best)]
    for step in range(1, steps + 1):
        qs = rng.choice(questions, batch * 2, replace=False)
        _, first = np.unique(data.para_of[qs], return_index=True)
        qs = qs[np.sort(first)][:batch]
        ps = data.para_of[qs]
        grads = {k: np.zeros_like(v) for k, v in params.items()}
        q, cq = head.forward(x_all[qs], True)
        p, cp = head.forward(x_all[ps], False)
        _, dq, dp = info_nce(q, p, scale)
        head.backward(cq, dq, grads)
        head.backward(cp, dp, grads)
        if distill:
            some = rng.choice(texts, batch, replace=False)
            v, cv = head.forward(x_all[some], False)
            _, dv = relational(v, teacher[some])
            head.backward(cv, distill * dv, grads)
        opt.step(params, grads, lr * min(1.0, step / 100) * (1 - step / (steps + 1)))
        if step % every == 0 or step == steps:
            now = score()
            history.append((step, now))
            if now > best:
                best, best_step = now, step
                best_params = {k: v.copy() for k, v in params.items()}
    for k, v in best_params.items():
        setattr(head, k, v)
    seconds = time.perf_counter() - started
    vectors = np.where(data.is_query[:, None], head.forward(x_all, True)[0],
                       head.forward(x_all, False)[0])
    label = (f"fit L{'+'.join(map(str, layers))} d{out_dim} q{query_rank} h{hidden} "
             f"kd{distill:g} an{anchor:g} lr{lr:g} @{best_step}")
    print("  valid MRR by step: " + " ".join(f"{s}:{m:.3f}" for s, m in history),
          file=sys.stderr)
    report(label, data, vectors, head, collections, seconds)
    np.savez(CACHE / f"head-{label.replace(' ', '_').replace('@', 'at')}.npz",
             layers=np.array(layers), **head.params(),
             **{f"mean{L}": means[L] for L in layers})
    return head


def export(head: Head, out: Path) -> None:
    """Write ``head`` as the product reads a trained head (``core.models.embed_head``): one
    block, a square linear map, nothing else; prints the sha256 its ``HeadSpec`` must carry."""
    if len(head.layers) != 1 or head.hidden_a is not None or head.query_a is not None:
        raise SystemExit("only a linear head on one block can be shipped")
    (layer,) = head.layers
    if head.w.shape != (len(head.means[layer]),) * 2:
        raise SystemExit(f"the head maps {head.w.shape}; the product needs a square map")
    out.parent.mkdir(parents=True, exist_ok=True)
    digest = save_head(out, layer, head.means[layer], head.w)
    print(f"{out}: block {layer}, sha256 {digest}")


def table(collections: list[str]) -> None:
    """The rows of ``results.jsonl`` as a markdown table (nDCG@10 dense / default hybrid)."""
    rows = [json.loads(line) for line in (CACHE / "results.jsonl").open()]
    print("| head | SQuAD MRR (held out) | teacher r | " +
          " | ".join(f"{c} dense / hybrid" for c in collections) + " |")
    print("|---|---|---|" + "---|" * len(collections))
    bm25 = [next((f"{r[f'{c}:bm25']:.3f}" for r in rows if f"{c}:bm25" in r), "—")
            for c in collections]
    print("| BM25 (FTS5, same chunks) | — | — | " + " | ".join(bm25) + " |")
    for row in rows:
        cells = [f"{row[f'{c}:dense']:.3f} / {row[f'{c}:default']:.3f}"
                 if f"{c}:dense" in row else "—" for c in collections]
        print(f"| {row['head']} | {row['squad_mrr']:.3f} | {row['distill_r']:.3f} | "
              + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("baseline", "ridge", "fit", "shipped", "table"))
    parser.add_argument("--eval", default=",".join(EVAL_TAGS))
    parser.add_argument("--data", default="train")
    parser.add_argument("--layers", default="15", help="comma-separated sets, e.g. 15,12+15")
    parser.add_argument("--lambdas", default="0.1,1,10")
    parser.add_argument("--dim", type=int, default=640, help="output width of the head")
    parser.add_argument("--query-rank", type=int, default=0)
    parser.add_argument("--hidden", type=int, default=0, help="MLP branch width (0: none)")
    parser.add_argument("--distill", default="0", help="comma-separated weights")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--scale", type=float, default=20.0)
    parser.add_argument("--anchor", type=float, default=0.0, help="pull toward the start")
    parser.add_argument("--export", type=Path,
                        help="write the fitted head as the product's head file (one fit only)")
    args = parser.parse_args()
    if args.what == "table":
        table([t for t in args.eval.split(",") if t])
        return
    data = Data(args.data)
    collections = [Collection.load(t) for t in args.eval.split(",")
                   if t and (CACHE / f"{t}.npz").is_file()]
    started = time.perf_counter()
    sets = [tuple(int(x) for x in s.split("+")) for s in args.layers.split(",")]
    if args.what == "baseline":
        baseline(data, collections)
    elif args.what == "shipped":
        shipped(data, collections)
    elif args.what == "ridge":
        ridge(data, collections, sets, [float(x) for x in args.lambdas.split(",")])
    else:
        fits = [(layers, float(distill)) for layers in sets for distill in args.distill.split(",")]
        if args.export and len(fits) != 1:
            raise SystemExit("--export takes one layer set and one distillation weight")
        for layers, distill in fits:
            head = fit(data, collections, layers, args.dim, args.query_rank, args.hidden,
                       distill, args.steps, args.lr, scale=args.scale, anchor=args.anchor)
            if args.export:
                export(head, args.export)
    print(f"{time.perf_counter() - started:.0f}s", file=sys.stderr)


if __name__ == "__main__":
    main()

"""Train an embed head on cached frozen features of gemma-3-270m and measure it.

Inputs (``features.py``): the training texts' pooled block features and their
all-MiniLM-L6-v2 vectors, and the eval collections' cached features. Heads are chosen on held-
out training data (SQuAD articles never trained on, held-out broad text); the eval figures
are only reported.

    python bench/embed_head/train.py ridge            # closed-form distillation, per layer
    python bench/embed_head/train.py torch --layers 12,15 --hidden 0 --steps 3000
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

from bench.embed_head.measure import CACHE, Collection, Head, measure, product_head  # noqa: E402
from core.models.embed_recipe import normalise_rows  # noqa: E402

EVAL_TAGS = ("adi", "medline", "cranfield", "scifact-1000")
SHOWN = ("bm25", "dense", "default", "guarded 0.5", "guarded 1", "rrf 1")


class Data:
    def __init__(self, name: str = "train") -> None:
        self.rows = [json.loads(line) for line in (CACHE / f"{name}.jsonl").open()]
        data = np.load(CACHE / f"{name}.npz")
        self.feats = {int(k[1:]): data[k] for k in data.files if k.startswith("f")}
        self.centre15 = data["centre"]
        self.teacher = normalise_rows(np.load(CACHE / f"{name}.teacher.npy"))
        kind = np.array([r["kind"] for r in self.rows])
        split = np.array([r["split"] for r in self.rows])
        self.is_query = kind == "question"
        # every tenth broad text is held out to check distillation
        broad = np.flatnonzero(kind == "broad")
        held = np.zeros(len(self.rows), bool)
        held[broad[::10]] = True
        self.train = (split == "train") & ~held
        self.held_broad = held
        self.valid = split == "valid"
        self.pair = np.array([r.get("pair", "") for r in self.rows])


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


class Inputs:
    """Per-layer normalised features, centred on the training mean, concatenated."""

    def __init__(self, layers: tuple[int, ...], feats: dict[int, np.ndarray],
                 mask: np.ndarray) -> None:
        self.layers = layers
        self.means = {L: unit(feats[L][mask]).mean(axis=0) for L in layers}

    def __call__(self, feats: dict[int, np.ndarray]) -> np.ndarray:
        return np.concatenate([unit(feats[L]) - self.means[L] for L in self.layers], axis=1)


def squad_valid(data: Data, vectors: np.ndarray) -> float:
    """MRR of held-out questions among the held-out paragraphs."""
    paragraphs = np.flatnonzero(data.valid & (data.is_query == False))  # noqa: E712
    questions = np.flatnonzero(data.valid & data.is_query)
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


def report(label: str, data: Data, train_vectors: np.ndarray, head: Head,
           collections: list[Collection], seconds: float = 0.0) -> dict:
    row = {"head": label, "squad_mrr": squad_valid(data, train_vectors),
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


def trained(data: Data, collections: list[Collection], layers: tuple[int, ...], rank: int,
            steps: int, contrast: float, seed: int = 0) -> None:
    """A low-rank (or full) linear head, query side with its own low-rank correction, trained
    with in-batch InfoNCE on SQuAD pairs plus a loss keeping the teacher's pairwise cosines
    on every training text; started from the ridge solution."""
    import torch

    torch.manual_seed(seed)
    inputs = Inputs(layers, data.feats, data.train)
    x_all = inputs(data.feats).astype(np.float32)
    x, y = x_all[data.train], data.teacher[data.train]
    w0 = np.linalg.solve(x.T @ x + np.eye(x.shape[1]), x.T @ y).astype(np.float32)
    w = torch.nn.Parameter(torch.from_numpy(w0))
    qa = torch.nn.Parameter(torch.zeros(x.shape[1], rank))
    qb = torch.nn.Parameter(torch.randn(rank, y.shape[1]) * 0.01)
    opt = torch.optim.Adam([w, qa, qb], lr=3e-4)
    X, Y = torch.from_numpy(x_all), torch.from_numpy(data.teacher.astype(np.float32))
    train = np.flatnonzero(data.train)
    questions = [i for i in train if data.is_query[i]]
    para_of = {data.pair[i]: i for i in train if data.rows[i]["kind"] == "paragraph"}
    rng = np.random.default_rng(seed)
    started = time.perf_counter()

    def embed(idx: np.ndarray, query: bool) -> torch.Tensor:
        out = X[idx] @ w
        if query:
            out = out + (X[idx] @ qa) @ qb
        return torch.nn.functional.normalize(out, dim=-1)

    for _ in range(steps):
        batch = rng.choice(train, 256, replace=False)
        is_q = data.is_query[batch]
        v = torch.cat([embed(batch[~is_q], False), embed(batch[is_q], True)])
        order = np.concatenate([batch[~is_q], batch[is_q]])
        t = Y[order]
        loss = ((v @ v.T - t @ t.T) ** 2).mean() * 10
        qs = rng.choice(questions, 128, replace=False)
        ps = np.array([para_of[data.pair[q]] for q in qs])
        _, first = np.unique(ps, return_index=True)
        qs, ps = qs[first], ps[first]
        logits = embed(qs, True) @ embed(ps, False).T * 20
        target = torch.arange(len(qs))
        loss = loss + contrast * torch.nn.functional.cross_entropy(logits, target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - started
    wn, qan, qbn = (p.detach().numpy() for p in (w, qa, qb))

    def head(f: dict[int, np.ndarray], q: bool) -> np.ndarray:
        z = inputs(f)
        out = z @ wn + ((z @ qan) @ qbn if q else 0.0)
        return unit(out).astype(np.float32)

    vectors = np.where(data.is_query[:, None], unit(x_all @ wn + (x_all @ qan) @ qbn),
                       unit(x_all @ wn))
    report(f"trained L{'+'.join(map(str, layers))} c{contrast:g} r{rank} s{steps}", data,
           vectors, head, collections, seconds)
    np.savez(CACHE / f"head-L{'+'.join(map(str, layers))}-c{contrast:g}.npz", w=wn, qa=qan,
             qb=qbn, **{f"mean{L}": inputs.means[L] for L in layers})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=("baseline", "ridge", "torch"))
    parser.add_argument("--eval", default=",".join(EVAL_TAGS))
    parser.add_argument("--layers", default="15")
    parser.add_argument("--lambdas", default="0.1,1,10")
    parser.add_argument("--data", default="small")
    parser.add_argument("--rank", type=int, default=32)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--contrast", default="0,0.3,1")
    args = parser.parse_args()
    data = Data(args.data)
    collections = [Collection.load(t) for t in args.eval.split(",")
                   if (CACHE / f"{t}.npz").is_file()]
    started = time.perf_counter()
    if args.what == "baseline":
        baseline(data, collections)
    elif args.what == "ridge":
        sets = [tuple(int(x) for x in s.split("+")) for s in args.layers.split(",")]
        ridge(data, collections, sets, [float(x) for x in args.lambdas.split(",")])
    else:
        for layers in args.layers.split(","):
            for contrast in args.contrast.split(","):
                trained(data, collections, tuple(int(x) for x in layers.split("+")),
                        args.rank, args.steps, float(contrast))
    print(f"{time.perf_counter() - started:.0f}s", file=sys.stderr)


if __name__ == "__main__":
    main()

"""The second rung of the embed mode (issue 22): a LoRA adapter on the blocks below the trained
head, learned on SQuAD question -> paragraph pairs of ``../shared/train`` with the head itself.

The blocks up to ``--cached`` never change, so their output for every training text is computed
once and kept (``cache``); training then runs only the adapted blocks above it, up to the
head's block, and the head. Batches are large for a contrastive loss on two cores by encoding
twice: first without gradients to get every vector of the batch and the loss's gradient on each,
then in small groups with gradients, each group's vectors taking its share (the "gradient cache"
idea). The start is exactly the shipped head (the adapter's B matrices start at zero).

Three steps, the first in the product's environment (it tokenises with llama.cpp as the
product does, and reads llama.cpp's own pooled block states of the held-out texts to check
torch against), the others with torch, transformers and peft (``bench/lora_cost.py``):

    python bench/embed_head/texts.py bench/.cache/embed_head/train.jsonl --broad 3000
    python bench/embed_head/lora.py tokens bench/.cache/embed_head/train.jsonl \\
        bench/.cache/embed_head/lora-tokens.npz --paragraphs 6000          # 32 s
    /tmp/lora/bin/python bench/embed_head/lora.py cache GGUF \\
        bench/.cache/embed_head/lora-tokens.npz bench/.cache/embed_head/lora-states \\
        --cached 6                                                  # 18 min, 3.6 GB
    /tmp/lora/bin/python bench/embed_head/lora.py train GGUF \\
        bench/.cache/embed_head/lora-tokens.npz bench/.cache/embed_head/lora-states \\
        --direct --batch 64 --steps 150 --every 25 --lr 3e-4 \\
        --export bench/.cache/embed_head/lora-b12                   # 48 min
    # measured through llama.cpp with the adapter on the embed context, beside the base:
    python bench/embed_head/features.py eval adi medline --embed-adapter \\
        bench/.cache/embed_head/lora-b12.gguf --threads 1
    python bench/embed_head/lora.py compare adi medline --adapted bench/.cache/embed_head/lora-b12

(GGUF: the bundled model, ``~/.local/share/Kenning/models/gemma-3-270m-q4_k_m.gguf``.) The
files ``--export`` wrote on 2026-12-07 ship as ``resources/embed_heads/gemma-3-270m-b12-v2.npz``
and ``...-v2-adapter.gguf``; their fusion with the keywords is chosen by ``fusion.py``. With
``tokens --broad N --teacher MINILM.gguf`` and ``train --distill W``, training also keeps
all-MiniLM-L6-v2's pairwise cosines over a batch of training paragraphs and technical prose,
as the shipped head was trained.

Held out: the paragraphs of whole articles never trained on (``texts.py``), the odd-numbered
articles choosing the step, the even ones reporting (MRR of their questions among all held-out
paragraphs), as ``train.py`` does for the head alone.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

HEAD_FILE = ROOT / "resources" / "embed_heads" / "gemma-3-270m-b12-v1.npz"
PROJECTIONS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


# ---- tokens (product environment) ----------------------------------------------------------

def tokens(source: Path, out: Path, paragraphs: int, broad: int, teacher: Path | None,
           check: int) -> None:
    from bench.embed_head.features import load_tap_model

    rows = [json.loads(line) for line in source.open()]
    valid = [r for r in rows if r["split"] == "valid" and r["kind"] != "broad"]
    train: list[dict] = []
    seen: set[str] = set()
    for row in rows:
        if row["split"] != "train" or row["kind"] == "broad":
            continue
        if row["kind"] == "paragraph":
            if len(seen) == paragraphs:
                break
            seen.add(row["pair"])
        train.append(row)
    train += [r for r in rows if r["split"] == "train" and r["kind"] == "broad"][:broad]
    chosen = valid + train
    taught = np.full((len(chosen), 384), np.nan, np.float32)
    if teacher is not None:
        # the teacher's vectors of what distillation reads: training paragraphs and broad prose
        from core.models.llama.unified import UnifiedModel

        which = [n for n, r in enumerate(chosen) if r["split"] == "train"
                 and r["kind"] != "question"]
        with UnifiedModel.load(teacher) as minilm:
            for first in range(0, len(which), 64):
                part = which[first: first + 64]
                taught[part] = minilm.embed_documents([chosen[n]["text"] for n in part])
    model = load_tap_model()
    ids: list[int] = []
    offsets, spans = [0], []
    for row in chosen:
        item = model._embed_input(row["text"], "")
        ids.extend(item.tokens)
        offsets.append(len(ids))
        spans.append((item.start, item.end))
    # llama.cpp's own pooled block-12 states of the first held-out texts, to check torch by
    model.embed_documents([r["text"] for r in valid[:check]])
    reference = model.take()[12]
    model.close()
    np.savez(out, ids=np.array(ids, np.int32), offsets=np.array(offsets, np.int64),
             spans=np.array(spans, np.int32),
             kind=np.array([r["kind"] for r in chosen]),
             split=np.array([r["split"] for r in chosen]),
             pair=np.array([r.get("pair", "") for r in chosen]), reference=reference,
             teacher=taught)
    print(f"{len(chosen)} texts ({len(valid)} held out), {len(ids)} tokens -> {out}")


# ---- torch side ---------------------------------------------------------------------------

class Texts:
    def __init__(self, path: Path) -> None:
        data = np.load(path)
        self.ids = data["ids"]
        self.offsets = data["offsets"]
        self.spans = data["spans"]
        self.kind = data["kind"]
        self.split = data["split"]
        self.pair = data["pair"]
        self.reference = data["reference"]
        self.teacher = data.get("teacher")

    def __len__(self) -> int:
        return len(self.spans)

    def length(self, index: int) -> int:
        return int(self.offsets[index + 1] - self.offsets[index])

    def tokens(self, index: int) -> np.ndarray:
        return self.ids[self.offsets[index]: self.offsets[index + 1]]


def load_body(gguf: Path, last_block: int, adapt_from: int | None, rank: int) -> Any:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                                 dtype=torch.float32,
                                                 attn_implementation="sdpa")
    model.model.layers = model.model.layers[: last_block + 1]
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    if adapt_from is None:
        return model
    blocks = list(range(adapt_from, last_block + 1))
    return get_peft_model(model, LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.0,
                                            target_modules=PROJECTIONS,
                                            layers_to_transform=blocks))


def text_model(model: Any) -> Any:
    inner = model.base_model.model if hasattr(model, "peft_config") else model
    return inner.model


def run_blocks(body: Any, hidden: Any, first: int, last: int) -> Any:
    """Blocks ``first..last`` (llama.cpp's numbering: block b writes ``l_out-b``) on rows that
    already went through the blocks below ``first``; causal, so right padding never reaches a
    real row."""
    import torch

    batch, length, _ = hidden.shape
    positions = torch.arange(length).unsqueeze(0).expand(batch, -1)
    types = body.config.layer_types
    rotary = {kind: body.rotary_emb(hidden, positions, kind) for kind in set(types)}
    mask = torch.full((length, length), float("-inf")).triu(1)[None, None]
    for index in range(first, last + 1):
        hidden = body.layers[index](hidden, attention_mask=mask,
                                    position_embeddings=rotary[types[index]],
                                    position_ids=positions)
    return hidden


def cache(gguf: Path, token_file: Path, out: Path, cached: int, threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    texts = Texts(token_file)
    model = load_body(gguf, cached, None, 0)
    body = text_model(model)
    out.mkdir(parents=True, exist_ok=True)
    total = int(texts.offsets[-1])
    states = np.lib.format.open_memmap(out / f"block{cached}.npy", mode="w+",
                                       dtype=np.float32, shape=(total, body.config.hidden_size))
    order = np.argsort([texts.length(i) for i in range(len(texts))])
    started = time.perf_counter()
    group = 16
    with torch.no_grad():
        for first in range(0, len(order), group):
            members = order[first: first + group]
            rows = [texts.tokens(i) for i in members]
            width = max(len(r) for r in rows)
            ids = torch.zeros((len(rows), width), dtype=torch.long)
            for n, r in enumerate(rows):
                ids[n, : len(r)] = torch.from_numpy(r.astype(np.int64))
            hidden = run_blocks(body, body.embed_tokens(ids), 0, cached)
            for n, i in enumerate(members):
                states[texts.offsets[i]: texts.offsets[i + 1]] = hidden[n, : len(rows[n])].numpy()
            if first % (group * 50) == 0:
                print(f"{first + len(members)}/{len(order)} texts, "
                      f"{time.perf_counter() - started:.0f}s", file=sys.stderr)
    states.flush()
    print(f"block {cached} states of {len(texts)} texts ({total} tokens) in "
          f"{time.perf_counter() - started:.0f}s -> {out}")


class Encoder:
    """Cached block states -> adapted blocks -> pooled, RMS-scaled rows -> the head."""

    def __init__(self, body: Any, texts: Texts, states: np.ndarray, first: int, last: int,
                 mean: Any, weight: Any) -> None:
        self.body, self.texts, self.states = body, texts, states
        self.first, self.last = first, last
        self.mean, self.weight = mean, weight

    def pooled(self, members: list[int]) -> Any:
        import torch

        lengths = [self.texts.length(i) for i in members]
        hidden = torch.zeros((len(members), max(lengths), self.states.shape[1]))
        for n, i in enumerate(members):
            hidden[n, : lengths[n]] = torch.from_numpy(
                np.array(self.states[self.texts.offsets[i]: self.texts.offsets[i + 1]]))
        hidden = run_blocks(self.body, hidden, self.first, self.last)
        hidden = hidden * torch.rsqrt(hidden.pow(2).mean(dim=-1, keepdim=True) + 1e-6)
        out = []
        for n, i in enumerate(members):
            start, end = (int(v) for v in self.texts.spans[i])
            out.append(hidden[n, start:end].mean(dim=0))
        return torch.stack(out)

    def groups(self, members: list[int], group: int = 16) -> list[list[int]]:
        """Positions in ``members``, shortest texts first, ``group`` at a time (little padding)."""
        order = sorted(range(len(members)), key=lambda n: self.texts.length(members[n]))
        return [order[first: first + group] for first in range(0, len(order), group)]

    def vectors(self, members: list[int]) -> Any:
        import torch

        parts = self.groups(members)
        stacked = torch.cat([self.head(self.pooled([members[n] for n in part]))
                             for part in parts])
        where = {n: row for row, n in enumerate(n for part in parts for n in part)}
        return stacked[[where[n] for n in range(len(members))]]

    def head(self, pooled: Any) -> Any:
        import torch.nn.functional as F

        return F.normalize((F.normalize(pooled, dim=-1) - self.mean) @ self.weight, dim=-1)


def infonce(questions: Any, paragraphs: Any, scale: float) -> Any:
    import torch
    import torch.nn.functional as F

    logits = scale * questions @ paragraphs.T
    target = torch.arange(len(questions))
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def relational(vectors: Any, teacher: Any) -> Any:
    """Mean squared difference between the batch's pairwise cosines and the teacher's (as
    ``heads.relational``, the shipped head's distillation)."""
    return ((vectors @ vectors.T - teacher @ teacher.T) ** 2).mean()


def held_out_mrr(encoder: Encoder) -> tuple[float, float]:
    """MRR of held-out questions among all held-out paragraphs: (choosing half, reporting
    half) by article number's parity."""
    import torch

    texts = encoder.texts
    paragraphs = [i for i in range(len(texts))
                  if texts.split[i] == "valid" and texts.kind[i] == "paragraph"]
    questions = [i for i in range(len(texts))
                 if texts.split[i] == "valid" and texts.kind[i] == "question"]
    with torch.no_grad():
        p = encoder.vectors(paragraphs).numpy()
        q = encoder.vectors(questions).numpy()
    index = {str(texts.pair[i]): n for n, i in enumerate(paragraphs)}
    scores = q @ p.T
    halves: dict[int, list[float]] = {0: [], 1: []}
    for n, i in enumerate(questions):
        gold = index[str(texts.pair[i])]
        rank = int((scores[n] > scores[n, gold]).sum()) + 1
        halves[int(str(texts.pair[i]).split("-")[0]) % 2].append(1 / rank)
    return float(np.mean(halves[1])), float(np.mean(halves[0]))


def train(gguf: Path, token_file: Path, state_dir: Path, cached: int, last: int, rank: int,
          steps: int, batch: int, lr: float, head_lr: float, scale: float, every: int,
          threads: int, seed: int, export: Path | None, direct: bool,
          per_article: int, distill: float, distill_batch: int) -> None:
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    texts = Texts(token_file)
    states = np.load(state_dir / f"block{cached}.npy", mmap_mode="r")
    head = np.load(HEAD_FILE)
    if int(head["layer"]) != last:
        raise SystemExit(f"the head reads block {int(head['layer'])}, not {last}")
    started = time.perf_counter()
    model = load_body(gguf, last, cached + 1, rank)
    body = text_model(model)
    mean = torch.tensor(head["mean"], dtype=torch.float32)
    weight = torch.nn.Parameter(torch.tensor(head["weight"], dtype=torch.float32))
    encoder = Encoder(body, texts, states, cached + 1, last, mean, weight)
    adapter = [p for p in model.parameters() if p.requires_grad]
    print(f"loaded in {time.perf_counter() - started:.0f}s; adapter "
          f"{sum(p.numel() for p in adapter) / 1e6:.2f}M parameters on blocks "
          f"{cached + 1}..{last}", file=sys.stderr)

    # torch's pooled states against llama.cpp's own, for the first held-out texts
    with torch.no_grad():
        mine = encoder.pooled(list(range(len(texts.reference)))).numpy()
    ref = texts.reference
    cosine = (mine * ref).sum(1) / np.linalg.norm(mine, axis=1) / np.linalg.norm(ref, axis=1)
    print(f"torch vs llama.cpp pooled block {last}: cosine min {cosine.min():.4f} "
          f"mean {cosine.mean():.4f}", file=sys.stderr)

    by_pair: dict[str, list[int]] = {}
    paragraph_of: dict[str, int] = {}
    for i in range(len(texts)):
        if texts.split[i] != "train":
            continue
        if texts.kind[i] == "paragraph":
            paragraph_of[str(texts.pair[i])] = i
        elif texts.kind[i] == "question":
            by_pair.setdefault(str(texts.pair[i]), []).append(i)
    pairs = [p for p in paragraph_of if p in by_pair]
    taught = (np.flatnonzero(np.isfinite(texts.teacher[:, 0])) if texts.teacher is not None
              else np.zeros(0, np.int64))
    if distill and (not direct or len(taught) < distill_batch):
        raise SystemExit("distillation needs --direct and texts with teacher vectors "
                         "(tokens --teacher)")
    teacher = torch.nn.functional.normalize(torch.tensor(
        np.nan_to_num(texts.teacher) if texts.teacher is not None else np.zeros((1, 1))), dim=-1)
    grouped: dict[str, list[str]] = {}
    for p in pairs:
        grouped.setdefault(p.split("-")[0], []).append(p)
    articles = [ps for ps in grouped.values() if len(ps) >= per_article]
    if per_article and len(articles) < batch // per_article:
        raise SystemExit(f"only {len(articles)} articles have {per_article} training paragraphs")
    optimiser = torch.optim.AdamW([{"params": adapter, "lr": lr},
                                   {"params": [weight], "lr": head_lr}], weight_decay=0.0)
    choose, report = held_out_mrr(encoder)
    best = (choose, 0, report)
    print(f"step 0: held-out MRR choosing {choose:.4f} reporting {report:.4f}", file=sys.stderr)
    log = [{"step": 0, "choose": choose, "report": report, "seconds": 0.0}]
    order = rng.permutation(len(pairs))
    position = 0
    started = time.perf_counter()

    def report_progress(step: int, loss: Any) -> None:
        nonlocal best
        if step % 10 == 0:
            print(f"step {step}: loss {loss.item():.3f}, "
                  f"{(time.perf_counter() - started) / step:.1f}s/step", file=sys.stderr)
        if step % every and step != steps:
            return
        choose, report = held_out_mrr(encoder)
        log.append({"step": step, "choose": choose, "report": report,
                    "seconds": time.perf_counter() - started})
        print(f"step {step}: held-out MRR choosing {choose:.4f} reporting {report:.4f}",
              file=sys.stderr)
        if choose > best[0]:
            best = (choose, step, report)
            if export is not None:  # written now, so a run stopped early keeps its best step
                write(model, weight.detach().numpy(), mean.numpy(), last, export)

    for step in range(1, steps + 1):
        if per_article:
            # paragraphs of the same article are the negatives that teach most
            picked = rng.choice(len(articles), batch // per_article, replace=False)
            chosen = [p for a in picked
                      for p in rng.choice(articles[a], per_article, replace=False)]
        else:
            if position + batch > len(order):
                order, position = rng.permutation(len(pairs)), 0
            chosen = [pairs[k] for k in order[position: position + batch]]
            position += batch
        qs = [int(rng.choice(by_pair[p])) for p in chosen]
        ps = [paragraph_of[p] for p in chosen]
        if direct:
            loss = infonce(encoder.vectors(qs), encoder.vectors(ps), scale)
            if distill:
                some = [int(n) for n in rng.choice(taught, distill_batch, replace=False)]
                loss = loss + distill * relational(encoder.vectors(some), teacher[some])
            loss.backward()
            optimiser.step()
            optimiser.zero_grad()
            report_progress(step, loss)
            continue
        with torch.no_grad():
            vq, vp = encoder.vectors(qs), encoder.vectors(ps)
        vq.requires_grad_(True)
        vp.requires_grad_(True)
        loss = infonce(vq, vp, scale)
        loss.backward()
        for members, grads in ((qs, vq.grad), (ps, vp.grad)):
            for part in encoder.groups(members):
                vectors = encoder.head(encoder.pooled([members[n] for n in part]))
                vectors.backward(grads[part])
        optimiser.step()
        optimiser.zero_grad()
        report_progress(step, loss)
    seconds = time.perf_counter() - started
    print(json.dumps({"best_step": best[1], "choose": best[0], "report": best[2],
                      "start": log[0], "seconds": round(seconds), "batch": batch,
                      "steps": steps, "lr": lr, "head_lr": head_lr, "rank": rank,
                      "distill": distill, "per_article": per_article,
                      "blocks": [cached + 1, last], "log": log}))


def write(model: Any, weight: np.ndarray, mean: np.ndarray, layer: int, prefix: Path) -> None:
    """The adapter as it stands (GGUF) and the head's map (npz) under ``prefix``."""
    from bench.lora_cost import export_gguf

    count = export_gguf(model, "gemma3", prefix.with_suffix(".gguf"))
    np.savez(prefix.with_suffix(".npz"), layer=np.array(layer), mean=mean.astype(np.float32),
             weight=weight.astype(np.float32))
    print(f"adapter ({count} weights) -> {prefix.with_suffix('.gguf')}; head -> "
          f"{prefix.with_suffix('.npz')}", file=sys.stderr)


def compare(collections: list[str], adapted: Path) -> None:
    """nDCG@10 (recall@100) of BM25, the zero-shot recipe, the shipped head and the adapter
    with its head, through the product's fusion, over eval features cached by ``features.py
    eval`` without and with ``--embed-adapter`` (measured only; nothing is fitted here)."""
    from bench.embed_head.measure import CACHE, Collection, measure, product_head
    from core.models.embed_head import GEMMA_270M_BLOCK12 as HEAD_ALONE
    from core.models.embed_head import EmbedHead

    shipped = EmbedHead.load(HEAD_ALONE)
    with np.load(adapted.with_suffix(".npz")) as arrays:
        trained = EmbedHead(HEAD_ALONE, arrays["mean"].astype(np.float32),
                            arrays["weight"].astype(np.float32))
    layer = HEAD_ALONE.layer
    for tag in collections:
        with_adapter = Collection.load(f"{tag}+{adapted.stem}")
        rows = [(f"lora {adapted.stem}", with_adapter, lambda f, q: trained.apply(f[layer]))]
        if (CACHE / f"{tag}.npz").is_file():  # the base model's features, when cached too
            base = Collection.load(tag)
            rows[:0] = [("zero-shot", base, product_head(base.centre)),
                        (HEAD_ALONE.tag, base, lambda f, q: shipped.apply(f[layer]))]
        for label, coll, head in rows:
            figures = measure(coll, head, weights=(1.0,))
            print(f"{tag:16} {label:22} bm25 {figures['bm25']:.3f} ({figures['bm25 r']:.3f}) "
                  f"dense {figures['dense']:.3f} ({figures['dense r']:.3f}) hybrid "
                  f"{figures['default']:.3f} ({figures['default r']:.3f}) guarded-1 "
                  f"{figures['guarded 1']:.3f} rrf-1 {figures['rrf 1']:.3f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    tk = sub.add_parser("tokens")
    tk.add_argument("source", type=Path)
    tk.add_argument("out", type=Path)
    tk.add_argument("--paragraphs", type=int, default=6000)
    tk.add_argument("--broad", type=int, default=0, help="training prose for distillation")
    tk.add_argument("--teacher", type=Path, help="all-MiniLM-L6-v2 GGUF (bench/minilm_gguf.py)")
    tk.add_argument("--check", type=int, default=64)
    ca = sub.add_parser("cache")
    tr = sub.add_parser("train")
    for each in (ca, tr):
        each.add_argument("gguf", type=Path)
        each.add_argument("token_file", type=Path)
        each.add_argument("state_dir", type=Path)
        each.add_argument("--cached", type=int, default=6, help="the last frozen block")
        each.add_argument("--threads", type=int, default=2)
    tr.add_argument("--last", type=int, default=12, help="the head's block")
    tr.add_argument("--rank", type=int, default=8)
    tr.add_argument("--steps", type=int, default=300)
    tr.add_argument("--batch", type=int, default=128)
    tr.add_argument("--lr", type=float, default=2e-4)
    tr.add_argument("--head-lr", type=float, default=3e-5)
    tr.add_argument("--scale", type=float, default=20.0)
    tr.add_argument("--every", type=int, default=25)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--per-article", type=int, default=0,
                    help="batches of this many paragraphs from each of batch/N articles")
    tr.add_argument("--distill", type=float, default=0.0,
                    help="weight of keeping all-MiniLM-L6-v2's pairwise cosines (needs --direct)")
    tr.add_argument("--distill-batch", type=int, default=32)
    tr.add_argument("--direct", action="store_true",
                    help="one pass with gradients over the whole batch (more memory, less time)")
    tr.add_argument("--export", type=Path, help="path prefix for the .gguf adapter and .npz head")
    co = sub.add_parser("compare")
    co.add_argument("collections", nargs="+", help="eval feature tags, e.g. adi medline")
    co.add_argument("--adapted", type=Path, required=True, help="the --export prefix")
    args = parser.parse_args()
    if args.what == "compare":
        compare(args.collections, args.adapted)
    elif args.what == "tokens":
        tokens(args.source, args.out, args.paragraphs, args.broad, args.teacher, args.check)
    elif args.what == "cache":
        cache(args.gguf, args.token_file, args.state_dir, args.cached, args.threads)
    else:
        train(args.gguf, args.token_file, args.state_dir, args.cached, args.last, args.rank,
              args.steps, args.batch, args.lr, args.head_lr, args.scale, args.every,
              args.threads, args.seed, args.export, args.direct, args.per_article,
              args.distill, args.distill_batch)


if __name__ == "__main__":
    main()

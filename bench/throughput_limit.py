"""Embedding throughput against the hardware limit, and the memory indexing takes.

The limit: the same llama.cpp build's raw prompt-processing rate for the bundled model (its
prepared copy, the weights the product loads: core/models/llama/prepared_weights.py), as
``llama-bench -p 512`` measures it: one decode of ``--raw-tokens`` tokens of real text in one
sequence (all layers, logits for the last token only), through the low-level bindings.

The real pipeline: ``Indexer`` with the real model on a generated mixed folder (txt, md, html,
pdf, docx of Medline abstracts, ``bench/embed_coverage.make_folder``): scan → extract (child
process) → chunk → SQLite/FTS5 → embed → vectors, in a child process of its own under
cProfile, so its peak RSS (``ru_maxrss``, and the extraction child's) is the pipeline's alone.
Tokens are those the model decodes (title/heading context + text + specials, cut at the
window). The raw rate is measured before and after the pipeline, so load changes show.

    nice -n 10 python bench/throughput_limit.py              # 50 files, 3 abstracts each
    nice -n 10 python bench/throughput_limit.py --files 20 --json docs/throughput.json
    nice -n 10 python bench/throughput_limit.py --against-zero-shot   # + the pipeline without
                                                                      # the trained embed mode

Prints raw tok/s, pipeline tok/s, the ratio (goal >= 0.8), where the pipeline's time went,
and peak RSS (goal < 1 GB). Never gates CI.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import llama_cpp  # noqa: E402

from bench.embed_coverage import CORPUS, make_folder  # noqa: E402
from core.models.default_model import default_model_path  # noqa: E402
from core.models.llama.bindings import (  # noqa: E402
    TokenBatch,
    clear_memory,
    default_thread_count,
    model_params,
    route_llama_logs,
    tokenize,
)
from core.models.llama.prepared_weights import prepared_weights  # noqa: E402

MODEL_HOME = Path(tempfile.gettempdir()) / "kenning-bench"
MODEL_CACHE = MODEL_HOME / "cache"

# Where the pipeline's time goes: (label, source file suffix, function name). Cumulative
# times from the profile; extraction is the parent waiting on the extraction child.
TIME_SPLIT = (
    ("scan (walk + stat)", "core/index/indexer.py", "scan"),
    ("extraction (child process, incl. IPC)", "core/extract/worker.py", "extract"),
    ("hashing the file", "core/index/indexer.py", "_hash_regular_file"),
    ("chunking", "core/index/chunking.py", "chunk_document"),
    ("SQLite: chunks + FTS5 (replace_chunks)", "core/store/chunks.py", "replace_chunks"),
    ("embedding calls (embed_documents)", "core/models/interface.py", "embed_documents"),
    ("  of which tokenizing", "core/models/llama/unified.py", "_embed_input"),
    ("  of which decode + pooling (_decode_group)", "core/models/llama/unified.py",
     "_decode_group"),
    ("SQLite: find chunks to embed", "core/store/chunks.py", "chunks_needing_vectors"),
    ("SQLite: store vectors (add_vectors)", "core/store/chunks.py", "add_vectors"),
)


# -- the limit ------------------------------------------------------------------------------


def raw_prompt_rate(model_path: Path, tokens: int, threads: int, repeats: int) -> float:
    """Tokens/s of ``repeats`` decodes of ``tokens`` tokens (llama-bench style), median: on a
    shared machine the best would flatter the limit against the pipeline's average."""
    route_llama_logs()
    llama_cpp.llama_backend_init()
    model = llama_cpp.llama_model_load_from_file(
        str(model_path).encode(), model_params())
    params = llama_cpp.llama_context_default_params()
    params.n_ctx = params.n_batch = params.n_ubatch = tokens
    params.n_threads = params.n_threads_batch = threads
    params.flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_AUTO  # as the product's contexts
    params.no_perf = True
    context = llama_cpp.llama_init_from_model(model, params)
    try:
        text = CORPUS.read_text(encoding="utf-8")[: tokens * 8]
        ids = tokenize(llama_cpp.llama_model_get_vocab(model), text, add_special=True,
                       parse_special=False)[:tokens]
        batch = TokenBatch(tokens)
        batch.fill_run(ids, 0, last_is_output=True)
        seconds = []
        for _ in range(repeats + 1):  # the first touches the weights: not throughput
            clear_memory(context)
            start = time.perf_counter()
            if llama_cpp.llama_decode(context, batch.batch) != 0:
                raise RuntimeError("llama_decode failed on the raw batch")
            llama_cpp.llama_synchronize(context)
            seconds.append(time.perf_counter() - start)
        return len(ids) / statistics.median(seconds[1:])
    finally:
        llama_cpp.llama_free(context)
        llama_cpp.llama_model_free(model)


# -- the pipeline (child process) ------------------------------------------------------------


def run_pipeline(folder: Path, home: Path, trained_head: bool | None = None) -> dict[str, Any]:
    """Index ``folder`` with the real model into a fresh store; timings, tokens and memory.
    ``trained_head`` False embeds with the zero-shot recipe instead of the trained mode."""
    from core.config import Settings
    from core.index.indexer import Indexer
    from core.models.llama.unified import UnifiedModel
    from core.services import embed_pass_tokens
    from core.store.database import Store

    start = time.perf_counter()
    # The embedding pass the product uses (core/services.py), not the loader's default.
    model = UnifiedModel.load(default_model_path(MODEL_HOME),
                              embed_batch_tokens=embed_pass_tokens(Settings()),
                              cache_dir=MODEL_CACHE, trained_head=trained_head)
    load_seconds = time.perf_counter() - start
    rss_after_load = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    decoded: list[str] = []
    embed = model.embed_documents

    def counting_embed(texts: Any) -> Any:
        decoded.extend(texts)  # counted after the run, so counting costs the run nothing
        return embed(texts)

    model.embed_documents = counting_embed  # type: ignore[method-assign]
    store = Store.open(home / "kenning.db")
    profiler = cProfile.Profile()
    with Indexer(store, model, Settings()) as indexer:
        indexer.add_folder(folder)
        start = time.perf_counter()
        profiler.enable()
        indexer.scan()
        extracted = indexer.extract_pending()
        after_extract = time.perf_counter()
        embedded = indexer.embed_pending()
        profiler.disable()
        end = time.perf_counter()
        child_peak_mb = max((peak_rss_mb(pid) for pid in child_pids()), default=0.0)
    window = model.embed_max_tokens
    tokens = sum(min(model.count_tokens(t) + 1, window) for t in decoded)
    split = profile_split(pstats.Stats(profiler))
    store.close()
    model.close()
    return {
        "files": extracted, "chunks": embedded, "tokens": tokens,
        "model_load_s": load_seconds, "extract_phase_s": after_extract - start,
        "embed_phase_s": end - after_extract, "total_s": end - start, "split": split,
        "rss_after_model_load_mb": rss_after_load,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "extraction_child_peak_rss_mb": child_peak_mb,
    }


def child_pids() -> list[int]:
    """This process's children (the extraction child, multiprocessing's resource tracker)."""
    pids: list[int] = []
    for task in Path("/proc/self/task").iterdir():
        pids += [int(pid) for pid in (task / "children").read_text().split()]
    return pids


def peak_rss_mb(pid: int) -> float:
    """VmHWM of a live process. (RUSAGE_CHILDREN would count the parent's pages a child
    had between fork and exec: multiprocessing's "spawn" starts from a fork.)"""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def profile_split(stats: pstats.Stats) -> dict[str, float]:
    table: dict[tuple[str, int, str], tuple[Any, ...]] = stats.stats  # type: ignore[attr-defined]
    split = {}
    for label, suffix, name in TIME_SPLIT:
        split[label] = sum(row[3] for (file, _, func), row in table.items()
                           if func == name and file.endswith(suffix))
    return split


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=50)
    parser.add_argument("--paragraphs", type=int, default=3, help="abstracts per file")
    parser.add_argument("--raw-tokens", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5, help="raw decodes (best is kept)")
    parser.add_argument("--threads", type=int, default=default_thread_count())
    parser.add_argument("--json", type=Path, help="also write the figures here (bench/plots.py)")
    parser.add_argument("--against-zero-shot", action="store_true",
                        help="also index the folder with the zero-shot recipe and compare")
    parser.add_argument("--pipeline-child", nargs=2, type=Path, metavar=("FOLDER", "HOME"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--zero-shot-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.pipeline_child:
        trained = False if args.zero_shot_child else None
        print(json.dumps(run_pipeline(*args.pipeline_child, trained_head=trained)))
        return 0

    # The raw rate of the weights the product loads: the bundled model's prepared copy.
    model_path = prepared_weights(default_model_path(MODEL_HOME), MODEL_CACHE)
    work = Path(tempfile.mkdtemp(prefix="kenning-throughput-"))
    folder = work / "files"
    make_folder(folder, args.files, args.paragraphs)
    loads = [os.getloadavg()[0]]
    raw_before = raw_prompt_rate(model_path, args.raw_tokens, args.threads, args.repeats)
    pipeline = _pipeline_child(folder, work / "home")
    loads.append(os.getloadavg()[0])
    zero_shot = (_pipeline_child(folder, work / "home-zero-shot", zero_shot=True)
                 if args.against_zero_shot else None)
    raw_after = raw_prompt_rate(model_path, args.raw_tokens, args.threads, args.repeats)
    loads.append(os.getloadavg()[0])

    raw = statistics.mean([raw_before, raw_after])
    total = pipeline["total_s"]
    rate = pipeline["tokens"] / total
    embed_rate = pipeline["tokens"] / pipeline["split"]["embedding calls (embed_documents)"]
    print(f"model {model_path.name}, {args.threads} threads; load average "
          + " → ".join(f"{x:.1f}" for x in loads))
    print(f"raw prompt processing ({args.raw_tokens} tokens, one decode, median of "
          f"{args.repeats}): {raw_before:.0f} tok/s before, {raw_after:.0f} after, "
          f"mean {raw:.0f}")
    print(f"pipeline: {pipeline['files']} files, {pipeline['chunks']} chunks, "
          f"{pipeline['tokens']} tokens decoded in {total:.1f} s "
          f"(extract phase {pipeline['extract_phase_s']:.1f} s, embed phase "
          f"{pipeline['embed_phase_s']:.1f} s; model load {pipeline['model_load_s']:.1f} s "
          "not counted)")
    print(f"  end to end {rate:.0f} tok/s = {rate / raw:.2f}x raw (goal >= 0.8)")
    print(f"  embedding calls alone {embed_rate:.0f} tok/s = {embed_rate / raw:.2f}x raw")
    print("where the pipeline's time went (cProfile cumulative; parts overlap where nested):")
    for label, seconds in pipeline["split"].items():
        print(f"  {label:42s} {seconds:7.2f} s  {100 * seconds / total:5.1f} %")
    if zero_shot is not None:
        zero_rate = zero_shot["tokens"] / zero_shot["total_s"]
        print(f"  the zero-shot recipe, same folder, right after: {zero_rate:.0f} tok/s end to "
              f"end; the default's {rate:.0f} is {rate / zero_rate:.2f}x it")
    print(f"memory: peak RSS {pipeline['peak_rss_mb']:.0f} MB (after model load "
          f"{pipeline['rss_after_model_load_mb']:.0f} MB); extraction child peak "
          f"{pipeline['extraction_child_peak_rss_mb']:.0f} MB (goal < 1 GB)")
    shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps({
            "date": time.strftime("%Y-%m-%d"), "load_average": loads,
            "raw_tok_s": [raw_before, raw_after], "pipeline": pipeline,
        }, indent=2) + "\n", encoding="utf-8")
    return 0


def _pipeline_child(folder: Path, home: Path, zero_shot: bool = False) -> dict[str, Any]:
    child = subprocess.run(
        [sys.executable, __file__, "--pipeline-child", str(folder), str(home),
         *(["--zero-shot-child"] if zero_shot else [])], capture_output=True, text=True)
    if child.returncode != 0:
        raise SystemExit(f"The pipeline run failed:\n{child.stderr[-3000:]}")
    return json.loads(child.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    raise SystemExit(main())

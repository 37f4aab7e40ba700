"""Search while indexing runs: hybrid query latency (the query embedded by the model) on an
idle model against the same queries while background embedding runs on the same model.

The engine's arrangement, without the window: one ``ModelWorker`` thread owns the model; the
indexer embeds through its background client, search through its interactive client, which
jumps the queue and stops the background pass in flight (older code waited for it; run this
script from an older checkout for the before figure). The idle run is the baseline
measured in the same process; the ratio is printed, and the background embedding rate with and
without queries in between.

    nice -n 10 python bench/busy_search.py                 # 600 Medline abstracts, 40 queries
    python bench/busy_search.py --docs 600 --queries 60 --threads 1

Never gates CI on a time.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.cancel import CancelToken, Progress  # noqa: E402
from core.config import AppPaths, Settings  # noqa: E402
from core.index.indexer import Indexer  # noqa: E402
from core.models.interface import TextModel  # noqa: E402
from core.models.worker import INTERACTIVE_GRACE_S, ModelWorker, Priority  # noqa: E402
from core.search.retrieval import search  # noqa: E402
from core.services import load_default_or_chosen_model  # noqa: E402
from core.store.database import Store  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval" / "medline"
CACHE = ROOT / "bench" / ".cache"


def write_corpus(folder: Path, count: int) -> None:
    with (EVAL / "corpus.jsonl").open(encoding="utf-8") as lines:
        for line in itertools.islice(lines, count):
            doc = json.loads(line)
            (folder / f"{doc['_id']}.txt").write_text(doc["text"], encoding="utf-8")


def queries(count: int) -> list[str]:
    with (EVAL / "queries.jsonl").open(encoding="utf-8") as lines:
        return [json.loads(line)["text"] for line in itertools.islice(lines, count)]


def timed_searches(reader: Store, model: TextModel, texts: list[str]) -> tuple[list[float],
                                                                               list[float]]:
    """Seconds per hybrid search, and per query embedding alone (the same client). Queries
    come a random 0.5-1.5 s apart, as a person types and reads: back to back they would
    arrive in step with the background work and measure that rhythm instead."""
    pauses = random.Random(7)
    total, embedding = [], []
    for text in texts:
        time.sleep(pauses.uniform(0.5, 1.5))
        started = time.perf_counter()
        model.embed_query(text)
        embedding.append(time.perf_counter() - started)
        started = time.perf_counter()
        search(reader, text, model, limit=20)
        total.append(time.perf_counter() - started)
    return total, embedding


def percentiles(seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p95 = statistics.quantiles(ms, n=20)[18] if len(ms) > 1 else ms[0]
    return f"p50 {statistics.median(ms):7.1f} ms  p95 {p95:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=600)
    parser.add_argument("--queries", type=int, default=40)
    parser.add_argument("--threads", type=int, default=0, help="model threads (0: all)")
    parser.add_argument("--model", default="", help="GGUF file (default: the bundled model)")
    parser.add_argument("--grace", type=float, default=INTERACTIVE_GRACE_S,
                        help="seconds background work holds back after an interactive call")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="kenning-busy-"))
    try:
        folder = work / "docs"
        folder.mkdir()
        write_corpus(folder, args.docs)
        settings = Settings(threads=args.threads, model_path=args.model, use_gitignore=False)
        model = load_default_or_chosen_model(settings, AppPaths.resolve(CACHE / "home"))
        worker = ModelWorker(model, interactive_grace_s=args.grace)
        interactive = worker.client(Priority.INTERACTIVE)
        background = worker.client(Priority.BACKGROUND)
        store = Store.open(work / "index.db")
        indexer = Indexer(store, background, settings)
        indexer.add_folder(folder)
        indexer.scan()
        indexer.extract_pending()
        chunks = store.count("SELECT count(*) FROM chunks")
        # A fifth embedded first, so the meaning side has vectors to search.
        first = CancelToken()

        def fifth(p: Progress) -> None:
            if p.phase == "embed" and p.done >= chunks // 5:
                first.cancel()

        indexer.embed_pending(fifth, first)
        reader = Store.open_reader(work / "index.db")
        texts = queries(args.queries)
        print(f"{args.docs} Medline abstracts, {chunks} chunks; model {model.model_id}; "
              f"{len(texts)} queries; load average before "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")

        idle_total, idle_embedding = timed_searches(reader, interactive, texts)

        stop = CancelToken()
        embedded: list[tuple[float, int]] = []

        def note(p: Progress) -> None:
            if p.phase == "embed":
                embedded.append((time.perf_counter(), p.done))

        runner = threading.Thread(target=indexer.embed_pending, args=(note, stop), daemon=True)
        started = time.perf_counter()
        runner.start()
        time.sleep(10.0)  # alone first: the embedding rate without queries
        busy_started = time.perf_counter()
        alone = [n for t, n in embedded if t <= busy_started]
        done_alone = alone[-1] if alone else 0
        busy_total, busy_embedding = timed_searches(reader, interactive, texts)
        busy_seconds = time.perf_counter() - busy_started
        during = [n for t, n in embedded if busy_started <= t <= busy_started + busy_seconds]
        still_running = runner.is_alive()
        stop.cancel()
        runner.join()
        ratio = statistics.median(busy_total) / statistics.median(idle_total)
        print(f"  hybrid search, model idle            {percentiles(idle_total)}")
        print(f"  hybrid search, while embedding       {percentiles(busy_total)}  "
              f"(p50 x{ratio:.2f})")
        print(f"  query embedding alone, idle          {percentiles(idle_embedding)}")
        print(f"  query embedding alone, while embedding {percentiles(busy_embedding)}")
        rate_alone = done_alone / (busy_started - started)
        rate_busy = ((during[-1] - done_alone) / busy_seconds) if during else 0.0
        ending = ("still embedding at the end" if still_running
                  else "finished early: use more --docs")
        print(f"  background embedding: {rate_alone:.1f} chunks/s alone, {rate_busy:.1f} "
              f"chunks/s while the queries ran ({busy_seconds:.1f} s; {ending})")
        reader.close()
        indexer.close()
        store.close()
        worker.stop()
        model.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

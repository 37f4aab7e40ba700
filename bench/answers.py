"""Grounded answers on real 10-Q filings (../shared/eval/docugami_sec10q), with the default model.

For each question (or the first ``--limit``): ask through the same ``Answerer`` the CLI uses and
report the share answered vs "could not find", the share whose first cited source is a relevant
filing (per the collection's qrels), the share of answer sentences that survived the support
check, prompt size, and time to first token and total time per answer (p50/p95). The PDFs are
indexed once; the index is cached under /tmp so reruns only pay for the questions.

    nice -n 10 python bench/answers.py --limit 40
    nice -n 10 python bench/answers.py --limit 40 --temperature 0 --max-tokens 80
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.answer import Answerer, build_messages, select_sources  # noqa: E402
from core.config import AppPaths, Settings  # noqa: E402
from core.indexer import Indexer  # noqa: E402
from core.model import GenerationSettings  # noqa: E402
from core.services import load_default_or_chosen_model  # noqa: E402
from core.store import Store  # noqa: E402
from core.support import sentence_spans  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval" / "docugami_sec10q"
CACHE = Path("/tmp/kenning-bench-answers")


def load_relevant() -> dict[str, set[str]]:
    relevant: dict[str, set[str]] = {}
    for line in (EVAL / "qrels.tsv").read_text().splitlines()[1:]:
        qid, doc, score = line.split("\t")
        if int(score) > 0:
            relevant.setdefault(qid, set()).add(doc)
    return relevant


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=40, help="first N judged questions")
    parser.add_argument("--temperature", type=float)
    parser.add_argument("--repeat-penalty", type=float)
    parser.add_argument("--max-tokens", type=int)
    parser.add_argument("--show", action="store_true", help="print each answer")
    args = parser.parse_args()

    paths = AppPaths.resolve()
    model = load_default_or_chosen_model(Settings(), paths)
    CACHE.mkdir(parents=True, exist_ok=True)
    store = Store.open(CACHE / f"{model.model_id.replace('/', '_').replace(':', '_')}.db")
    started = time.perf_counter()
    with Indexer(store, model, Settings(use_gitignore=False)) as indexer:
        indexer.add_folder(EVAL / "pdfs")
        indexer.run(lambda p: None)
    print(f"index ready in {time.perf_counter() - started:.0f}s", file=sys.stderr)

    answerer = Answerer(store, model)
    base = answerer.settings
    answerer.settings = GenerationSettings(
        max_tokens=args.max_tokens if args.max_tokens is not None else base.max_tokens,
        temperature=args.temperature if args.temperature is not None else base.temperature,
        top_p=base.top_p,
        repeat_penalty=(
            args.repeat_penalty if args.repeat_penalty is not None else base.repeat_penalty
        ),
        stop=base.stop,
    )
    relevant = load_relevant()
    queries = [json.loads(line) for line in (EVAL / "queries.jsonl").open()]
    queries = [q for q in queries if q["_id"] in relevant][: args.limit]

    # Warm-up: loading weights and first-call allocation are not part of answering.
    answerer.ask("What were total net sales?")

    first_token: list[float] = []
    total: list[float] = []
    retrieval: list[float] = []
    prompt_tokens: list[int] = []
    answered = right_first = sentences = supported = 0
    for q in queries:
        t0 = time.perf_counter()
        hits = answerer.retrieve(q["text"], None)
        retrieval.append(time.perf_counter() - t0)
        sources = select_sources(q["text"], hits, model)
        if sources:
            prompt = build_messages(q["text"], sources)[-1].content
            prompt_tokens.append(model.count_tokens(prompt))
        seen_first: list[float] = []

        def on_text(piece: str, t0: float = time.perf_counter(), seen: list = seen_first) -> None:
            if not seen:
                seen.append(time.perf_counter() - t0)

        t0 = time.perf_counter()
        answer = answerer.ask(q["text"], on_text=on_text)
        elapsed = time.perf_counter() - t0
        if answer.found:
            answered += 1
            first_token.append(seen_first[0] if seen_first else elapsed)
            total.append(elapsed)
            kept = len(list(sentence_spans(answer.text)))
            sentences += kept + len(answer.unsupported)
            supported += kept
            first_doc = Path(answer.citations[0].path).stem if answer.citations else ""
            right_first += first_doc in relevant[q["_id"]]
        if args.show:
            print(f"--- {q['_id']} {q['text']}\n{answer.text}\n  unsupported: "
                  f"{answer.unsupported}", flush=True)

    n = len(queries)
    load = os.getloadavg()
    print(f"questions {n} (first {n} judged of docugami_sec10q), settings {answerer.settings}")
    print(f"answered {answered}/{n} = {answered / n:.2f}; could not find {n - answered}")
    print(f"first cited source relevant: {right_first}/{n} = {right_first / n:.2f} "
          f"(of answered: {right_first / max(answered, 1):.2f})")
    print(f"sentences kept by the support check: {supported}/{sentences} = "
          f"{supported / max(sentences, 1):.2f}")
    print(f"prompt tokens p50 {percentile(prompt_tokens, 0.5):.0f} "
          f"p95 {percentile(prompt_tokens, 0.95):.0f}")
    print(f"retrieval s p50 {percentile(retrieval, 0.5):.2f} p95 {percentile(retrieval, 0.95):.2f}")
    print(f"first token s p50 {percentile(first_token, 0.5):.2f} "
          f"p95 {percentile(first_token, 0.95):.2f}")
    print(f"total s p50 {percentile(total, 0.5):.2f} p95 {percentile(total, 0.95):.2f}")
    print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    store.close()


if __name__ == "__main__":
    main()

"""Grounded answers on real 10-Q filings (../shared/eval/docugami_sec10q), with the default model.

For each question (or the first ``--limit``): ask through the same ``Answerer`` the CLI uses and
report the share answered vs "could not find", the share whose first cited source is a relevant
filing (per the collection's qrels), the share of answer sentences that survived the support
check, the share answered by quoting a source sentence, prompt size, and time to first token and
total time per answer (p50/p95). The PDFs are indexed once, into the same cached index
bench/retrieval.py uses (bench/.cache/docugami_sec10q), so reruns only pay for the questions.

Each ``--source-tokens`` size is run over the same questions in the same run; the first is the
shipped setting and the others are printed with their ratio to it.

    nice -n 10 python bench/answers.py --limit 40
    nice -n 10 python bench/answers.py --limit 40 --source-tokens 100,160
    nice -n 10 python bench/answers.py --limit 40 --temperature 0 --max-tokens 80
    nice -n 10 python bench/answers.py --keywords-only   # no embedding pass (busy machine)

``--squad`` measures on ../shared/eval/squad_train instead (40 Wikipedia articles indexed as
files, a fixed sample of questions from every fourth article): per answer mode (written, the
model's own words checked; quoted, the reader's sentences), correct (the answer holds a gold
answer, normalised), wrong (given as found without one), not found, the gold paragraph cited,
and time to the first shown sentence and in total. Both modes run in the same run.
``quoted-plain`` (last in ``--modes``: it changes the reader for the rest of the run) is the
reader before the model named answers in quotes: one threshold, 0.86, and the emphasis by rule.

    nice -n 10 python bench/answers.py --squad --per-article 30 --keywords-only
    nice -n 5 python bench/answers.py --squad --keywords-only --modes quoted,quoted-plain

``quoted-adapted`` (after the other quoted modes: it changes the reader's weights for the rest
of the run) reads with a LoRA adapter on the reader's context (``--reader-adapter``, from
``bench/reader_lora.py``) and the weights and thresholds fitted for it on training questions
(``--adapted-reader``, ``bench/fit_reader.py --write``), with a second copy of the model.
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

import core.answer.reader  # noqa: E402
import core.answer.sources  # noqa: E402
from core.answer.answerer import (  # noqa: E402
    NOT_FOUND_TEXT,
    NOT_SAID_TEXT,
    Answerer,
    build_messages,
    select_sources,
)
from core.config import AppPaths, Settings  # noqa: E402
from core.index.indexer import Indexer  # noqa: E402
from core.models.interface import GenerationSettings  # noqa: E402
from core.services import load_default_or_chosen_model  # noqa: E402
from core.store.database import Store  # noqa: E402
from core.text.sentences import sentence_spans  # noqa: E402

EVAL = ROOT.parent / "shared" / "eval" / "docugami_sec10q"
CACHE = ROOT / "bench" / ".cache" / "docugami_sec10q"  # shared with bench/retrieval.py


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
    parser.add_argument("--source-tokens", default=str(core.answer.sources.SOURCE_TOKENS),
                        help="comma-separated source sizes; the first is the reference")
    parser.add_argument("--keywords-only", action="store_true",
                        help="retrieve by keywords alone from an index without vectors (minutes "
                        "to build instead of an hour of embedding on 2 busy cores)")
    parser.add_argument("--squad", action="store_true", help="measure on eval/squad_train")
    parser.add_argument("--trained-reader", action="store_true",
                        help="read with the reader Kenning trained for the model, also while "
                             "it is off by default (core.models.reader_head)")
    parser.add_argument("--per-article", type=int, default=30)
    parser.add_argument("--reader-adapter", type=Path,
                        help="the LoRA adapter the quoted-adapted mode reads with")
    parser.add_argument("--adapted-reader", type=Path,
                        help="its weights and thresholds (bench/fit_reader.py --write)")
    parser.add_argument("--modes", default="written,quoted",
                        help="written, quoted, quoted-untrained (the reader's own weights, "
                             "not the model's trained reader; --squad only, after quoted), "
                             "quoted-plain (--squad only; put it last), quoted-adapted "
                             "(--squad only, after the other quoted modes)")
    args = parser.parse_args()
    if args.squad:
        squad(args)
        return

    paths = AppPaths.resolve()
    model = load_default_or_chosen_model(Settings(), paths,
                                         trained_reader=args.trained_reader or None)
    CACHE.mkdir(parents=True, exist_ok=True)
    name = "keywords" if args.keywords_only else model.model_id.replace("/", "_").replace(":", "_")
    store = Store.open(CACHE / f"{name}.db")
    started = time.perf_counter()
    embedder = None if args.keywords_only else model
    with Indexer(store, embedder, Settings(use_gitignore=False)) as indexer:
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

    sizes = [int(x) for x in args.source_tokens.split(",")]
    results = []
    labels = []
    for mode in args.modes.split(","):
        answerer.mode = "quoted" if mode == "quoted" else "written"
        for size in sizes:
            core.answer.sources.SOURCE_TOKENS = size
            results.append(run_questions(answerer, model, queries, relevant, args.show))
            labels.append((mode, size))
    core.answer.sources.SOURCE_TOKENS = sizes[0]

    n = len(queries)
    load = os.getloadavg()
    print(f"questions {n} (first {n} judged of docugami_sec10q), settings {answerer.settings}")
    print("retrieval: " + ("keywords only (--keywords-only)" if args.keywords_only else "hybrid"))
    base = results[0]
    for (mode, size), r in zip(labels, results, strict=True):
        print(f"\n== {mode}, sources of at most {size} tokens"
              + (" (reference)" if r is base else ""))
        print(f"answered {r['answered']}/{n} = {r['answered'] / n:.2f} "
              f"(quoted from a source: {r['quoted']}); could not find {n - r['answered']}")
        print(f"first cited source relevant: {r['right_first']}/{n} = {r['right_first'] / n:.2f} "
              f"(of answered: {r['right_first'] / max(r['answered'], 1):.2f})")
        print(f"first source listed (answered or not) relevant: {r['listed_first']}/{n} = "
              f"{r['listed_first'] / n:.2f}")
        print(f"model sentences kept by the support check: {r['supported']}/{r['sentences']} = "
              f"{r['supported'] / max(r['sentences'], 1):.2f}")
        for name in ("prompt_tokens", "retrieval", "first_token", "total"):
            p50, p95 = percentile(r[name], 0.5), percentile(r[name], 0.95)
            ratio = ""
            if r is not base:
                ratio = (f"  (x{p50 / percentile(base[name], 0.5):.2f} p50, "
                         f"x{p95 / percentile(base[name], 0.95):.2f} p95 of shipped)")
            print(f"{name:13} p50 {p50:7.2f} p95 {p95:7.2f} max {max(r[name], default=0):7.2f}"
                  f" (n={len(r[name])}){ratio}")
    print(f"\nload average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    store.close()


def squad(args: argparse.Namespace) -> None:
    from bench.squad import EVAL as SQUAD
    from bench.squad import contains_answer, paragraph_texts, questions, sample, write_articles

    cache = ROOT / "bench" / ".cache" / "squad_train"
    files = write_articles(SQUAD, cache / "files")
    model = load_default_or_chosen_model(Settings(), AppPaths.resolve(),
                                         trained_reader=args.trained_reader or None)
    name = "keywords" if args.keywords_only else model.model_id.replace("/", "_").replace(":", "_")
    store = Store.open(cache / f"{name}.db")
    started = time.perf_counter()
    with Indexer(store, None if args.keywords_only else model,
                 Settings(use_gitignore=False)) as indexer:
        indexer.add_folder(files[0].parent)
        indexer.run(lambda p: None)
    print(f"index ready in {time.perf_counter() - started:.0f}s", file=sys.stderr)
    all_questions = questions(SQUAD)
    articles = sorted({q.article for q in all_questions}, key=int)[::4]
    chosen = sample(all_questions, articles, args.per_article, seed=0)
    paragraphs = paragraph_texts(SQUAD)
    print(f"questions {len(chosen)} from {len(articles)} articles of squad_train "
          f"({', '.join(articles)}), retrieval "
          + ("keywords only" if args.keywords_only else "hybrid"))
    for mode in args.modes.split(","):
        if mode == "quoted-adapted":
            model.close()
            model = load_default_or_chosen_model(Settings(), AppPaths.resolve(),
                                                 trained_reader=False,
                                                 reader_adapter=args.reader_adapter)
            fitted = json.loads(args.adapted_reader.read_text())
            core.answer.reader.WEIGHTS = tuple(fitted["weights"])
            core.answer.reader.BIAS = fitted["bias"]
            core.answer.reader.FOUND_PROBABILITY = fitted["found"]
            core.answer.reader.NAMED_PROBABILITY = fitted["named"]
        answerer = Answerer(store, model, mode="quote" if mode.startswith("quoted") else "write")
        if mode in ("quoted-untrained", "quoted-plain"):
            model.reader_head = None
        if mode == "quoted-plain":
            # The reader before the model named answers: one threshold, its weights unchanged.
            core.answer.reader.FOUND_PROBABILITY = core.answer.reader.NAMED_PROBABILITY = 0.86
            core.answer.reader.named_answer = lambda *_, **__: None  # type: ignore[assignment]
        answerer.ask("What is this about?")  # warm-up
        counts = {"correct": 0, "wrong": 0, "not found": 0, "gold cited": 0}
        first: list[float] = []
        total: list[float] = []
        for q in chosen:
            seen: list[float] = []
            t0 = time.perf_counter()

            def on_text(piece: str, seen: list = seen, t0: float = t0) -> None:
                if not seen and piece.strip():
                    seen.append(time.perf_counter() - t0)

            answer = answerer.ask(q.text, on_text=on_text)
            total.append(time.perf_counter() - t0)
            if answer.found and seen:
                first.append(seen[0])
            if not answer.found:
                counts["not found"] += 1
            elif contains_answer(answer.text, q.answers):
                counts["correct"] += 1
            else:
                counts["wrong"] += 1
            gold = paragraphs[q.paragraph]
            counts["gold cited"] += answer.found and any(
                " ".join(c.quote.split()) in " ".join(gold.split()) for c in answer.citations)
            if args.show:
                print(f"--- {q.id} {q.text} gold={q.answers}\n{answer.mode}: {answer.text}",
                      flush=True)
        n = len(chosen)
        print(f"\n== {mode} ({answerer.mode})")
        print("  ".join(f"{k} {v}/{n} = {v / n:.3f}" for k, v in counts.items()))
        for label, values in (("first shown", first), ("total", total)):
            print(f"{label:12} p50 {percentile(values, 0.5):6.2f}s p95 "
                  f"{percentile(values, 0.95):6.2f}s (n={len(values)})", flush=True)
    load = os.getloadavg()
    print(f"\nload average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    store.close()


def run_questions(answerer: Answerer, model, queries: list[dict],
                  relevant: dict[str, set[str]], show: bool) -> dict:
    r: dict = {"first_token": [], "total": [], "retrieval": [], "prompt_tokens": [],
               "answered": 0, "right_first": 0, "listed_first": 0, "sentences": 0, "supported": 0,
               "quoted": 0}
    for q in queries:
        t0 = time.perf_counter()
        hits = answerer.retrieve(q["text"], None)
        r["retrieval"].append(time.perf_counter() - t0)
        sources = select_sources(q["text"], hits, model)
        if sources:
            prompt = build_messages(q["text"], sources)[-1].content
            r["prompt_tokens"].append(model.count_tokens(prompt))
        seen_first: list[float] = []
        t0 = time.perf_counter()

        def on_text(piece: str, seen: list = seen_first, t0: float = t0) -> None:
            # The "could not find" and "don't seem to say" lines are not answers shown.
            if not seen and piece not in (NOT_FOUND_TEXT, NOT_SAID_TEXT):
                seen.append(time.perf_counter() - t0)

        answer = answerer.ask(q["text"], on_text=on_text)
        elapsed = time.perf_counter() - t0
        if seen_first:
            r["first_token"].append(seen_first[0])
            r["total"].append(elapsed)
        # What the reader sees first either way: the answer's first source, or the first of
        # the closest passages listed under "could not find".
        listed = Path(answer.citations[0].path).stem if answer.citations else ""
        r["listed_first"] += listed in relevant[q["_id"]]
        if answer.found:
            r["answered"] += 1
            r["quoted"] += answer.quoted
            if not answer.quoted:
                kept = len(list(sentence_spans(answer.text)))
                r["sentences"] += kept + len(answer.unsupported)
                r["supported"] += kept
            else:
                r["sentences"] += len(answer.unsupported)
            first_doc = Path(answer.citations[0].path).stem if answer.citations else ""
            r["right_first"] += first_doc in relevant[q["_id"]]
        if show:
            print(f"--- {q['_id']} {q['text']}\n{answer.text}\n  unsupported: "
                  f"{answer.unsupported}", flush=True)
    return r


if __name__ == "__main__":
    main()

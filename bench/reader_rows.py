"""Raw reader signals for training questions (scratch for choosing features; see fit_reader)."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.squad import (  # noqa: E402
    TRAIN,
    Question,
    contains_answer,
    questions,
    sample,
    write_articles,
)
from core.answer import reader  # noqa: E402
from core.answer.answerer import Answerer  # noqa: E402
from core.answer.sources import select_sources  # noqa: E402
from core.config import AppPaths, Settings  # noqa: E402
from core.index.indexer import Indexer  # noqa: E402
from core.models.interface import TextModel  # noqa: E402
from core.services import load_default_or_chosen_model  # noqa: E402
from core.store.database import Store  # noqa: E402

CACHE = ROOT / "bench" / ".cache" / "squad_train_rest"


def chosen_questions(indexed_count: int, articles: int, per_article: int, first: int,
                     seed: int) -> tuple[list[Question], list[str]]:
    """Every ``len/indexed_count``-th training article is indexed; ``articles`` of those
    (from the ``first``-th, evenly spread) give ``per_article`` questions each."""
    allq = questions(TRAIN)
    arts = sorted({q.article for q in allq}, key=int)
    step = max(1, len(arts) // indexed_count)
    indexed = arts[::step][:indexed_count]
    chosen_articles = indexed[first:: max(1, len(indexed) // articles)][:articles]
    return sample(allq, chosen_articles, per_article, seed=seed), indexed


def held_out_questions(training_texts: Path, per_article: int,
                       seed: int) -> tuple[list[Question], list[str]]:
    """The training articles no embed head or adapter saw (``embed_head/texts.py`` held them
    out whole), all indexed, ``per_article`` questions from each: where a trained embed mode's
    vectors can be a reader feature without having learned these very pairs."""
    rows = map(json.loads, training_texts.open())
    seen = {r["pair"].split("-")[0] for r in rows
            if r["kind"] == "paragraph" and r["split"] == "train"}
    allq = questions(TRAIN)
    held = sorted({q.article for q in allq} - seen, key=int)
    return sample(allq, held, per_article, seed=seed), held


def keyword_answerer(model: TextModel, indexed: list[str]) -> tuple[Answerer, Store]:
    """The indexed articles written as files and indexed by keywords alone (minutes, not the
    hour embedding would take); one folder and index per set of articles."""
    CACHE.mkdir(parents=True, exist_ok=True)
    files = write_articles(TRAIN, CACHE / f"files{len(indexed)}", set(indexed))
    store = Store.open(CACHE / f"articles{len(indexed)}.db")
    with Indexer(store, None, Settings(use_gitignore=False)) as indexer:
        indexer.add_folder(files[0].parent)
        indexer.run(lambda p: None)
    return Answerer(store, model), store


class Reading:
    """One question's candidates as the product reads them: the pairs it scores (one per
    candidate, then one per file name with no sentence)."""

    def __init__(self, answerer: Answerer, model: TextModel, question: str,
                 at_most: int) -> None:
        self.hits = answerer.retrieve(question, None)
        self.sources = select_sources(question, self.hits, model)
        self.candidates = reader.candidates(question, self.sources)[:at_most]
        self.question_text = " " + " ".join(question.split())
        self.titles = [reader._title(c.source.hit.path) for c in self.candidates]
        self.plain = list(dict.fromkeys(self.titles))
        self.pairs = [(reader.passage_prompt(reader._for_reading(c.text), t), self.question_text)
                      for c, t in zip(self.candidates, self.titles, strict=True)]
        self.pairs += [(reader.empty_prompt(t), self.question_text) for t in self.plain]

    def rows(self, question: Question, scores: list | None, seconds: float) -> list[dict]:
        """One row per candidate in the format ``bench/fit_reader.py`` reads: the candidate,
        its labels against the gold answers, the file name it was read under, and the scores
        of its pair and of its file name alone (``scores``: the model's for ``pairs``, in order;
        None leaves them out, for rows that only train on the candidates)."""
        n = len(self.candidates)
        null = {t: None if scores is None else scores[n + j].tolist()
                for j, t in enumerate(self.plain)}
        return [{"q": question.id, "question": question.text, "text": c.text, "order": k,
                 "label": contains_answer(c.text, question.answers),
                 "quote": c.quote, "quote_label": contains_answer(c.quote, question.answers),
                 "gold_paragraph": question.paragraph, "source_n": c.source.n, "title": t,
                 "in_window": c.start >= c.source.start and c.end <= c.source.end,
                 "fwd": None if scores is None else scores[k].tolist(), "null": null[t],
                 "seconds": seconds}
                for k, (c, t) in enumerate(zip(self.candidates, self.titles, strict=True))]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--articles", type=int, default=20)
    p.add_argument("--per-article", type=int, default=20)
    p.add_argument("--at-most", type=int, default=16)
    p.add_argument("--backward", action="store_true")
    p.add_argument("--out", type=Path, default=CACHE / "raw.jsonl")
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--indexed", type=int, default=40, help="articles indexed (distractors)")
    p.add_argument("--first", type=int, default=0,
                   help="start the choice of articles here (1: the indexed ones not chosen by 0)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--unscored", action="store_true",
                   help="candidates and labels alone, not scored (for bench/reader_lora.py)")
    p.add_argument("--held-out-from", type=Path,
                   help="embed_head/texts.py's file: index and ask the articles it held out "
                        "(instead of --indexed/--articles/--first)")
    p.add_argument("--cosine", action="store_true",
                   help="also record the embed mode's cosine of question and sentence")
    p.add_argument("--reader-adapter", type=Path,
                   help="score with this LoRA adapter on the reader's context (reader_lora.py)")
    a = p.parse_args()
    if a.held_out_from:
        chosen, indexed = held_out_questions(a.held_out_from, a.per_article, a.seed)
    else:
        chosen, indexed = chosen_questions(a.indexed, a.articles, a.per_article, a.first,
                                           a.seed)
    if a.limit:
        chosen = chosen[: a.limit]
    model = load_default_or_chosen_model(Settings(), AppPaths.resolve(),
                                         reader_adapter=a.reader_adapter)
    answerer, store = keyword_answerer(model, indexed)
    t0 = time.perf_counter()
    with a.out.open("w") as sink:
        for i, q in enumerate(chosen):
            reading = Reading(answerer, model, q.text, a.at_most)
            cands, titles = reading.candidates, reading.titles
            if not cands:
                sink.write(json.dumps({"q": q.id, "none": True}) + "\n")
                continue
            if a.unscored:
                for row in reading.rows(q, None, 0.0):
                    sink.write(json.dumps(row) + "\n")
                continue
            hits, qt, pairs = reading.hits, reading.question_text, list(reading.pairs)
            nb = len(pairs)
            if a.backward:
                pairs += [(f"{t}\nQuestion:{qt}\nAnswer:", " " + reader._for_reading(c.text))
                          for c, t in zip(cands, titles, strict=True)]
                pairs += [(f"{t}\nAnswer:", " " + reader._for_reading(c.text))
                          for c, t in zip(cands, titles, strict=True)]
            s0 = time.perf_counter()
            scores = model.continuation_logprobs(pairs)
            el = time.perf_counter() - s0
            hit_index = {id(h): k for k, h in enumerate(hits)}
            cosines = [None] * len(cands)
            if a.cosine:
                asked = model.embed_query(q.text)
                sentences = model.embed_documents([reader._for_reading(c.text) for c in cands])
                cosines = (sentences @ asked).tolist()
            for k, (c, row) in enumerate(zip(cands, reading.rows(q, scores, el), strict=True)):
                row |= {"hit_index": hit_index.get(id(c.source.hit), -1),
                        "hit_score": c.source.hit.score,
                        "lexical_rank": c.source.hit.lexical_rank,
                        "n_sources": len(reading.sources), "n_hits": len(hits),
                        "cosine": cosines[k]}
                if a.backward:
                    row["bwd"] = scores[nb + k].tolist()
                    row["bwd_null"] = scores[nb + len(cands) + k].tolist()
                sink.write(json.dumps(row) + "\n")
            if i % 25 == 0:
                print(f"{i}/{len(chosen)} {time.perf_counter() - t0:.0f}s", file=sys.stderr,
                      flush=True)
    store.close()


if __name__ == "__main__":
    main()

"""How often a quoted answer's emphasis points at the answer (pure text, a few seconds).

For each question of a SQuAD-style folder, the sentence of its paragraph that holds the gold
answer stands in for the quote; ``core.answer.emphasis.answering_phrase`` finds its phrase.
Reported per kind of question: how often a phrase is emphasised, and of those how often it
touches (overlaps) and covers the gold answer. No model: this measures the emphasis alone,
as if the reader had quoted the right sentence.

    python bench/emphasis.py            # ../shared/eval/squad_train (reports)
    python bench/emphasis.py --train    # ../shared/train/squad_train_rest (to choose rules on)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.squad import EVAL, TRAIN
from core.answer.emphasis import answering_phrase, question_kind
from core.text.sentences import sentence_spans

KINDS = ("quantity", "date", "name", "other")


def measure(folder: Path) -> Counter[tuple[str, str]]:
    paragraphs = {r["_id"]: r["text"] for r in map(json.loads, (folder / "corpus.jsonl").open())}
    questions = {r["_id"]: r["text"] for r in map(json.loads, (folder / "queries.jsonl").open())}
    counts: Counter[tuple[str, str]] = Counter()
    for record in map(json.loads, (folder / "answers.jsonl").open()):
        question = questions[record["_id"]]
        text = paragraphs[record["corpus-id"]]
        gold = record["answers"][0]
        gold_start, gold_end = gold["answer_start"], gold["answer_start"] + len(gold["text"])
        sentence = next(((s, e) for s, e in sentence_spans(text)
                         if s <= gold_start and gold_end <= e), None)
        if sentence is None:
            continue  # the answer runs over two sentences
        kind = question_kind(question) or "other"
        counts[kind, "sentences"] += 1
        phrase = answering_phrase(question, text[sentence[0]:sentence[1]])
        if phrase is None:
            continue
        start, end = sentence[0] + phrase[0], sentence[0] + phrase[1]
        counts[kind, "emphasised"] += 1
        counts[kind, "touching"] += start < gold_end and gold_start < end
        counts[kind, "covering"] += start <= gold_start and gold_end <= end
    return counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", action="store_true", help="the training folder, not eval")
    args = parser.parse_args()
    folder = TRAIN if args.train else EVAL
    counts = measure(folder)
    print(f"{folder.name}: the sentence holding the gold answer as the quote")
    print("| question | sentences | emphasised | touching the answer | covering it |")
    print("|---|---|---|---|---|")
    for kind in (*KINDS, "all"):
        kinds = KINDS if kind == "all" else (kind,)
        n, shown, touching, covering = (sum(counts[k, what] for k in kinds) for what in
                                        ("sentences", "emphasised", "touching", "covering"))
        print(f"| {kind} | {n:,} | {shown / max(n, 1):.1%} | {touching / max(shown, 1):.1%} "
              f"| {covering / max(shown, 1):.1%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

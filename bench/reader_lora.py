"""The reader's next rung: a LoRA adapter trained on the reader's own scoring, on TRAINING
questions (``bench/reader_rows.py`` rows of ../shared/train/squad_train_rest), judged on
questions of other training articles, and written as a GGUF adapter llama.cpp applies to the
reader's context alone (``UnifiedModel.load(reader_adapter=...)``).

The score is what the reader reads: log p(question | file name, sentence) − log p(question |
file name), the pair as ``core.answer.reader.passage_prompt`` builds it. The loss is a softmax
over each question's candidates toward the sentences that hold the gold answer; with
``--unanswered`` the softmax also holds "no sentence" (the file name alone, score 0), the
target of questions none of whose candidates answers, so that a sentence scores above 0 only
when it explains the question. Printed before and after training, on the judged questions:
how often the top candidate's quote holds the answer and the gold sentence's mean reciprocal
rank (those with a gold sentence among their candidates), and the share answered right when
the top score alone decides, at the threshold keeping wrong answers within 3% (all of them).

Needs torch, transformers, gguf and peft in a venv of their own, as ``bench/lora_cost.py``.
The rows need no scores (``--unscored``: seconds); the judged articles are not the trained
ones (``--first 1``)::

    python bench/reader_rows.py --indexed 160 --articles 80 --per-article 10 --seed 5 \\
        --at-most 8 --unscored --out bench/.cache/squad_train_rest/lora_train.jsonl
    python bench/reader_rows.py --indexed 160 --articles 80 --per-article 4 --first 1 \\
        --seed 6 --at-most 8 --unscored --out bench/.cache/squad_train_rest/lora_judge.jsonl
    /tmp/lora/bin/python bench/reader_lora.py \\
        ~/.local/share/Kenning/models/gemma-3-270m-q4_k_m.gguf \\
        bench/.cache/squad_train_rest/lora_train.jsonl \\
        bench/.cache/squad_train_rest/lora_judge.jsonl \\
        --files bench/.cache/squad_train_rest/files160 --train 480 --judge 300 --unanswered \\
        --export bench/.cache/reader-lora-480.gguf      # ~80 min on 2 cores
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import torch
from transformers import AutoTokenizer

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.lora_cost import adapted, export_gguf  # noqa: E402
from core.answer import reader  # noqa: E402

#: One candidate: the file name it is read under, the sentence as read, whether it holds the
#: gold answer, and whether the quote it would give does.
Candidate = tuple[str, str, bool, bool]


def questions(rows: Path, files: dict[str, str],
              unanswered: bool) -> list[tuple[str, list[Candidate]]]:
    """The questions of ``rows`` with more than one candidate and a gold sentence among them,
    and with ``unanswered`` also those whose candidates all lack the answer. Rows made before
    they recorded ``title`` get it from the one article file holding the sentence (a question
    whose sentence is in none or several is left out)."""
    by_question: dict[str, list[dict]] = {}
    for line in rows.open():
        row = json.loads(line)
        if not row.get("none"):
            by_question.setdefault(row["q"], []).append(row)
    out = []
    for group in by_question.values():
        candidates: list[Candidate] = []
        for row in group:
            titles = [row["title"]] if "title" in row else \
                [name for name, text in files.items() if row["text"] in text]
            if len(titles) != 1:
                break
            candidates.append((titles[0], reader._for_reading(row["text"]),
                               bool(row["label"]), bool(row["quote_label"])))
        else:
            answered = any(c[2] for c in candidates)
            if (answered and len(candidates) > 1) or (unanswered and not answered):
                out.append((group[0]["question"], candidates))
    return out


class Scorer:
    def __init__(self, gguf: Path, rank: int) -> None:
        self.tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        self.model = adapted(gguf, rank)
        self.body = self.model.base_model.model.model
        self.output = self.model.base_model.model.lm_head

    def scores(self, question: str, candidates: list[Candidate]) -> torch.Tensor:
        """Per candidate, how much its sentence explains the question beyond its file name.
        The output layer runs only at the question's tokens."""
        tail = self.tokenizer(" " + " ".join(question.split()),
                              add_special_tokens=False)["input_ids"]
        titles = list(dict.fromkeys(c[0] for c in candidates))
        prompts = [reader.passage_prompt(sentence, title)
                   for title, sentence, _, _ in candidates]
        prompts += [reader.empty_prompt(title) for title in titles]
        heads = [self.tokenizer(p, add_special_tokens=True)["input_ids"] for p in prompts]
        width = max(len(h) for h in heads) + len(tail)
        ids = torch.zeros((len(heads), width), dtype=torch.long)
        mask = torch.zeros((len(heads), width), dtype=torch.long)
        for i, head in enumerate(heads):
            ids[i, : len(head) + len(tail)] = torch.tensor(head + tail)
            mask[i, : len(head) + len(tail)] = 1
        hidden = self.body(input_ids=ids, attention_mask=mask).last_hidden_state
        target = torch.tensor(tail)
        likely = torch.stack([
            torch.log_softmax(self.output(hidden[i, len(h) - 1: len(h) - 1 + len(tail)]),
                              dim=-1)[torch.arange(len(tail)), target].sum()
            for i, h in enumerate(heads)])
        alone = dict(zip(titles, likely[len(candidates):], strict=True))
        return likely[: len(candidates)] - torch.stack([alone[c[0]] for c in candidates])

    def judge(self, judged: list[tuple[str, list[Candidate]]],
              adapted: bool) -> tuple[float, float, float]:
        """Over the judged questions with a gold sentence among their candidates: how often
        the top candidate's quote holds the answer, and the gold sentence's mean reciprocal
        rank. Over all judged questions: the share answered right when the top score alone
        decides, at the threshold that keeps wrong answers within 3% of them (chosen on these
        questions, the same way before and after: a comparison, not a calibration)."""
        top = reciprocal = 0.0
        answerable = 0
        decided: list[tuple[float, bool]] = []
        with torch.no_grad():
            for question, candidates in judged:
                if adapted:
                    s = self.scores(question, candidates)
                else:
                    with self.model.disable_adapter():
                        s = self.scores(question, candidates)
                order = torch.argsort(s, descending=True).tolist()
                decided.append((float(s[order[0]]), candidates[order[0]][3]))
                if any(c[2] for c in candidates):
                    answerable += 1
                    top += candidates[order[0]][3]
                    reciprocal += 1 / (1 + next(k for k, i in enumerate(order)
                                                if candidates[i][2]))
        decided.sort(reverse=True)
        right = wrong = 0
        best = 0
        for _, holds in decided:
            right += holds
            wrong += not holds
            if wrong <= 0.03 * len(decided):
                best = max(best, right)
        return top / answerable, reciprocal / answerable, best / len(decided)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("gguf", type=Path)
    parser.add_argument("train_rows", type=Path)
    parser.add_argument("judge_rows", type=Path, help="rows of other articles")
    parser.add_argument("--files", type=Path, required=True,
                        help="the indexed article files (for rows without titles)")
    parser.add_argument("--train", type=int, default=150, help="questions trained on")
    parser.add_argument("--judge", type=int, default=120, help="questions judged")
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--rate", type=float, default=2e-4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--unanswered", action="store_true",
                        help="also train on questions none of whose candidates answers, toward "
                             "no sentence explaining the question better than its file name")
    parser.add_argument("--export", type=Path, help="write the trained adapter here (GGUF)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    shuffle = random.Random(0)
    files = {p.stem: p.read_text(encoding="utf-8") for p in args.files.glob("*.txt")}
    train = questions(args.train_rows, files, args.unanswered)
    judged = questions(args.judge_rows, files, unanswered=True)
    shuffle.shuffle(train)
    shuffle.shuffle(judged)
    train, judged = train[: args.train], judged[: args.judge]
    scorer = Scorer(args.gguf, args.rank)
    print(f"{len(train)} questions trained on, {len(judged)} judged (other articles)")
    before = scorer.judge(judged, adapted=False)
    print(f"before: the top quote holds the answer {before[0]:.3f}, MRR {before[1]:.3f}, "
          f"right by the top score at 3% wrong {before[2]:.3f}", flush=True)
    trainable = [p for p in scorer.model.parameters() if p.requires_grad]
    optimiser = torch.optim.AdamW(trainable, lr=args.rate)
    scorer.model.train()
    start = time.perf_counter()
    for step, (question, candidates) in enumerate(train):
        s = scorer.scores(question, candidates)
        if args.unanswered:
            # "No sentence here": the file name alone, whose score is 0 by construction.
            s = torch.cat([s, torch.zeros(1)])
            gold = torch.tensor([c[2] for c in candidates] + [not any(c[2] for c in candidates)])
        else:
            gold = torch.tensor([c[2] for c in candidates])
        loss = torch.logsumexp(s, 0) - torch.logsumexp(s[gold], 0)
        loss.backward()
        optimiser.step()
        optimiser.zero_grad()
        if step % 25 == 0:
            print(f"{step}/{len(train)} loss {loss.item():.3f} "
                  f"{time.perf_counter() - start:.0f} s", flush=True)
    scorer.model.eval()
    after = scorer.judge(judged, adapted=True)
    print(f"after: the top quote holds the answer {after[0]:.3f}, MRR {after[1]:.3f}, "
          f"right by the top score at 3% wrong {after[2]:.3f}")
    if args.export:
        count = export_gguf(scorer.model, "gemma3", args.export)
        print(f"wrote {args.export} ({count} weights adapted)")


if __name__ == "__main__":
    main()

"""SQuAD-style folders (../shared/eval/squad_train, ../shared/train/squad_train_rest) as a user's
files: one .txt per article, questions with gold answers, and the scoring rule their README gives.

Shared by bench/answers.py (measures on eval) and bench/fit_reader.py (fits on train).
"""

from __future__ import annotations

import json
import random
import re
import string
from dataclasses import dataclass
from pathlib import Path

SHARED = Path(__file__).resolve().parent.parent.parent / "shared"
EVAL = SHARED / "eval" / "squad_train"
TRAIN = SHARED / "train" / "squad_train_rest"


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    answers: tuple[str, ...]
    paragraph: str  # corpus id of the gold paragraph
    article: str


def article_of(paragraph_id: str) -> str:
    return paragraph_id.split("-", 1)[0]


def write_articles(folder: Path, out: Path, articles: set[str] | None = None) -> list[Path]:
    """One file per article: its title, a blank line, then its paragraphs in order."""
    by_article: dict[str, list[tuple[int, str, str]]] = {}
    for line in (folder / "corpus.jsonl").open(encoding="utf-8"):
        record = json.loads(line)
        article, paragraph = record["_id"].split("-")
        if articles is not None and article not in articles:
            continue
        by_article.setdefault(article, []).append(
            (int(paragraph), record["title"], record["text"].strip()))
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for article, paragraphs in sorted(by_article.items(), key=lambda kv: int(kv[0])):
        paragraphs.sort()
        title = paragraphs[0][1]
        name = re.sub(r"[^\w\- ]+", "_", title).strip() or article
        path = out / f"{name}.txt"
        text = title + "\n\n" + "\n\n".join(p for _, _, p in paragraphs) + "\n"
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def paragraph_texts(folder: Path) -> dict[str, str]:
    return {r["_id"]: r["text"].strip()
            for r in map(json.loads, (folder / "corpus.jsonl").open(encoding="utf-8"))}


def questions(folder: Path) -> list[Question]:
    texts = {r["_id"]: r["text"] for r in map(json.loads,
                                               (folder / "queries.jsonl").open(encoding="utf-8"))}
    found = []
    for line in (folder / "answers.jsonl").open(encoding="utf-8"):
        record = json.loads(line)
        found.append(Question(record["_id"], texts[record["_id"]].strip(),
                              tuple(a["text"] for a in record["answers"]),
                              record["corpus-id"], article_of(record["corpus-id"])))
    return found


def sample(all_questions: list[Question], articles: list[str], per_article: int,
           seed: int = 0) -> list[Question]:
    """A fixed sample: ``per_article`` questions drawn from each of ``articles``."""
    rng = random.Random(seed)
    chosen: list[Question] = []
    for article in articles:
        mine = [q for q in all_questions if q.article == article]
        chosen += rng.sample(mine, min(per_article, len(mine)))
    return chosen


_PUNCTUATION = set(string.punctuation) | {"“", "”", "‘", "’", "–", "—", "…"}


def normalise(text: str) -> str:
    """SQuAD's answer normalisation: lower case, no punctuation, no a/an/the, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def contains_answer(text: str, answers: tuple[str, ...]) -> bool:
    shown = f" {normalise(text)} "
    return any(f" {normalise(a)} " in shown for a in answers if normalise(a))

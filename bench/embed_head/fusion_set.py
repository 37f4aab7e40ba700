"""Retrieval collections made of training data only, on which a trained embedder's fusion
(meaning's weight and gate beside the keywords) is chosen without looking at ../shared/eval.

``squad``: Wikipedia questions, written by people reading the paragraph (so they share many of
its words). Documents: every paragraph of the articles ``texts.py`` held out (no head or
adapter trained on them), plus distractor paragraphs of other articles that no head or adapter
trained on either (those after the first ``--trained`` training paragraphs of ``texts.py``'s
file), so the pool is as large as a real folder's and holds near-misses. Queries: one question
per held-out paragraph.

Both are written in the eval sets' layout (corpus.jsonl, queries.jsonl, qrels.tsv) under
``bench/.cache/sets/<name>/``, which ``features.py eval <name>`` indexes like any collection.

``manuals``: this machine's manual pages, searched for by what they are for. The query is the
page's one-line summary ("ls - list directory contents" asks "list directory contents"), the
document the page without its NAME section, cut to ``--chars``: the words people type when they
know what they want but not what it is called. Pages whose text ``texts.py`` put in the
training file are left out.

    python bench/embed_head/fusion_set.py squad bench/.cache/embed_head/train.jsonl \
        --trained 6000 --distractors 2500
    python bench/embed_head/fusion_set.py manuals bench/.cache/embed_head/train.jsonl --pages 1000
    python bench/embed_head/features.py eval squad-heldout manuals --embed-adapter ADAPTER.gguf
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.embed_head.texts import TRAIN, passages, render_man  # noqa: E402
from bench.retrieval import TRAINING_SETS  # noqa: E402


def build(source: Path, out: Path, trained: int, distractors: int, seed: int) -> dict[str, int]:
    rows = [json.loads(line) for line in source.open()]
    training = [r["pair"] for r in rows if r["kind"] == "paragraph" and r["split"] == "train"]
    trained_on = set(training[:trained])
    seen_articles = {pid.split("-")[0] for pid in training}
    corpus = {}
    for line in (TRAIN / "corpus.jsonl").open():
        doc = json.loads(line)
        corpus[doc["_id"]] = doc
    held_out = sorted(pid for pid in corpus if pid.split("-")[0] not in seen_articles)
    rng = random.Random(seed)
    others = [pid for pid in training[trained:] if pid not in trained_on]
    rng.shuffle(others)
    documents = held_out + sorted(others[:distractors])

    texts = {q["_id"]: q["text"] for q in map(json.loads, (TRAIN / "queries.jsonl").open())}
    asked: dict[str, list[str]] = defaultdict(list)
    for line in (TRAIN / "qrels.tsv").open().read().splitlines()[1:]:
        qid, pid, _ = line.split("\t")
        asked[pid].append(qid)

    out.mkdir(parents=True, exist_ok=True)
    with (out / "corpus.jsonl").open("w") as f:
        for pid in documents:
            doc = corpus[pid]
            f.write(json.dumps({"_id": pid, "title": doc["title"], "text": doc["text"]},
                               ensure_ascii=False) + "\n")
    queries = 0
    with (out / "queries.jsonl").open("w") as fq, (out / "qrels.tsv").open("w") as fr:
        fr.write("query-id\tcorpus-id\tscore\n")
        for pid in held_out:
            if not asked[pid]:
                continue
            qid = rng.choice(sorted(asked[pid]))
            fq.write(json.dumps({"_id": qid, "text": texts[qid]}, ensure_ascii=False) + "\n")
            fr.write(f"{qid}\t{pid}\t1\n")
            queries += 1
    return {"held-out articles": len({p.split("-")[0] for p in held_out}),
            "held-out paragraphs": len(held_out), "distractors": len(documents) - len(held_out),
            "queries": queries}


def manuals(source: Path, out: Path, pages: int, chars: int, per_family: int,
            seed: int) -> dict[str, int]:
    trained = {r["text"] for r in map(json.loads, source.open()) if r["kind"] == "broad"}
    files = sorted(p for section in ("man1", "man8")
                   for p in Path("/usr/share/man", section).glob("*"))
    random.Random(seed).shuffle(files)
    documents: list[tuple[str, str, str]] = []
    summaries: set[str] = set()
    families: dict[str, int] = defaultdict(int)
    skipped = 0
    for path in files:
        if len(documents) == pages:
            break
        # one tool's thousands of generated pages (gcloud's) would make the set about it alone
        family = re.split(r"[-_.]", path.name)[0]
        if families[family] == per_family:
            continue
        shown = render_man(path)
        parts = re.split(r"^NAME\s*$", shown, maxsplit=1, flags=re.M)
        if len(parts) != 2 or set(passages(shown)[:6]) & trained:
            skipped += 1
            continue
        name, _, rest = parts[1].strip().partition("\n")
        summary = name.partition(" - ")[2].strip()
        body = re.sub(r"[ \t]+", " ", rest).strip()[:chars]
        # a summary that names no purpose, or one shared by several pages, asks nothing
        if len(summary.split()) < 3 or summary.lower() in summaries or len(body) < 200:
            skipped += 1
            continue
        summaries.add(summary.lower())
        families[family] += 1
        documents.append((path.name.split(".")[0] + "-" + path.parent.name, summary, body))
    out.mkdir(parents=True, exist_ok=True)
    with (out / "corpus.jsonl").open("w") as fc, (out / "queries.jsonl").open("w") as fq, \
            (out / "qrels.tsv").open("w") as fr:
        fr.write("query-id\tcorpus-id\tscore\n")
        for n, (doc_id, summary, body) in enumerate(documents):
            fc.write(json.dumps({"_id": doc_id, "title": "", "text": body},
                                ensure_ascii=False) + "\n")
            fq.write(json.dumps({"_id": f"q{n}", "text": summary}, ensure_ascii=False) + "\n")
            fr.write(f"q{n}\t{doc_id}\t1\n")
    return {"pages": len(documents), "skipped": skipped}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    sq = sub.add_parser("squad")
    sq.add_argument("--name", default="squad-heldout")
    sq.add_argument("--trained", type=int, default=6000,
                    help="training paragraphs any head or adapter may have read")
    sq.add_argument("--distractors", type=int, default=2500)
    ma = sub.add_parser("manuals")
    ma.add_argument("--name", default="manuals")
    ma.add_argument("--pages", type=int, default=1000)
    ma.add_argument("--chars", type=int, default=1500)
    ma.add_argument("--per-family", type=int, default=40,
                    help="at most this many pages whose names start alike (git-*, gcloud_*)")
    for each in (sq, ma):
        each.add_argument("source", type=Path, help="texts.py's file")
        each.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = TRAINING_SETS / args.name
    if args.what == "squad":
        print(build(args.source, out, args.trained, args.distractors, args.seed))
    else:
        print(manuals(args.source, out, args.pages, args.chars, args.per_family, args.seed))


if __name__ == "__main__":
    main()

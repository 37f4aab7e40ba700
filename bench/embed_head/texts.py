"""The training texts for an embed head: SQuAD question -> paragraph pairs from
``../shared/train/squad_train_rest`` (whole articles held out for validation), and varied
technical prose found on this machine (man pages, /usr/share/doc, Python docstrings) for
distillation toward all-MiniLM-L6-v2. Nothing is read from ``../shared/eval``.

    python bench/embed_head/texts.py bench/.cache/embed_head/train.jsonl --paragraphs 1000 \
        --broad 2500

Each line: {"text", "kind": "question"|"paragraph"|"broad", "split": "train"|"valid",
"pair": paragraph id (questions and paragraphs)}.
"""

from __future__ import annotations

import argparse
import ast
import gzip
import json
import random
import re
import subprocess
import sys
import sysconfig
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TRAIN = ROOT.parent / "shared" / "train" / "squad_train_rest"


def squad(paragraphs: int, valid_articles: int, valid_paragraphs: int,
          rng: random.Random) -> list[dict]:
    corpus = {}
    for line in (TRAIN / "corpus.jsonl").open():
        doc = json.loads(line)
        corpus[doc["_id"]] = doc
    questions: dict[str, list[str]] = defaultdict(list)
    texts = {json.loads(line)["_id"]: json.loads(line)["text"]
             for line in (TRAIN / "queries.jsonl").open()}
    for line in (TRAIN / "qrels.tsv").open().read().splitlines()[1:]:
        qid, pid, _ = line.split("\t")
        questions[pid].append(texts[qid])
    articles = sorted({pid.split("-")[0] for pid in corpus}, key=int)
    rng.shuffle(articles)
    valid = set(articles[:valid_articles])
    out = []
    chosen = [p for p in corpus if questions[p]]
    rng.shuffle(chosen)
    train_ids = [p for p in chosen if p.split("-")[0] not in valid][:paragraphs]
    valid_ids = [p for p in chosen if p.split("-")[0] in valid][:valid_paragraphs]
    # held-out pairs first, so features cut short at any point still hold them all
    for split, ids in (("valid", valid_ids), ("train", train_ids)):
        for pid in ids:
            doc = corpus[pid]
            # as the indexer gives a chunk with its title (core.indexer.embedding_input)
            out.append({"text": f"{doc['title']}\n{doc['text']}", "kind": "paragraph",
                        "split": split, "pair": pid})
            for question in questions[pid]:
                out.append({"text": question, "kind": "question", "split": split,
                            "pair": pid})
    return out


def passages(text: str, low: int = 40, high: int = 120) -> list[str]:
    """Consecutive paragraphs joined into passages of ``low``..``high`` words."""
    out, words = [], []
    for para in re.split(r"\n\s*\n", text):
        para_words = para.split()
        if not para_words:
            continue
        if words and len(words) + len(para_words) > high:
            if len(words) >= low:
                out.append(" ".join(words))
            words = []
        words += para_words[:high]
    if len(words) >= low:
        out.append(" ".join(words))
    return out


def man_pages(count: int, rng: random.Random) -> list[str]:
    files = sorted(p for section in ("man1", "man5", "man8", "man3", "man7")
                   for p in Path("/usr/share/man", section).glob("*"))
    rng.shuffle(files)
    out: list[str] = []
    for path in files[:count]:
        out += passages(render_man(path))[:6]
    return out


def render_man(path: Path) -> str:
    """A man page as plain text, one line per paragraph ("" when man cannot show it)."""
    try:
        shown = subprocess.run(["man", "-l", str(path)], capture_output=True, text=True,
                               timeout=10, env={"MANWIDTH": "2000", "PATH": "/usr/bin:/bin",
                                                "LANG": "C.UTF-8"}).stdout
    except (subprocess.TimeoutExpired, OSError):
        return ""
    return re.sub(r".\x08", "", shown)


def doc_files(count: int, rng: random.Random) -> list[str]:
    files = sorted(p for p in Path("/usr/share/doc").rglob("*") if p.is_file()
                   and re.search(r"(readme|\.txt|\.md|news|faq|\.rst)(\.gz)?$", p.name, re.I)
                   and "changelog" not in p.name.lower())
    rng.shuffle(files)
    out: list[str] = []
    for path in files[:count]:
        try:
            raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
            out += passages(raw.decode("utf-8", "replace"))[:6]
        except (OSError, EOFError):
            continue
    return out


def docstrings(count: int, rng: random.Random) -> list[str]:
    files = sorted(Path(sysconfig.get_paths()["stdlib"]).rglob("*.py"))
    files = [f for f in files if "test" not in str(f) and "idlelib" not in str(f)]
    rng.shuffle(files)
    out: list[str] = []
    for path in files[:count]:
        try:
            tree = ast.parse(path.read_text(errors="replace"))
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)):
                doc = ast.get_docstring(node)
                if doc and len(doc.split()) >= 30:
                    out += passages(doc, low=30)[:2]
    return out


def interleave(squad_rows: list[dict], broad: list[dict]) -> list[dict]:
    """Held-out rows first, then each training paragraph (with its questions) followed by its
    share of the broad texts, so any prefix of the file is a balanced training set."""
    head = [r for r in squad_rows if r["split"] == "valid"]
    held = [{**b, "split": "valid"} for b in broad[::10]]  # held out to check distillation
    broad = [b for i, b in enumerate(broad) if i % 10]
    groups: list[list[dict]] = []
    for row in squad_rows:
        if row["split"] != "train":
            continue
        if row["kind"] == "paragraph":
            groups.append([])
        groups[-1].append(row)
    out = head + held
    per = len(broad) / max(1, len(groups))
    taken = 0.0
    for group in groups:
        out += group
        taken += per
        while broad and len(out) and taken >= 1:
            out.append(broad.pop(0))
            taken -= 1
    return out + broad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--paragraphs", type=int, default=100_000, help="all by default")
    parser.add_argument("--valid-articles", type=int, default=40)
    parser.add_argument("--valid-paragraphs", type=int, default=300)
    parser.add_argument("--broad", type=int, default=2500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    rows = squad(args.paragraphs, args.valid_articles, args.valid_paragraphs, rng)
    broad = man_pages(400, rng) + doc_files(500, rng) + docstrings(400, rng)
    broad = list(dict.fromkeys(broad))
    rng.shuffle(broad)
    rows = interleave(rows, [{"text": t, "kind": "broad", "split": "train"}
                             for t in broad[: args.broad]])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    kinds: dict[str, int] = defaultdict(int)
    for row in rows:
        kinds[f"{row['kind']}/{row['split']}"] += 1
    print(dict(kinds), f"broad available {len(broad)}", file=sys.stderr)


if __name__ == "__main__":
    main()

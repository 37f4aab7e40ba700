"""Extraction speed per format (files/s, MB/s), with Recoll on the same files where it reads them.

For each format a folder of generated files (``tests/formats_factory.py``; every file holds
one made-up word of its own, "kmk" + letters, amid English filler) is written once into
``bench/.cache/formats/``. Then, per format:

- Kenning extraction in this process (``core.extract.extract``, the function the reading
  children run), files/s and MB/s of file bytes; the baseline measured in the same run is the
  plain-text reader on the same words saved as ``.txt`` (what the format's own parsing costs
  beyond reading its text).
- ``kenning index --no-embed FOLDER`` as a process (extraction children, chunking, FTS5
  writes; start-up included), then each file's word searched in-process: "found".
- Recoll, when ``recollindex`` is installed (``apt-get install recollcmd python3-lxml unrtf``;
  its Office filters run the system's python3): ``recollindex -z``
  on a private configuration over the same folder, timed the same way, then ``recollq`` must
  find each file's word. Recoll also indexes (Xapian), so compare it with Kenning's index
  column, not the extraction one.

    nice -n 10 python bench/extract_formats.py            # 100 files per format
    nice -n 10 python bench/extract_formats.py --files 40 --formats pptx,xlsx
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.formats_factory import (  # noqa: E402
    make_eml,
    make_mbox,
    make_message,
    make_odp,
    make_ods,
    make_odt,
    make_pptx,
    make_rtf,
    make_xlsx,
)

CACHE = ROOT / "bench" / ".cache" / "formats"
KENNING = Path(sys.executable).with_name("kenning")
WORDS = [
    "the",
    "a",
    "of",
    "and",
    "to",
    "in",
    "is",
    "for",
    "on",
    "with",
    "as",
    "by",
    "at",
    "from",
    "that",
    "this",
    "it",
    "be",
    "are",
    "was",
    "were",
    "report",
    "plan",
    "budget",
    "meeting",
    "client",
    "project",
    "market",
    "sales",
    "figure",
    "quarter",
    "review",
    "team",
    "office",
    "result",
    "design",
    "schedule",
    "cost",
    "price",
    "order",
    "invoice",
    "letter",
    "summary",
    "note",
    "draft",
    "change",
    "update",
    "risk",
]


def _sentence(rng: random.Random, n: int = 12) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def _own_word(index: int, fmt: str) -> str:
    letters = "".join(chr(97 + (index // 26**i) % 26) for i in range(3))
    return f"kmk{fmt}{letters}"


def _write(fmt: str, path: Path, word: str, rng: random.Random) -> str:
    """Write one file of ``fmt`` holding ``word``; returns its text (for the .txt baseline)."""
    if fmt in ("pptx", "odp"):
        slides = [
            (f"Slide {n} {_sentence(rng, 4)}", [_sentence(rng) for _ in range(5)], _sentence(rng))
            for n in range(12)
        ]
        slides[7] = (slides[7][0], [*slides[7][1], f"Remember {word}"], slides[7][2])
        (make_pptx if fmt == "pptx" else make_odp)(path, slides)
        return "\n".join(f"{t}\n" + "\n".join(b) + f"\n{n}" for t, b, n in slides)
    if fmt in ("xlsx", "ods", "csv"):
        rows: list[list[object]] = [["Client", "Amount", "Date", "Note"]]
        for i in range(300):
            note = word if i == 211 else _sentence(rng, 5)
            rows.append([f"client {i}", round(rng.random() * 1000, 2),
                         dt.date(2024, 1, 1) + dt.timedelta(days=i), note])  # fmt: skip
        if fmt == "xlsx":
            make_xlsx(path, [("Ledger", rows)])
        elif fmt == "ods":
            make_ods(path, [("Ledger", rows)])
        else:
            path.write_text("\n".join(",".join(str(c) for c in row) for row in rows) + "\n")
        return "\n".join("\t".join(str(c) for c in row) for row in rows)
    if fmt in ("odt", "rtf"):
        paragraphs = [_sentence(rng, 20) for _ in range(60)]
        paragraphs[31] += f" {word} indeed."
        if fmt == "odt":
            make_odt(path, [(1, "Report"), *((0, p) for p in paragraphs)])
        else:
            make_rtf(path, paragraphs)
        return "\n\n".join(paragraphs)
    if fmt == "eml":
        body = "\n".join(_sentence(rng) for _ in range(40)) + f"\nSee {word}.\n"
        make_eml(path, make_message(_sentence(rng, 5), body))
        return body
    if fmt == "mbox":
        messages = [
            make_message(_sentence(rng, 5), "\n".join(_sentence(rng) for _ in range(15)))
            for _ in range(30)
        ]
        messages[17] = make_message("Later", f"About {word} again.\n")
        make_mbox(path, messages)
        return "\n".join(str(m.get_body()) for m in messages)  # type: ignore[arg-type]
    raise ValueError(fmt)


FORMATS = ("pptx", "odp", "xlsx", "ods", "csv", "odt", "rtf", "eml", "mbox")


def _corpus(fmt: str, files: int) -> tuple[Path, Path, list[str]]:
    folder = CACHE / f"{fmt}-{files}"
    plain = CACHE / f"{fmt}-{files}-txt"
    words = [_own_word(i, fmt) for i in range(files)]
    if not folder.is_dir():
        rng = random.Random(fmt)
        tmp, tmp_plain = folder.with_suffix(".part"), plain.with_suffix(".part")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(tmp_plain, ignore_errors=True)
        tmp.mkdir(parents=True)
        tmp_plain.mkdir(parents=True)
        for i, word in enumerate(words):
            text = _write(fmt, tmp / f"file{i:04d}.{fmt}", word, rng)
            (tmp_plain / f"file{i:04d}.txt").write_text(text)
        shutil.rmtree(plain, ignore_errors=True)
        tmp_plain.rename(plain)
        tmp.rename(folder)
    return folder, plain, words


def _time_extraction(folder: Path) -> tuple[float, int, int]:
    from core.extract import extract

    paths = sorted(folder.iterdir())
    size = sum(p.stat().st_size for p in paths)
    start = time.perf_counter()
    chars = sum(extract(p).char_count for p in paths)
    return time.perf_counter() - start, size, chars


def _kenning_index(folder: Path, words: list[str]) -> tuple[float, int]:
    from core.config import AppPaths
    from core.search.retrieval import search
    from core.store.database import Store

    home = Path(tempfile.mkdtemp(prefix="kenning-formats-"))
    try:
        env = {**os.environ, "KENNING_HOME": str(home)}
        start = time.perf_counter()
        subprocess.run(
            [str(KENNING), "index", "--no-embed", str(folder)],
            check=True, env=env, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        wall = time.perf_counter() - start
        store = Store.open_reader(AppPaths.resolve(home).database)
        try:
            found = 0
            for i, word in enumerate(words):
                hits = search(store, word, None, limit=1, mode="lexical").hits
                found += bool(hits) and Path(hits[0].path).name.startswith(f"file{i:04d}.")
        finally:
            store.close()
        return wall, found
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _recoll(folder: Path, words: list[str]) -> tuple[float, int] | None:
    if shutil.which("recollindex") is None:
        return None
    conf = Path(tempfile.mkdtemp(prefix="recoll-formats-"))
    try:
        (conf / "recoll.conf").write_text(f"topdirs = {folder}\nnoaspell = 1\n")
        # Recoll's filters run "python3" from PATH and need the system's (with python3-lxml),
        # not a virtual environment's.
        path = "/usr/bin" + os.pathsep + os.environ.get("PATH", "")
        env = {**os.environ, "RECOLL_CONFDIR": str(conf), "PATH": path}
        start = time.perf_counter()
        subprocess.run(["recollindex", "-c", str(conf), "-z"], env=env, check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        wall = time.perf_counter() - start
        found = 0
        for i, word in enumerate(words):
            out = subprocess.run(
                ["recollq", "-c", str(conf), "-b", word], env=env, capture_output=True, text=True
            ).stdout
            found += f"file{i:04d}." in out
        return wall, found
    finally:
        shutil.rmtree(conf, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100)
    parser.add_argument("--formats", default=",".join(FORMATS))
    args = parser.parse_args()
    print(
        "format  files  MB     extract files/s  MB/s    .txt baseline files/s  "
        "kenning index s  found   recoll index s  found"
    )
    for fmt in args.formats.split(","):
        folder, plain, words = _corpus(fmt, args.files)
        seconds, size, _ = _time_extraction(folder)
        plain_seconds, _, _ = _time_extraction(plain)
        index_s, found = _kenning_index(folder, words)
        recoll = _recoll(folder, words)
        recoll_text = (
            f"{recoll[0]:>13.2f}  {recoll[1]:>3}/{len(words)}" if recoll else "  (not installed)"
        )
        print(
            f"{fmt:<6}  {len(words):>5}  {size / 2**20:>5.1f}  {len(words) / seconds:>15.1f}  "
            f"{size / 2**20 / seconds:>5.2f}  {len(words) / plain_seconds:>21.1f}  "
            f"{index_s:>15.2f}  {found:>3}/{len(words)}  {recoll_text}",
            flush=True,
        )


if __name__ == "__main__":
    main()

"""Time to keyword-searchable, Kenning against Recoll, on the same 1,000-file mixed folder.

The folder (PDF made with PyMuPDF, .txt, .html, .docx; two SciFact abstracts from
../shared/eval per file, read as data) is generated once into ``bench/.cache/``. Every file
also holds one made-up word of its own ("kmk" + letters), so "searchable" is checked file by
file, not guessed from a count.

- Kenning: a fresh ``KENNING_HOME``, ``kenning index --no-embed FOLDER`` timed as a process
  (start-up included), then every file's own word searched in-process.
- Recoll (the baseline, when ``recollindex`` is installed: ``apt-get install recoll
  poppler-utils``): a private ``RECOLL_CONFDIR`` with ``topdirs`` = the folder, ``recollindex
  -z`` timed the same way, then ``recollq`` must find the same words. Spelling suggestions
  (``noaspell = 1``) are turned off: that favours Recoll, which is the safe side for a claim.

Then query latency on the same corpus: Kenning's ``search(mode="lexical")`` in-process and
``kenning search --mode lexical --json`` as a process; ``recollq -o`` (any word, like
Kenning's OR of free words) as a process, and Recoll's own Python binding in a warm loop
(``/usr/bin/python3``, query and 20 results with abstracts, like Kenning's snippets); the
difference of the two is recollq's start-up.

    nice -n 10 python bench/searchable.py                 # 1000 files, 1 round
    nice -n 10 python bench/searchable.py --files 200 --rounds 2 --profile
    python bench/searchable.py --check-layout ../shared/eval/docugami_sec10q/pdfs

Prints wall and CPU seconds for each side and the ratio Kenning/Recoll. Never gates CI.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from html import escape
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from core.config import AppPaths, Settings  # noqa: E402
from core.index.indexer import Indexer  # noqa: E402
from core.search.retrieval import search  # noqa: E402
from core.store.database import Store  # noqa: E402
from tests.docs_factory import make_docx, make_html, make_pdf  # noqa: E402

CACHE = REPO / "bench" / ".cache"
EVAL = REPO.parent / "shared" / "eval" / "scifact"
KENNING = Path(sys.executable).with_name("kenning")
FORMATS = ("pdf", "txt", "html", "docx")
PDF_PAGE_CHARS = 1400  # fits the factory's 400 pt text box at 11 pt
MARKER_PREFIX = "kmk"


# No vowels, "s" or "y": a stemmer then leaves the word alone ("kmkbbi" and "kmkbby" would
# share a Porter stem and find each other's file).
MARKER_LETTERS = "bcdfghjklmnpqrtvwxz"


def marker(index: int) -> str:
    """A word no document has, unique to file ``index``: letters only, so every tokenizer keeps
    it whole."""
    letters = ""
    for _ in range(4):
        index, digit = divmod(index, len(MARKER_LETTERS))
        letters = MARKER_LETTERS[digit] + letters
    return MARKER_PREFIX + letters


def abstracts(count: int) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    with (EVAL / "corpus.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            if len(record.get("text", "")) > 300:
                rows.append((record.get("title", "").strip(), record["text"].strip()))
            if len(rows) == count:
                return rows
    raise SystemExit(f"Only {len(rows)} usable documents in {EVAL}; the eval data is needed.")


def pages_of(text: str, limit: int = PDF_PAGE_CHARS) -> list[str]:
    pages, current = [], ""
    for word in text.split():
        if current and len(current) + len(word) + 1 > limit:
            pages.append(current)
            current = ""
        current = f"{current} {word}" if current else word
    return [*pages, current] if current else pages


def build_corpus(files: int, per_file: int) -> Path:
    """The folder, made once: ``files`` files cycling through the four formats."""
    root = CACHE / f"searchable-{files}x{per_file}"
    if (root / ".complete").exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    docs = abstracts(files * per_file)
    for i in range(files):
        folder = root / f"part{i // 100:02}"
        folder.mkdir(parents=True, exist_ok=True)
        parts = docs[i * per_file: (i + 1) * per_file]
        title = parts[0][0]
        bodies = [f"{t}. {b}" for t, b in parts]
        bodies[-1] += f" Reference {marker(i)}."
        kind = FORMATS[i % len(FORMATS)]
        path = folder / f"doc{i:04}.{kind}"
        if kind == "pdf":
            make_pdf(path, [p for body in bodies for p in pages_of(body)], heading=f"Report {i}")
        elif kind == "txt":
            path.write_text(title + "\n\n" + "\n\n".join(bodies) + "\n", encoding="utf-8")
        elif kind == "html":
            markup = "".join(f"<p>{escape(b)}</p>" for b in bodies)  # abstracts have "<"
            make_html(path, f"<h1>{escape(title)}</h1>{markup}", title)
        else:
            make_docx(path, bodies, heading=title)
    (root / ".complete").write_text("", encoding="utf-8")
    return root


@dataclass
class Timed:
    wall: float
    cpu: float  # user + system of the process and its reaped children
    max_rss_mb: float


def run_timed(command: list[str], env: dict[str, str] | None = None) -> Timed:
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    err = process.stderr.read() if process.stderr else ""
    if process.returncode != 0:
        raise SystemExit(f"{command[0]} failed ({process.returncode}): {err[-2000:]}")
    return Timed(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


# -- Kenning --------------------------------------------------------------------------------


def kenning_index(folder: Path, home: Path, service: bool = False) -> Timed:
    """``kenning index`` on its own (``--no-embed``), or with ``service`` as users run it:
    handed to the background service it starts, returning once every file is searchable by
    its words (the service then stops, before it embeds them all)."""
    shutil.rmtree(home, ignore_errors=True)
    env = {k: v for k, v in os.environ.items() if k != "KENNING_NO_SERVICE"}
    env["KENNING_HOME"] = str(home)
    if not service:
        return run_timed([str(KENNING), "--no-service", "index", "--no-embed", str(folder)],
                         env)
    try:
        return run_timed([str(KENNING), "index", str(folder)], env)
    finally:
        subprocess.run([str(KENNING), "service", "stop"], env=env, capture_output=True)


def kenning_unfound(home: Path, files: int) -> list[int]:
    """Files whose own word does not bring them up first."""
    store = Store.open_reader(AppPaths.resolve(home).database)
    try:
        missing = []
        for i in range(files):
            hits = search(store, marker(i), None, limit=1, mode="lexical").hits
            if not hits or not Path(hits[0].path).stem.endswith(f"{i:04}"):
                missing.append(i)
        return missing
    finally:
        store.close()


def kenning_profile(folder: Path, home: Path, top: int) -> None:
    """The same indexing in this process under cProfile. The extraction child's work shows as
    this process waiting on its pipe (``connection.poll``); time ``core.extract.extract`` per
    format in one process to see inside it."""
    shutil.rmtree(home, ignore_errors=True)
    paths = AppPaths.resolve(home)
    paths.ensure()
    store = Store.open(paths.database)
    profiler = cProfile.Profile()
    with Indexer(store, None, Settings()) as indexer:
        indexer.add_folder(folder)
        profiler.enable()
        indexer.scan()
        indexer.extract_pending()
        profiler.disable()
    store.close()
    print(f"\ncProfile of the Kenning side in-process (top {top} by cumulative time):")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(top)


# -- Recoll ---------------------------------------------------------------------------------


def recoll_config(folder: Path, confdir: Path) -> None:
    shutil.rmtree(confdir, ignore_errors=True)
    confdir.mkdir(parents=True)
    (confdir / "recoll.conf").write_text(
        f"topdirs = {folder}\nnoaspell = 1\nloglevel = 1\n", encoding="utf-8")


def recoll_index(folder: Path, confdir: Path) -> Timed:
    recoll_config(folder, confdir)
    return run_timed(["recollindex", "-c", str(confdir), "-z"])


def recoll_found(confdir: Path, files: int) -> set[int]:
    """Files Recoll returns for the prefix every file's own word starts with."""
    out = subprocess.run(
        ["recollq", "-c", str(confdir), "-b", "-n", f"0-{files * 2}", f"{MARKER_PREFIX}*"],
        capture_output=True, text=True, check=True).stdout
    return {int(m.group(1)) for m in re.finditer(r"doc(\d{4})\.\w+\s*$", out, re.M)}


RECOLL_WARM_LOOP = """
import json, sys, time
from recoll import recoll
confdir, queries = sys.argv[1], json.load(sys.stdin)
db = recoll.connect(confdir=confdir)
times = []
for text in [queries[0]] + queries:  # the first is a warm-up
    start = time.perf_counter()
    query = db.query()
    query.execute(" OR ".join(text.split()), stemming=1)
    for doc in query.fetchmany(20):
        query.makedocabstract(doc)
    times.append(time.perf_counter() - start)
print(json.dumps(times[1:]))
"""


def recoll_query_times(confdir: Path, queries: list[str]) -> dict[str, list[float]]:
    def process_time(text: str) -> float:
        start = time.perf_counter()
        subprocess.run(["recollq", "-c", str(confdir), "-o", "-n", "0-19", text],
                       capture_output=True, check=True)
        return time.perf_counter() - start

    result = {"recollq process": [process_time(q) for q in queries]}
    if Path("/usr/bin/python3").exists():
        warm = subprocess.run(["/usr/bin/python3", "-c", RECOLL_WARM_LOOP, str(confdir)],
                              input=json.dumps(queries), capture_output=True, text=True)
        if warm.returncode == 0:
            result["Recoll binding, warm (query + 20 abstracts)"] = json.loads(warm.stdout)
        else:
            print(f"(Recoll's Python binding unavailable: {warm.stderr.strip()[-200:]})")
    return result


# -- queries --------------------------------------------------------------------------------


def scifact_queries(count: int) -> list[str]:
    """SciFact claims reduced to their first five words of four letters or more."""
    queries = []
    with (EVAL / "queries.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            words = [w for w in re.findall(r"[A-Za-z]+", json.loads(line)["text"]) if len(w) > 3]
            if words:
                queries.append(" ".join(words[:5]))
            if len(queries) == count:
                break
    return queries


def kenning_query_times(home: Path, queries: list[str], cli_runs: int) -> dict[str, list[float]]:
    store = Store.open_reader(AppPaths.resolve(home).database)
    search(store, queries[0], None, limit=20, mode="lexical")  # warm-up
    in_process = []
    for text in queries:
        start = time.perf_counter()
        search(store, text, None, limit=20, mode="lexical")
        in_process.append(time.perf_counter() - start)
    store.close()
    env = dict(os.environ, KENNING_HOME=str(home))
    cli = []
    for text in queries[:cli_runs]:
        start = time.perf_counter()
        subprocess.run([str(KENNING), "search", "--mode", "lexical", "--json", "-n", "20", text],
                       env=env, capture_output=True, check=True)
        cli.append(time.perf_counter() - start)
    return {"Kenning search(), in-process": in_process,
            "kenning search --mode lexical --json process": cli}


def percentiles(times: list[float]) -> str:
    if not times:
        return "not run"
    ms = sorted(t * 1000 for t in times)
    p95 = statistics.quantiles(ms, n=20)[18] if len(ms) > 1 else ms[0]
    return f"p50 {statistics.median(ms):7.1f} ms  p95 {p95:7.1f} ms  (n={len(ms)})"


def check_layout(paths: list[Path]) -> int:
    """Indexing's ``layout_text`` against highlighting's ``layout_page`` on every page of the
    PDF/DOCX/EPUB files under ``paths``: they must give the same text and lines."""
    from core.extract import ExtractionError
    from core.extract.pdf import open_document
    from core.extract.pdf_layout import layout_page, layout_text

    files = [found for path in paths
             for found in (sorted(path.rglob("*")) if path.is_dir() else [path])
             if found.suffix.lower() in (".pdf", ".docx", ".epub")]
    pages = differ = 0
    seconds = {"layout_page": 0.0, "layout_text": 0.0}
    for path in files:
        try:
            with open_document(path) as document:
                for page in document:
                    results = []
                    for name, layout in (("layout_page", layout_page),
                                         ("layout_text", layout_text)):
                        start = time.perf_counter()
                        results.append(layout(page))
                        seconds[name] += time.perf_counter() - start
                    full, text_only = results
                    pages += 1
                    if (full.text, full.lines) != (text_only.text, text_only.lines):
                        differ += 1
                        print(f"DIFFERENT: {path} page {page.number + 1}")
        except ExtractionError as error:
            print(f"skipped {path}: {error}")
    speedup = seconds["layout_page"] / max(seconds["layout_text"], 1e-9)
    print(f"{len(files)} files, {pages} pages, {differ} differ; layout_page "
          f"{seconds['layout_page']:.1f} s, layout_text {seconds['layout_text']:.1f} s "
          f"({speedup:.1f}x)")
    return 1 if differ else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check-layout", nargs="+", type=Path, metavar="PATH",
                        help="only compare indexing's and highlighting's page text on the "
                        "PDF/DOCX/EPUB files under PATH, and exit")
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--service", action="store_true",
                        help="time `kenning index` through the background service it starts")
    parser.add_argument("--per-file", type=int, default=2, help="abstracts per file")
    parser.add_argument("--rounds", type=int, default=1,
                        help="index runs per side, alternating Kenning and Recoll")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--cli-queries", type=int, default=10,
                        help="kenning search processes to time (each starts Python)")
    parser.add_argument("--profile", action="store_true",
                        help="also index in-process under cProfile and print the top functions")
    args = parser.parse_args()
    if args.check_layout:
        return check_layout(args.check_layout)

    start = time.perf_counter()
    folder = build_corpus(args.files, args.per_file)
    made = time.perf_counter() - start
    size_mb = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6
    print(f"corpus {folder} ({args.files} files, {size_mb:.1f} MB; made/checked in {made:.1f} s)")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    work = Path(tempfile.mkdtemp(prefix="kenning-searchable-"))
    home, confdir = work / "kenning-home", work / "recoll-conf"
    have_recoll = shutil.which("recollindex") is not None and shutil.which("recollq") is not None
    if not have_recoll:
        print("Recoll is not installed (`apt-get install -y recoll poppler-utils`): "
              "its column is skipped.")
    runs: dict[str, list[Timed]] = {"Kenning": [], "Recoll": []}
    for _ in range(args.rounds):  # alternate, so background load hits both alike
        runs["Kenning"].append(kenning_index(folder, home, args.service))
        if have_recoll:
            runs["Recoll"].append(recoll_index(folder, confdir))

    unfound = kenning_unfound(home, args.files)
    print(f"Kenning: {args.files - len(unfound)}/{args.files} files found by their own word"
          + (f" (missing e.g. {unfound[:5]})" if unfound else ""))
    if have_recoll:
        found = recoll_found(confdir, args.files)
        print(f"Recoll:  {len(found)}/{args.files} files found by their own word")

    print("\nTime to keyword-searchable (process wall time, best of rounds; CPU = user+sys "
          "incl. children; peak RSS of the largest process):")
    best = {side: min(timed, key=lambda t: t.wall) for side, timed in runs.items() if timed}
    for side, timed in best.items():
        walls = ", ".join(f"{t.wall:.1f}" for t in runs[side])
        print(f"  {side:8s} wall {timed.wall:7.1f} s  cpu {timed.cpu:7.1f} s  "
              f"peak RSS {timed.max_rss_mb:6.0f} MB  ({args.files / timed.wall:.0f} files/s; "
              f"rounds: {walls} s)")
    if "Recoll" in best:
        print(f"  Kenning / Recoll: {best['Kenning'].wall / best['Recoll'].wall:.2f}x wall, "
              f"{best['Kenning'].cpu / best['Recoll'].cpu:.2f}x CPU")

    queries = scifact_queries(args.queries)
    print(f"\nQuery latency, {len(queries)} SciFact claims cut to <= 5 words, 20 results:")
    latencies = kenning_query_times(home, queries, args.cli_queries)
    if have_recoll:
        latencies.update(recoll_query_times(confdir, queries))
    for label, times in latencies.items():
        print(f"  {label:48s} {percentiles(times)}")
    if have_recoll:
        kenning_p50 = statistics.median(latencies["Kenning search(), in-process"])
        recoll_key = "Recoll binding, warm (query + 20 abstracts)"
        if recoll_key in latencies:
            print(f"  in-process p50 Kenning / Recoll: "
                  f"{kenning_p50 / statistics.median(latencies[recoll_key]):.2f}x")
            recollq_start = (statistics.median(latencies["recollq process"])
                             - statistics.median(latencies[recoll_key]))
            print(f"  recollq start-up (process p50 - warm p50): {1000 * recollq_start:.0f} ms")
        cli = latencies["kenning search --mode lexical --json process"]
        if cli:
            recollq = statistics.median(latencies["recollq process"])
            print(f"  process p50 Kenning / Recoll: {statistics.median(cli) / recollq:.2f}x")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"(largest child process of this run: {children:.0f} MB)")

    if args.profile:
        kenning_profile(folder, work / "profile-home", top=25)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

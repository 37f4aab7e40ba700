"""Soak: several `kenning` commands on one home at once, interrupted and killed at random.

Three writer slots (`index`, `index --no-embed`, `retry`, `forget` + `index` of a second
folder) and two reader slots (`search --json`, `status --json`) keep real `kenning` processes
running on one home for ``--seconds``; each process gets, at a random moment, nothing, a
SIGINT to its process group (a terminal's Ctrl+C, which reaches its file readers too) or a
SIGKILL (to its process group, or to the command alone, leaving its readers orphaned). A
thread meanwhile edits, adds and deletes files. The commands use the fake model
(tests/cli_child.py), since the model is not what is soaked.

Afterwards one last `kenning index` runs undisturbed, and the script checks:
- no command printed a traceback; readers ended 0 unless signalled; writers 0, 130 or the
  documented "waiting"/busy messages;
- the index is exact: files with chunks = files extracted or embedded, chunks = full-text
  rows = vectors, nothing duplicated or orphaned (tests/index_checks.py), and the same files
  in the same states with the same content as an index built from scratch;
- no file that reads fine is marked failed (each failed file fails again when read alone),
  unless it failed for changing while it was read (then `retry` runs, as documented);
- no file reader outlived its command.

    nice -n 10 python bench/soak.py --seconds 60

Prints the counts and "soak: PASS" or the failures (exit 1).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.config import AppPaths  # noqa: E402
from core.extract import ExtractionError, extract  # noqa: E402
from core.index.indexer import KEPT_CHANGING  # noqa: E402
from core.store.database import Store  # noqa: E402
from tests.docs_factory import make_html, make_pdf  # noqa: E402
from tests.fakes import FakeModel  # noqa: E402
from tests.index_checks import assert_consistent, snapshot, vector_count  # noqa: E402

WORDS = ["lease", "tenant", "notice", "garden", "tomato", "invoice", "budget", "meeting",
         "river", "mountain", "harbour", "engine", "violin", "recipe", "pepper", "winter",
         "ledger", "contract", "clause"]


@dataclass
class Tally:
    started: dict[str, int] = field(default_factory=dict)
    signals: dict[str, int] = field(default_factory=dict)
    exits: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def add(self, counter: dict[str, int], key: str) -> None:
        counter[key] = counter.get(key, 0) + 1


def make_corpus(root: Path, rng: random.Random) -> None:
    def paragraph(n: int = 60) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(n)) + "."

    root.mkdir(parents=True)
    for i in range(40):
        (root / f"note{i}.txt").write_text("\n\n".join(paragraph() for _ in range(6)))
        body = "\n\n".join(f"## Part {j}\n\n{paragraph()}" for j in range(5))
        (root / f"doc{i}.md").write_text(f"# Document {i}\n\n{body}")
    for i in range(10):
        make_html(root / f"page{i}.html", "".join(f"<p>{paragraph()}</p>" for _ in range(4)))
        make_pdf(root / f"report{i}.pdf", [paragraph(80) for _ in range(12)], "Report")
    (root / "broken.pdf").write_bytes(b"%PDF-1.7 this is not really a PDF")  # fails, rightly


def mutate(folder: Path, rng: random.Random, stop: threading.Event) -> None:
    """Edit, add and delete files while the commands run, so writers always find work."""
    n = 0
    while not stop.wait(rng.uniform(0.3, 1.2)):
        n += 1
        choice = rng.random()
        files = sorted(folder.glob("*.txt"))
        if choice < 0.5 and files:
            target = rng.choice(files)
            with contextlib.suppress(OSError):
                target.write_text(" ".join(rng.choice(WORDS) for _ in range(300)) + f" {n}.")
        elif choice < 0.8:
            (folder / f"new{n}.txt").write_text(" ".join(rng.choice(WORDS) for _ in range(200)))
        elif files:
            with contextlib.suppress(OSError):
                rng.choice(files).unlink()


def command(home: Path, argv: list[str], slow_s: float) -> subprocess.Popen[str]:
    env = {**os.environ, "KENNING_HOME": str(home), "KENNING_TEST_SLOW_S": str(slow_s)}
    return subprocess.Popen([sys.executable, "-m", "tests.cli_child", *argv], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def readers_alive() -> set[int]:
    """Process ids of extraction children (multiprocessing's spawned interpreters) running
    from this checkout, zombies aside."""
    found = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"multiprocessing.spawn" in cmdline and state != "Z":
            found.add(int(proc.name))
    return found


def soak(seconds: float, seed: int, workdir: Path) -> Tally:
    rng = random.Random(seed)
    tally = Tally()
    docs, extra = workdir / "docs", workdir / "extra"
    make_corpus(docs, rng)
    make_corpus(extra, random.Random(seed + 1))
    home = workdir / "home"
    before_readers = readers_alive()
    stop = threading.Event()
    mutator = threading.Thread(target=mutate, args=(docs, random.Random(seed + 2), stop))
    mutator.start()
    writers = [["index", str(docs)], ["index", "--no-embed"], ["retry"],
               ["forget", str(extra)], ["index", str(extra)], ["index"]]
    readers = [["search", "tomato harbour", "--json"], ["status", "--json"],
               ["search", "notice -garden", "--json", "--in", str(docs)]]
    slots: list[tuple[str, list[str], subprocess.Popen[str], float, str] | None] = [None] * 5
    deadline = time.monotonic() + seconds
    orphaned_checks: list[tuple[float, set[int]]] = []
    try:
        while time.monotonic() < deadline:
            for i, slot in enumerate(slots):
                kind = "writer" if i < 3 else "reader"
                if slot is None:
                    argv = rng.choice(writers if kind == "writer" else readers)
                    fate = rng.choices(["none", "sigint", "sigkill-group", "sigkill-alone"],
                                       [0.4, 0.3, 0.15, 0.15])[0]
                    when = time.monotonic() + rng.uniform(0.3, 4.0)
                    slots[i] = (kind, argv, command(home, argv, rng.choice([0, 0.02, 0.1])),
                                when, fate)
                    tally.add(tally.started, f"{kind} {argv[0]}")
                    continue
                kind, argv, proc, when, fate = slot
                if proc.poll() is None and fate != "none" and time.monotonic() >= when:
                    children = _children_of(proc.pid)
                    with contextlib.suppress(ProcessLookupError):
                        if fate == "sigint":
                            os.killpg(proc.pid, signal.SIGINT)
                        elif fate == "sigkill-group":
                            os.killpg(proc.pid, signal.SIGKILL)
                        else:
                            os.kill(proc.pid, signal.SIGKILL)
                            orphaned_checks.append((time.monotonic() + 5, children))
                    tally.add(tally.signals, fate)
                    slots[i] = (kind, argv, proc, float("inf"), fate)
                elif proc.poll() is not None:
                    _finished(tally, kind, argv, proc, fate if when == float("inf") else "none")
                    slots[i] = None
            for due, children in list(orphaned_checks):
                if time.monotonic() >= due:
                    orphaned_checks.remove((due, children))
                    left = children & readers_alive()
                    if left:
                        tally.problems.append(f"file readers {sorted(left)} outlived a kill -9")
            time.sleep(0.05)
    finally:
        stop.set()
        mutator.join()
        for slot in slots:
            if slot is not None:
                kind, argv, proc, when, fate = slot
                proc.wait(timeout=300)
                _finished(tally, kind, argv, proc, fate if when == float("inf") else "none")
    time.sleep(5)
    for _, children in orphaned_checks:
        if children & readers_alive():
            tally.problems.append("file readers outlived a kill -9")

    _run_quietly(home, ["index", str(docs), str(extra)], tally)
    database = AppPaths.resolve(home).database
    _check_failures(database, tally)
    # Files that failed because the soak kept rewriting them as they were read stay failed
    # until they change again or `retry` (as documented): retried, the index must then be
    # what a fresh one of the same files is.
    _run_quietly(home, ["retry"], tally)
    _check_index(database, [docs, extra], workdir, tally)
    left = readers_alive() - before_readers
    if left:
        tally.problems.append(f"file readers still running after the soak: {sorted(left)}")
    return tally


def _children_of(pid: int) -> set[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return set()
    return {int(x) for x in text.split()}


def _finished(tally: Tally, kind: str, argv: list[str], proc: subprocess.Popen[str],
              fate: str) -> None:
    _, err = proc.communicate()
    code = proc.returncode
    tally.add(tally.exits, f"{kind} {argv[0]} {fate} -> {code}")
    if "Traceback" in err:
        tally.problems.append(f"{' '.join(argv)} ({fate}) printed a traceback:\n{err}")
    expected = {"none": {0, 2} if argv[0] == "forget" else {0},
                "sigint": {130, 0, 2} if argv[0] == "forget" else {130, 0},
                # (0 too: the interrupt came after the work, or before any was started)
                "sigkill-group": {-9}, "sigkill-alone": {-9}}[fate]
    if fate == "sigint":
        expected |= {-2}  # stopped before Python could turn the signal into a message
    if code == 1:
        print(f"exit 1: {' '.join(argv)}: {err.strip()[-3000:]}")
    if code not in expected and not (code == 1 and "busy for too long" in err):
        tally.problems.append(f"{' '.join(argv)} ({fate}) ended {code}: {err[-500:]}")


def _run_quietly(home: Path, argv: list[str], tally: Tally) -> None:
    done = command(home, argv, 0)
    _, err = done.communicate(timeout=600)
    if done.returncode != 0 or "Traceback" in err:
        tally.problems.append(f"undisturbed {' '.join(argv)} failed ({done.returncode}): {err}")


def _check_failures(database: Path, tally: Tally) -> None:
    """No file that reads fine is marked failed, except for having changed while read."""
    store = Store.open(database)
    failed = [(p, e) for p, s, e in store.files.failures() if s == "failed"]
    store.close()
    changing = 0
    for path, error in failed:
        if error == KEPT_CHANGING:
            changing += 1
            continue
        try:
            extract(Path(path))
            tally.problems.append(f"{path} is marked failed ({error}) but reads fine")
        except (ExtractionError, OSError):
            pass
    print(f"failed after the soak: {len(failed)} ({changing} kept changing while read)")


def _check_index(database: Path, folders: list[Path], workdir: Path, tally: Tally) -> None:
    store = Store.open(database)
    model_id = FakeModel().model_id
    try:
        assert_consistent(store, model_id)
    except AssertionError as exc:
        tally.problems.append(f"index inconsistent: {exc}")
    chunks = store.count("SELECT count(*) FROM chunks")
    fts = store.count("SELECT count(*) FROM chunks_fts_docsize")
    vectors = vector_count(store, model_id)
    with_chunks = store.count("SELECT count(DISTINCT file_id) FROM chunks")
    read = store.count("SELECT count(*) FROM files WHERE state IN ('extracted', 'embedded')")
    counts = store.files.state_counts()
    print(f"final index: {counts}, {chunks} chunks, {fts} full-text rows, {vectors} vectors, "
          f"{with_chunks} files with chunks")
    if not (chunks == fts == vectors and with_chunks == read):
        tally.problems.append("files, chunks, full-text rows and vectors do not agree")
    mine = snapshot(store)
    store.close()
    fresh_home = workdir / "fresh"
    done = command(fresh_home, ["index", *map(str, folders)], 0)
    _, _err = done.communicate(timeout=600)
    fresh = Store.open(AppPaths.resolve(fresh_home).database)
    theirs = snapshot(fresh)
    # Files, their content and state must match exactly. Chunk boundaries may not: a file
    # first read by `index --no-embed` is cut by an estimate of the model's token count, and
    # keeps those chunks while its content is unchanged.
    if theirs[0] != mine[0]:
        files = sorted(mine[0] ^ theirs[0])[:6]
        tally.problems.append("the index differs from one built from scratch of the same "
                              f"files: {files}")
    fresh.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the files after a failure")
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="kenning-soak-") as tmp:
        tally = soak(args.seconds, args.seed, Path(tmp))
        if args.keep and tally.problems:
            kept = Path(tempfile.mkdtemp(prefix="kenning-soak-kept-"))
            os.rename(tmp, kept / "work")
            os.mkdir(tmp)
            print(f"kept in {kept / 'work'}")
    print(f"commands started: {json.dumps(tally.started, sort_keys=True)}")
    print(f"signals sent: {json.dumps(tally.signals, sort_keys=True)}")
    print(f"exits: {json.dumps(tally.exits, sort_keys=True)}")
    print(f"took {time.monotonic() - started:.0f} s")
    for problem in tally.problems:
        print(f"PROBLEM: {problem!r}")
    print("soak: PASS" if not tally.problems else f"soak: FAIL ({len(tally.problems)})")
    return 0 if not tally.problems else 1


if __name__ == "__main__":
    sys.exit(main())

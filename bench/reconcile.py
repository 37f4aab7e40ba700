"""Reconciliation at start-up, and what a folder rename costs.

1. A synthetic tree of 100,000 small text files (1,000 folders of 100) is recorded in a fresh
   database as already indexed (sizes, times and real content hashes, no chunks), then
   scanned: once with nothing changed, once with 1% of the files rewritten. The scan compares
   sizes and times only; hashing is left to the files that differ.
2. A 1,000-file folder is indexed for real (fake model: no GGUF), then renamed, both as the
   watcher reports it (one move) and as a start-up scan finds it (vanished + new files with
   the same content). Reports the time and how many chunks were embedded again (should be 0).

    python bench/reconcile.py                  # 100,000 files, in a temporary folder
    python bench/reconcile.py --files 20000 --keep /tmp/tree

Timings are with a warm file-system cache (the tree was just written). Never gates CI.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from core.config import Settings  # noqa: E402
from core.index.indexer import Indexer  # noqa: E402
from core.index.reconcile import ChangeSet, Reconciler  # noqa: E402
from core.index.walk import ExcludeRules  # noqa: E402
from core.store.database import Store  # noqa: E402
from tests.fakes import FakeModel  # noqa: E402

FILES_PER_FOLDER = 100


def build_tree(root: Path, files: int) -> list[Path]:
    paths = []
    for n in range(files):
        folder = root / f"group{n // (FILES_PER_FOLDER * 10)}" / f"folder{n // FILES_PER_FOLDER}"
        if n % FILES_PER_FOLDER == 0:
            folder.mkdir(parents=True)
        path = folder / f"note{n}.txt"
        path.write_text(f"Note {n}: the quick brown fox number {n} jumps.\n")
        paths.append(path)
    return paths


def record_as_indexed(store: Store, root: Path, paths: list[Path]) -> None:
    """What the database holds after a finished index, minus chunks (not read by a scan)."""
    folder_id = store.folders.add(root)
    with store.conn:
        for path in paths:
            st = path.stat()
            digest = hashlib.blake2b(path.read_bytes(), digest_size=20).hexdigest()
            store.conn.execute(
                "INSERT INTO files(folder_id, path, size, mtime, content_hash, state, indexed_at) "
                "VALUES (?, ?, ?, ?, ?, 'embedded', ?)",
                (folder_id, str(path), st.st_size, st.st_mtime, digest, st.st_mtime + 60),
            )


def timed_scan(store: Store) -> tuple[float, str]:
    started = time.perf_counter()
    report = Reconciler(store, ExcludeRules()).scan()
    seconds = time.perf_counter() - started
    return seconds, (
        f"{report.unchanged:,} unchanged, {report.new_or_changed:,} new or changed, "
        f"{report.deleted:,} deleted"
    )


def bench_scan(work: Path, files: int) -> None:
    root = work / "tree"
    started = time.perf_counter()
    paths = build_tree(root, files)
    print(f"Wrote {files:,} files in {time.perf_counter() - started:.1f} s")
    store = Store.open(work / "scan.db")
    record_as_indexed(store, root, paths)
    for attempt in (1, 2):
        seconds, what = timed_scan(store)
        print(f"  {f'scan, nothing changed (run {attempt}):':36} {seconds:6.2f} s  ({what})")
    for path in paths[::100]:
        with path.open("a") as handle:
            handle.write("An edit.\n")
    seconds, what = timed_scan(store)
    print(f"  {'scan, 1% changed:':36} {seconds:6.2f} s  ({what})")
    store.close()


def bench_rename(work: Path, files: int) -> None:
    root = work / "docs"
    project = root / "project"
    for n in range(files):
        (project / f"part{n % 10}").mkdir(parents=True, exist_ok=True)
        (project / f"part{n % 10}" / f"doc{n}.md").write_text(
            f"# Document {n}\n\nSection one of document {n}.\n\n## More\n\nSection two, {n}."
        )
    model = FakeModel()
    store = Store.open(work / "rename.db")
    with Indexer(store, model, Settings()) as indexer:
        indexer.add_folder(root)
        started = time.perf_counter()
        indexer.run()
        chunks = store.count("SELECT count(*) FROM chunks")
        print(
            f"Indexed {files:,} files ({chunks:,} chunks) in {time.perf_counter() - started:.1f} s"
        )

        renamed = root / "project-renamed"
        project.rename(renamed)
        before = model.embedded_texts
        started = time.perf_counter()
        report = indexer.apply_changes(ChangeSet(moves=[(str(project), str(renamed))]))
        indexer.run()
        print(
            f"  rename seen by the watcher:  {time.perf_counter() - started:6.2f} s, "
            f"{report.moved:,} files moved, {model.embedded_texts - before} chunks embedded"
        )

        again = root / "project-again"
        renamed.rename(again)
        before = model.embedded_texts
        started = time.perf_counter()
        report = indexer.scan()
        indexer.run()
        print(
            f"  rename found by a scan:      {time.perf_counter() - started:6.2f} s, "
            f"{report.moved:,} files moved, {model.embedded_texts - before} chunks embedded"
        )
    store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000, help="files in the scanned tree")
    parser.add_argument("--rename-files", type=int, default=1000, help="files in the renamed one")
    parser.add_argument("--keep", type=Path, help="work here and keep it (default: a temp dir)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="kenning-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        bench_scan(work, args.files)
        bench_rename(work, args.rename_files)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

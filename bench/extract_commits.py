"""Extraction with one commit per file against files grouped into one commit per tenth of a
second (``core.index.indexer.GROUP_COMMIT_S``), alternated in one run on the same folder.

Uses the 1,000-file mixed folder ``bench/searchable.py`` generates (run it once first), a
fresh index each time, keywords only (no model). Prints wall time and this process's CPU time
(the extraction child's is not counted: it is the same in both).

    nice -n 5 python bench/extract_commits.py --rounds 2
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FOLDER = ROOT / "bench" / ".cache" / "searchable-1000x2"


def main() -> None:
    import core.index.indexer as indexer_module
    from core.config import Settings
    from core.index.indexer import Indexer
    from core.store.database import Store

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--folder", type=Path, default=FOLDER)
    args = parser.parse_args()
    if not args.folder.is_dir():
        sys.exit(f"{args.folder} is missing: run bench/searchable.py once to generate it.")
    shipped = indexer_module.GROUP_COMMIT_S
    for _ in range(args.rounds):
        for group in (0.0, shipped):
            indexer_module.GROUP_COMMIT_S = group  # 0: every file commits alone
            work = Path(tempfile.mkdtemp(prefix="kenning-commits-"))
            try:
                store = Store.open(work / "index.db")
                with Indexer(store, None, Settings()) as indexer:
                    indexer.add_folder(args.folder)
                    indexer.scan()
                    cpu, wall = time.process_time(), time.perf_counter()
                    files = indexer.extract_pending()
                    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                store.close()
            finally:
                shutil.rmtree(work)
            label = "one commit per file" if group == 0 else f"grouped ({group} s)"
            print(f"{label:22} {files} files  wall {wall:5.2f} s  main-process CPU {cpu:5.2f} s",
                  flush=True)


if __name__ == "__main__":
    main()

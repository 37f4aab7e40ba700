"""Time to open the index for writing, with and without the whole-file integrity check.

``Store.open`` checks the file (``PRAGMA quick_check``) unless the last writer closed it
cleanly (core/store/clean_close.py). This opens the databases that ``bench/latency.py`` builds
(run that first) a few times each way: "checked" forgets the clean-close note first, as after
a crash; "clean" follows a clean close. The file cache is warm for both after the first open.

    python bench/open_store.py --sizes 100000,1000000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.store.clean_close import forget_clean_close  # noqa: E402
from core.store.database import Store  # noqa: E402

CACHE = ROOT / "bench" / ".cache" / "latency"


def open_seconds(database: Path, checked: bool) -> float:
    if checked:
        forget_clean_close(database)
    started = time.perf_counter()
    store = Store.open(database)
    seconds = time.perf_counter() - started
    store.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for size in (int(s) for s in args.sizes.split(",")):
        database = CACHE / f"chunks-{size}.db"
        if not database.exists():
            print(f"{size:>9,} chunks: no database; run bench/latency.py --sizes {size} first")
            continue
        open_seconds(database, checked=True)  # warms the file cache, applies migrations
        checked = [open_seconds(database, checked=True) for _ in range(args.rounds)]
        clean = [open_seconds(database, checked=False) for _ in range(args.rounds)]
        base, now = statistics.median(checked), statistics.median(clean)
        print(f"{size:>9,} chunks ({database.stat().st_size / 2**30:.1f} GB): checked "
              f"{base:.3f} s, after a clean close {now * 1000:.1f} ms "
              f"({base / max(now, 1e-6):,.0f}x faster)")


if __name__ == "__main__":
    main()

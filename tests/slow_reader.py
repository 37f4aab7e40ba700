"""An extraction child that reads slowly, for tests of interrupts and kills:

    python -m tests.slow_reader FILE

Starts an ``IsolatedExtractor``, prints its child's process id, reads FILE through it and
prints "read N" (N pages), "failed REASON" or "interrupted". The child spends
``KENNING_TEST_SLOW_S`` seconds (default 3) busy before reading, as a reader stuck on a hard
file does. A first SIGINT to this process is noted ("noted interrupt"), as the command line's
first Ctrl+C is; the reading goes on.

The slow reading is set up when this module is imported, so it holds in the child too: a
spawned child imports the main module of its parent again (as ``__mp_main__``).
"""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import core.extract.worker as worker
from core.extract import ExtractionError
from core.extract.worker import ExtractionInterrupted, IsolatedExtractor
from core.types import Document

_read = worker.extract


def _slowly(path: Path, max_bytes: int | None = None, **options: Any) -> Document:
    deadline = time.monotonic() + float(os.environ.get("KENNING_TEST_SLOW_S", "3"))
    while time.monotonic() < deadline:  # busy, not asleep: a runaway reader burns CPU
        pass
    return _read(path, max_bytes=max_bytes, **options)


worker.extract = _slowly  # type: ignore[assignment]


def _note(signum: int, frame: object) -> None:
    print("noted interrupt", flush=True)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, _note)
    target = Path(sys.argv[1])
    with IsolatedExtractor(timeout=600) as extractor:
        extractor.start(target)
        print(extractor._live[0].process.pid, flush=True)
        try:
            print(f"read {len(extractor.extract(target).pages)}", flush=True)
        except ExtractionError as exc:
            print(f"failed {exc}", flush=True)
        except ExtractionInterrupted:
            print("interrupted", flush=True)

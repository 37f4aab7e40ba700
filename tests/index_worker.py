"""The indexer in a process of its own, for the crash tests: they kill it with SIGKILL at
random moments and start it again, then check nothing was lost, duplicated or redone.

    python -m tests.index_worker DATABASE FOLDER WORK_LOG

Prints "ready" once the store is open and the indexer built. Each extracted file and each
embedded batch appends a line to WORK_LOG ("extract 1", "embed 16") *after* the work is
done, so the test can add up the work done across all runs. Small sleeps stretch the work
so that kills land in every phase.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.config import Settings
from core.extract.worker import IsolatedExtractor
from core.index.indexer import Indexer
from core.store.database import Store
from core.types import Document
from tests.fakes import FakeModel

CHUNK_TOKENS = 40
EXTRACT_PAUSE_S = 0.05
EMBED_PAUSE_S = 0.08


class _WorkLog:
    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def note(self, what: str, n: int) -> None:
        os.write(self.fd, f"{what} {n}\n".encode())


class CountingModel(FakeModel):
    def __init__(self, log: _WorkLog) -> None:
        super().__init__()
        self.log = log

    def embed_batch(self, texts: Sequence[str], *, query: bool = False) -> np.ndarray:
        if query:
            return super().embed_batch(texts, query=True)
        time.sleep(EMBED_PAUSE_S)
        vectors = super().embed_batch(texts)
        self.log.note("embed", len(texts))
        return vectors


class CountingExtractor(IsolatedExtractor):
    def __init__(self, log: _WorkLog) -> None:
        super().__init__(timeout=60)
        self.log = log

    def extract(self, path: Path, max_bytes: int | None = None, ocr: bool = False) -> Document:
        time.sleep(EXTRACT_PAUSE_S)
        document = super().extract(path, max_bytes, ocr)
        self.log.note("extract", 1)
        return document


def main(argv: list[str]) -> int:
    database, folder, work_log = argv
    log = _WorkLog(work_log)
    store = Store.open(Path(database))
    settings = Settings(chunk_tokens=CHUNK_TOKENS)
    extractor = CountingExtractor(log)
    # Start the extraction process now (uncounted), so kills after "ready" land in real work.
    warm_up = Path(database).with_name("warm-up.txt")
    warm_up.write_text("warm up")
    IsolatedExtractor.extract(extractor, warm_up)
    with Indexer(store, CountingModel(log), settings, extractor) as indexer:
        indexer.add_folder(Path(folder))
        print("ready", flush=True)
        indexer.run()
    store.close()
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

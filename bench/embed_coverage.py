"""Time to full coverage: how soon every file is findable by meaning (has at least one vector).

Generates a mixed folder (text, Markdown, HTML, PDF, DOCX; several chunks per file, real
abstracts from ../shared/eval/medline read as data), extracts it once, then embeds two copies
of that index with the real model in the same process:

- ``breadth-first``: the indexer's order (every file's first chunk before anyone's second);
- ``file-by-file``: the baseline, each file's chunks in turn (``ORDER BY file, ordinal``).

The two runs alternate batch by batch, so a busy machine slows both alike. Prints the time
until 50 %, 90 % and 100 % of files have a vector for each order, and the ratio.

    nice -n 10 python bench/embed_coverage.py               # 1000 files, the bundled model
    nice -n 10 python bench/embed_coverage.py --files 200 --png docs/coverage.png

Writes a PNG of the coverage curves when matplotlib is installed (``pip install .[bench]``).
Never gates CI on a time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from core.config import Settings  # noqa: E402
from core.extract.worker import IsolatedExtractor  # noqa: E402
from core.index.indexer import EMBED_BATCH_CHUNKS, Indexer, embedding_input  # noqa: E402
from core.models.default_model import default_model_path  # noqa: E402
from core.models.llama.unified import UnifiedModel  # noqa: E402
from core.store.chunks import Chunks, PendingChunk  # noqa: E402
from core.store.database import Store  # noqa: E402
from core.store.files import Files  # noqa: E402
from tests.docs_factory import make_docx, make_html, make_pdf  # noqa: E402

CORPUS = REPO.parent / "shared" / "eval" / "medline" / "corpus.jsonl"


class FileByFileChunks(Chunks):
    """The baseline order: all of one file's chunks, then the next file's."""

    def needing_vectors(
        self, model_id: str, limit: int, focus: Sequence[str] = ()
    ) -> list[PendingChunk]:
        table = self.vec_table(model_id)
        assert table is not None
        rows = self.conn.execute(
            "SELECT c.id, c.file_id, c.text, c.heading, coalesce(f.title, ''), c.token_count "
            "FROM chunks c JOIN files f ON f.id = c.file_id WHERE f.state = 'extracted' AND "
            f"NOT EXISTS (SELECT 1 FROM {table} v WHERE v.chunk_id = c.id) "
            "ORDER BY c.file_id, c.ordinal LIMIT ?",
            (limit,),
        )
        return [
            PendingChunk(int(a), int(b), str(c), str(d), str(e), int(n))
            for a, b, c, d, e, n in rows
        ]


def file_by_file(store: Store) -> Store:
    """``store`` with its chunks part handing out chunks in the baseline order."""
    store.chunks = FileByFileChunks(store.conn, store.path)
    store.files = Files(store.conn, store.chunks)
    return store


def abstracts(count: int) -> list[str]:
    texts: list[str] = []
    with CORPUS.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            text = f"{row.get('title', '')}\n\n{row.get('text', '')}".strip()
            if len(text) > 400:
                texts.append(text)
            if len(texts) == count:
                break
    if not texts:
        raise SystemExit(f"No documents in {CORPUS}; the eval collections are needed.")
    return texts


def make_folder(root: Path, files: int, paragraphs_per_file: int) -> None:
    """``files`` files cycling through five formats, each ``paragraphs_per_file`` abstracts."""
    texts = abstracts(files * paragraphs_per_file)
    root.mkdir(parents=True)
    for i in range(files):
        paras = [
            texts[(i * paragraphs_per_file + j) % len(texts)] for j in range(paragraphs_per_file)
        ]
        kind = i % 5
        if kind == 0:
            (root / f"note{i}.txt").write_text("\n\n".join(paras), encoding="utf-8")
        elif kind == 1:
            body = "\n\n".join(f"## Part {j}\n\n{p}" for j, p in enumerate(paras))
            (root / f"doc{i}.md").write_text(f"# Document {i}\n\n{body}", encoding="utf-8")
        elif kind == 2:
            make_html(root / f"page{i}.html", "".join(f"<p>{p}</p>" for p in paras), f"Page {i}")
        elif kind == 3:
            make_pdf(root / f"report{i}.pdf", [p[:1200] for p in paras], f"Report {i}")
        else:
            make_docx(root / f"letter{i}.docx", paras, f"Letter {i}")


class CoverageRun:
    """Embeds one copy of the index batch by batch, recording files covered against time."""

    def __init__(self, name: str, store: Store, model: UnifiedModel) -> None:
        self.name, self.store, self.model = name, store, model
        self.table = store.chunks.ensure_model(model.model_id, model.dim)
        self.files = store.count("SELECT count(*) FROM files WHERE state = 'extracted'")
        self.elapsed = 0.0
        self.curve: list[tuple[float, float]] = [(0.0, self.covered_share())]
        self.queue: list[PendingChunk] = []
        self.finished = False

    def covered_share(self) -> float:
        covered = self.store.count(
            f"SELECT count(DISTINCT c.file_id) FROM {self.table} v "
            "JOIN chunks c ON c.id = v.chunk_id"
        )
        return covered / max(1, self.files)

    def step(self, batch_chunks: int) -> None:
        """One model batch, timed the way Indexer.embed_pending does it (fetch + embed + store)."""
        start = time.perf_counter()
        if not self.queue:
            self.queue = self.store.chunks.needing_vectors(self.model.model_id, 256)
        if not self.queue:
            self.finished = True
            return
        batch, self.queue = self.queue[:batch_chunks], self.queue[batch_chunks:]
        texts = [embedding_input(c.title, c.heading, c.text) for c in batch]
        vectors = self.model.embed_documents(texts)
        self.store.chunks.add_vectors(self.model.model_id, [c.id for c in batch], vectors)
        self.elapsed += time.perf_counter() - start
        self.curve.append((self.elapsed, self.covered_share()))

    def time_to(self, share: float) -> float:
        return next((t for t, s in self.curve if s >= share - 1e-9), float("nan"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--paragraphs", type=int, default=4, help="abstracts per file")
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--png", type=Path, default=None, help="write the curves here")
    args = parser.parse_args()

    print(f"uptime: {os.popen('uptime').read().strip()}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model_path = args.model or default_model_path(work / "model")
        model = UnifiedModel.load(model_path)
        make_folder(work / "docs", args.files, args.paragraphs)
        store = Store.open(work / "first.db")
        with IsolatedExtractor() as extractor:
            indexer = Indexer(store, model, Settings(), extractor)
            indexer.add_folder(work / "docs")
            t0 = time.perf_counter()
            indexer.scan()
            indexer.extract_pending()
            extracted_s = time.perf_counter() - t0
        chunks = store.count("SELECT count(*) FROM chunks")
        files = store.count("SELECT count(*) FROM files WHERE state = 'extracted'")
        store.close()
        shutil.copy(work / "first.db", work / "second.db")
        print(
            f"{files} files, {chunks} chunks, extracted (keyword-searchable) in {extracted_s:.1f} s"
        )

        runs = [
            CoverageRun("breadth-first", Store.open(work / "first.db"), model),
            CoverageRun("file-by-file", file_by_file(Store.open(work / "second.db")), model),
        ]
        while not all(r.finished for r in runs):
            for run in runs:
                if not run.finished:
                    run.step(EMBED_BATCH_CHUNKS)
            print(
                "  "
                + "  ".join(f"{r.name} {r.elapsed:.0f}s {100 * r.curve[-1][1]:.0f}%" for r in runs),
                file=sys.stderr,
                flush=True,
            )
        print(
            f"\n{'order':<14} {'50% files':>10} {'90% files':>10} "
            f"{'100% files':>11} {'all chunks':>11}"
        )
        for run in runs:
            print(
                f"{run.name:<14} {run.time_to(0.5):>9.1f}s {run.time_to(0.9):>9.1f}s "
                f"{run.time_to(1.0):>10.1f}s {run.elapsed:>10.1f}s"
            )
        bf, ff = runs
        print(
            f"\ntime to 100% of files covered: breadth-first / file-by-file = "
            f"{bf.time_to(1.0) / ff.time_to(1.0):.2f}x "
            f"(90%: {bf.time_to(0.9) / ff.time_to(0.9):.2f}x)"
        )
        if args.png:
            plot(runs, args.png, files, chunks)
        for run in runs:
            run.store.close()
        model.close()


def plot(runs: list[CoverageRun], path: Path, files: int, chunks: int) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install .[bench]); no plot written.")
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    for run in runs:
        ax.plot([t for t, _ in run.curve], [100 * s for _, s in run.curve], label=run.name)
    ax.set_xlabel("embedding time (s)")
    ax.set_ylabel("files findable by meaning (%)")
    ax.set_title(f"Coverage: {files} files, {chunks} chunks")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()

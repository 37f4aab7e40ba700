"""The blocking work the window asks for, as plain functions of a ``TaskContext``.

Everything here runs on a worker thread through ``app.tasks``: SQL, search and answer
generation. Widgets never call these directly; they pass them to ``TaskRunner.run`` and get
the dataclasses below back on the GUI thread. The work itself is the engine's (``core``);
these bind it to the task's store and cancel token. (The preview calls the engine's page
rendering directly, ``core/extract/render.py``, each call a one-line lambda.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from app.tasks import TaskContext
from core.answer.answerer import Answerer
from core.config import Settings
from core.extract.ocr import find_ocr_engine
from core.index.reconcile import describe_left_out, describe_scans
from core.models.interface import TextModel
from core.search.retrieval import SearchResult, search
from core.types import Answer

RESULT_LIMIT = 200


# -- search and answers --------------------------------------------------------------------


def run_search(
    ctx: TaskContext, query: str, model: TextModel | None, limit: int = RESULT_LIMIT
) -> SearchResult:
    ctx.cancel.raise_if_cancelled()
    return search(ctx.store, query, model, limit=limit, per_file=1)


def ask(
    ctx: TaskContext,
    model: TextModel,
    question: str,
    scope: str | None,
    history: Sequence[tuple[str, str]],
    mode: str = "auto",
) -> Answer:
    """Answer with sources; streamed text pieces go to the task's progress callback."""
    return Answerer(ctx.store, model, mode=mode).ask(
        question, scope=scope, history=history, on_text=ctx.report, cancel=ctx.cancel
    )


# -- index overview ------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexOverview:
    folders: list[str]
    counts: dict[str, int]
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # path, state, reason
    #: What the scans left out, as lines ("312 .pages files skipped: not supported").
    left_out: list[str] = field(default_factory=list)
    #: Folders whose scanned pages and pictures are read by OCR.
    ocr_folders: frozenset[str] = frozenset()
    #: What became of scanned pages, as lines ("/scans: 40 scanned pages ... read by OCR").
    scans: list[str] = field(default_factory=list)
    #: Why OCR cannot run here ("Tesseract is not installed"), or None when it can.
    ocr_problem: str | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def searchable(self) -> int:
        return self.counts.get("extracted", 0) + self.counts.get("embedded", 0)

    @property
    def problems(self) -> int:
        return self.counts.get("failed", 0) + self.counts.get("skipped", 0)


def index_overview(ctx: TaskContext, with_failures: bool = False) -> IndexOverview:
    store = ctx.store
    folders = [path for _, path in store.folders.all()]
    counts = store.files.state_counts()
    if not with_failures:
        return IndexOverview(folders, counts)
    failures = store.files.failures()
    left_out = describe_left_out(store.folders.skipped_kinds())
    with_ocr = store.folders.with_ocr()
    # Looked for once per process (a fraction of a second), here off the GUI thread.
    problem = find_ocr_engine().problem
    scans: list[str] = []
    for folder_id, path in store.folders.all():
        scans += describe_scans(path, folder_id in with_ocr, store.files.scan_counts(folder_id),
                                problem)
    ocr_folders = frozenset(path for folder_id, path in store.folders.all()
                            if folder_id in with_ocr)
    return IndexOverview(folders, counts, failures, left_out, ocr_folders, scans, problem)


def save_settings(settings: Settings, path: Path) -> None:
    settings.save(path)

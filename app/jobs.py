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
from core.index.reconcile import describe_left_out
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
    failures = store.files.failures() if with_failures else []
    left_out = describe_left_out(store.folders.skipped_kinds()) if with_failures else []
    return IndexOverview(folders, store.files.state_counts(), failures, left_out)


def save_settings(settings: Settings, path: Path) -> None:
    settings.save(path)

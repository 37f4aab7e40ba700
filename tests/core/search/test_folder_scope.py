"""A folder scope means exactly that folder and what is inside it: never a sibling whose name
starts the same way, and capitals count where the file system counts them. The same holds on
the keyword and the meaning side, in search and in answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.answer.answerer import Answerer
from core.config import Settings
from core.index.indexer import Indexer
from core.search.retrieval import search
from core.store.database import Store
from core.store.search import folder_scope_sql
from tests.fakes import FakeModel

SECRET = "The bank PIN for the savings account is written here."


@pytest.fixture
def home(tmp_path: Path, extractor) -> tuple[Store, Path]:
    root = tmp_path / "T"
    for relative in ("Taxes/2025/pin.txt", "Taxes/2025-old/draft.txt", "TAXES/upper.txt",
                     "taxes2/other.txt", "Taxes/2025/sub/deeper.txt"):
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(SECRET, encoding="utf-8")
    store = Store.open(tmp_path / "index.db")
    indexer = Indexer(store, FakeModel(), Settings(), extractor)
    indexer.add_folder(root)
    indexer.run()
    yield store, root
    store.close()


def found(store: Store, query: str, mode: str = "hybrid") -> set[str]:
    result = search(store, query, FakeModel(), limit=50, per_file=1, mode=mode)
    return {Path(hit.path).name for hit in result.hits}


@pytest.mark.parametrize("mode", ["hybrid", "lexical", "semantic"])
def test_an_absolute_scope_takes_whole_path_components(home, mode):
    store, root = home
    assert found(store, f"bank PIN dir:{root / 'Taxes' / '2025'}", mode) == {
        "pin.txt", "deeper.txt"}
    # A trailing separator changes nothing.
    assert found(store, f"bank PIN dir:{root / 'Taxes' / '2025'}/", mode) == {
        "pin.txt", "deeper.txt"}


@pytest.mark.parametrize("mode", ["hybrid", "lexical", "semantic"])
def test_a_folder_name_matches_that_name_only(home, mode):
    store, _ = home
    assert found(store, "bank PIN dir:Taxes", mode) == {"pin.txt", "draft.txt", "deeper.txt"}
    assert found(store, "bank PIN dir:Taxes/2025", mode) == {"pin.txt", "deeper.txt"}


def test_an_answer_asked_about_a_folder_reads_only_that_folder(home):
    store, root = home
    answerer = Answerer(store, FakeModel())
    hits = answerer.retrieve("What is the bank PIN?", str(root / "Taxes" / "2025"))
    assert hits and {Path(h.path).name for h in hits} <= {"pin.txt", "deeper.txt"}


def test_capitals_are_ignored_only_where_the_file_system_ignores_them(home):
    store, root = home
    sql, args = folder_scope_sql(str(root / "taxes"), ignore_case=True)
    rows = store.rows(f"SELECT f.path FROM files f WHERE {sql}", args)
    assert {Path(str(p)).parent.name for (p,) in rows} == {"TAXES", "2025", "2025-old", "sub"}
    sql, args = folder_scope_sql(str(root / "taxes"), ignore_case=False)
    assert list(store.rows(f"SELECT f.path FROM files f WHERE {sql}", args)) == []

"""The keyword side leaves out words that are in most chunks of a large collection, and only
there (core/search/retrieval.py ``informative_words``), on a real SQLite full-text index."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.search import retrieval as search_module
from core.search.query import parse_query
from core.search.retrieval import file_filter, informative_words, lexical_ids
from core.store.database import Store
from core.types import Chunk


@pytest.fixture
def store(tmp_path: Path) -> Store:
    """200 chunks that all say "report"; "running" in 20 of them, "zeppelin" in 2."""
    s = Store.open(tmp_path / "index.db")
    folder = s.folders.add(Path("/data"))
    s.files.add_pending(folder, [(f"/data/f{i}.txt", 1, 1.0) for i in range(200)])
    for i in range(200):
        record = s.files.at(f"/data/f{i}.txt")
        assert record is not None
        words = ["yearly report"]
        if i % 10 == 0:
            words.append("running costs")
        if i in (7, 8):
            words.append("zeppelin hangar")
        text = " ".join(words)
        s.chunks.replace(record.id, [Chunk(0, None, 0, len(text), text)], content_hash=str(i),
                         size=1, mtime=1.0, kind="text", title=None, page_count=1,
                         model_id=None)
    yield s
    s.close()


def test_a_small_collection_keeps_every_word(store):
    # 200 + 20 + 2 postings: well under the budget.
    assert informative_words(store, ["report", "runs", "zeppelin"], 0.5) == [
        "report", "runs", "zeppelin"]


def test_past_the_budget_words_in_most_chunks_are_left_out(store, monkeypatch):
    monkeypatch.setattr(search_module, "POSTINGS_BUDGET", 100)
    # "Reports" and "runs" are stemmed as the index stems them ("report", "run").
    assert informative_words(store, ["Reports", "runs", "zeppelin"], 0.5) == ["runs", "zeppelin"]
    assert informative_words(store, ["report"], 0.5) == ["report"]  # never left with nothing


def test_left_out_words_do_not_change_the_best_keyword_hits(store, monkeypatch):
    parsed = parse_query("zeppelin report running")
    files = file_filter(parsed)
    every_word = lexical_ids(store, parsed, files, 10)
    monkeypatch.setattr(search_module, "POSTINGS_BUDGET", 100)
    pruned = lexical_ids(store, parsed, files, 10)
    assert pruned[:2] == every_word[:2]  # the two zeppelin chunks lead either way
    assert len(pruned) == 10  # the "running" chunks still fill the list
    # With a filter the query joins files; the pruned words are the same.
    filtered = parse_query("zeppelin report running ext:txt")
    assert lexical_ids(store, filtered, file_filter(filtered), 10)[:2] == pruned[:2]


def test_a_long_query_of_middling_words_scores_its_rarest_words(store, monkeypatch):
    monkeypatch.setattr(search_module, "POSTINGS_BUDGET", 10)
    # None of these is in more than half the chunks, but together they would score 64 of
    # 200: the rarest are kept while their postings fit in a tenth of the collection (20).
    monkeypatch.setattr(search_module, "SCORED_SHARE", 0.1)
    words = ["running", "costs", "zeppelin", "hangar"]
    assert informative_words(store, words, 0.5) == ["running", "zeppelin", "hangar"]
    monkeypatch.setattr(search_module, "SCORED_SHARE", 0.5)
    assert informative_words(store, words, 0.5) == words

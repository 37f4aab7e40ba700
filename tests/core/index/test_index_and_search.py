"""The pipeline end to end with real files, a real SQLite + sqlite-vec store and a fake model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.config import Settings
from core.index.indexer import Indexer
from core.search.retrieval import search
from core.store.database import Store
from tests.fakes import FakeModel


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    write(
        root / "lease.md",
        "# Lease\n\nThe tenant must give sixty days written notice "
        "before leaving the flat.\n\n## Rent\n\nRent is due on the first of the month.",
    )
    write(root / "garden.txt", "Tomatoes need full sun and regular watering in summer.")
    write(root / "notes" / "draft.txt", "A draft lease with a thirty days notice clause.")
    write(root / "node_modules" / "pkg" / "readme.txt", "lease lease lease")
    write(root / ".hidden" / "secret.txt", "lease notice")
    return root


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "index.db")
    yield s
    s.close()


def index(store: Store, folder: Path, extractor, model: FakeModel | None = None) -> Indexer:
    indexer = Indexer(store, model or FakeModel(), Settings(), extractor)
    indexer.add_folder(folder)
    indexer.run()
    return indexer


def counts(store: Store) -> tuple[int, int, int]:
    table = store.chunks.vec_table(FakeModel().model_id)
    return (
        store.count("SELECT count(*) FROM chunks"),
        store.count("SELECT count(*) FROM chunks_fts"),
        store.count(f"SELECT count(*) FROM {table}") if table else 0,
    )


def test_index_then_search_finds_the_right_file_and_marks_words(store, folder, extractor):
    index(store, folder, extractor)
    assert store.files.state_counts()["embedded"] == 3  # node_modules and hidden are excluded
    result = search(store, "notice before leaving", FakeModel())
    top = result.hits[0]
    assert top.path == str(folder / "lease.md")
    assert top.page is None
    page_text = (folder / "lease.md").read_text()
    assert page_text[top.start : top.end] == top.text
    marked = [top.snippet[s:e].lower() for s, e in top.snippet_matches]
    assert "notice" in marked and "leaving" in marked
    assert "before" not in marked  # a stop word of the keyword query is not marked either
    assert result.semantic_used


def test_a_common_word_does_not_outrank_the_word_that_matters(store, folder, extractor):
    # Two words of three ("leaves", "before") against the one that matters ("notice").
    write(folder / "trip.md", "# Lisbon\n\nThe host leaves the keys in a box the day before.")
    index(store, folder, extractor)
    result = search(store, "notice before leaving", mode="lexical")
    assert [Path(hit.path).name for hit in result.hits][:2] == ["lease.md", "draft.txt"]


def test_counts_agree_after_indexing(store, folder, extractor):
    index(store, folder, extractor)
    chunks, fts, vectors = counts(store)
    assert chunks == fts == vectors > 0


def test_phrase_exclusion_and_filters_apply_to_both_sides(store, folder, extractor):
    index(store, folder, extractor)
    model = FakeModel()
    paths = {h.path for h in search(store, "notice -draft", model).hits}
    assert str(folder / "notes" / "draft.txt") not in paths
    assert str(folder / "lease.md") in paths
    only_txt = {h.path for h in search(store, "notice ext:txt", model).hits}
    assert only_txt == {str(folder / "notes" / "draft.txt")}
    phrase = {h.path for h in search(store, '"thirty days"', model).hits}
    assert phrase == {str(folder / "notes" / "draft.txt")}
    in_notes = {h.path for h in search(store, "lease dir:notes", model).hits}
    assert in_notes == {str(folder / "notes" / "draft.txt")}
    in_abs = {h.path for h in search(store, f'lease dir:"{folder / "notes"}"', model).hits}
    assert in_abs == in_notes


def test_date_filters_use_modification_time(store, folder, extractor):
    old = folder / "garden.txt"
    os.utime(old, (946684800, 946684800))  # 2000-01-01
    index(store, folder, extractor)
    model = FakeModel()
    assert {h.path for h in search(store, "tomatoes before:2001", model).hits} == {str(old)}
    assert search(store, "tomatoes after:2001", model).hits == []


@pytest.mark.parametrize(
    "hostile",
    [
        '"',
        '"unbalanced',
        "AND",
        "OR OR",
        "NOT",
        "NEAR(a, b)",
        "*",
        "a*",
        "col:x",
        "^",
        "(",
        ")",
        "'; DROP TABLE files; --",
        "\x00",
        "-",
        "--",
        'dir:"',
        "ext:",
        "{a b}",
        "a + b",
    ],
)
def test_no_query_text_can_break_search(store, folder, hostile, extractor):
    index(store, folder, extractor)
    result = search(store, hostile, FakeModel())
    assert isinstance(result.hits, list)
    assert store.count("SELECT count(*) FROM files") == 3


def test_unchanged_files_do_no_work_and_edits_reembed_only_changed_chunks(store, folder, extractor):
    model = FakeModel()
    index(store, folder, extractor, model)
    first_calls = model.embedded_texts
    assert first_calls > 0
    again = Indexer(store, model, Settings(), extractor)
    report = again.scan()
    assert report.new_or_changed == 0 and report.unchanged == 3
    again.run()
    assert model.embedded_texts == first_calls

    lease = folder / "lease.md"
    lease.write_text(lease.read_text() + "\n\n## Pets\n\nNo pets allowed.", encoding="utf-8")
    again.run()
    # Only the new chunk is embedded; the untouched sections keep their vectors.
    assert model.embedded_texts == first_calls + 1
    chunks, fts, vectors = counts(store)
    assert chunks == fts == vectors


def test_touch_without_change_keeps_vectors(store, folder, extractor):
    model = FakeModel()
    index(store, folder, extractor, model)
    before = model.embedded_texts
    os.utime(folder / "garden.txt", None)
    Indexer(store, model, Settings(), extractor).run()
    assert model.embedded_texts == before
    assert store.files.state_counts()["embedded"] == 3


def test_rename_reembeds_nothing_and_delete_removes_everything(store, folder, extractor):
    model = FakeModel()
    index(store, folder, extractor, model)
    before = model.embedded_texts
    os.rename(folder / "notes", folder / "archive")
    report = Indexer(store, model, Settings(), extractor).scan()
    assert report.moved == 1 and report.deleted == 0
    Indexer(store, model, Settings(), extractor).run()
    assert model.embedded_texts == before
    paths = {h.path for h in search(store, "thirty days", model).hits}
    assert str(folder / "archive" / "draft.txt") in paths

    (folder / "garden.txt").unlink()
    Indexer(store, model, Settings(), extractor).run()
    assert search(store, "tomatoes", model).hits == []
    chunks, fts, vectors = counts(store)
    assert chunks == fts == vectors
    assert store.count("SELECT count(*) FROM files") == 2


def test_keyword_search_works_before_embedding(store, folder, extractor):
    indexer = Indexer(store, FakeModel(), Settings(), extractor)
    indexer.add_folder(folder)
    indexer.scan()
    indexer.extract_pending()
    assert store.files.state_counts()["extracted"] == 3
    hits = search(store, "tomatoes", FakeModel()).hits
    assert [h.path for h in hits] == [str(folder / "garden.txt")]


def test_cancel_keeps_work_and_resume_finishes(store, folder, extractor):
    from core.cancel import CancelToken

    model = FakeModel()
    indexer = Indexer(store, model, Settings(), extractor)
    indexer.add_folder(folder)
    indexer.scan()
    token = CancelToken()
    seen = []

    def progress(p):
        seen.append(p)
        if p.phase == "extract" and p.done == 1:
            token.cancel()

    indexer.extract_pending(progress, token)
    assert store.files.state_counts()["pending"] == 2
    Indexer(store, model, Settings(), extractor).run()
    assert store.files.state_counts()["embedded"] == 3


def test_bad_file_is_recorded_not_fatal(store, folder, extractor):
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (folder / "binary.txt").write_bytes(bytes(range(256)) * 10)
    index(store, folder, extractor)
    failures = {p: e for p, _, e in store.files.failures()}
    assert str(folder / "broken.pdf") in failures and failures[str(folder / "broken.pdf")]
    assert str(folder / "binary.txt") in failures
    assert store.files.state_counts()["embedded"] == 3


def test_gitignore_inside_tree_is_honoured(store, folder, extractor):
    write(folder / "notes" / ".gitignore", "draft.txt\n")
    index(store, folder, extractor)
    assert str(folder / "notes" / "draft.txt") not in {
        p for (p,) in store.rows("SELECT path FROM files")
    }


def test_files_read_close_together_share_a_commit(tmp_path, store, extractor):
    root = tmp_path / "many"
    for i in range(40):
        write(root / f"note{i}.txt", f"note number {i} about the garden")
    commits: list[int] = []

    def count_commit() -> bool:
        commits.append(1)
        return False  # True would turn the commit into a rollback

    store.conn.set_commit_hook(count_commit)
    indexer = Indexer(store, FakeModel(), Settings(), extractor)
    indexer.add_folder(root)
    indexer.scan()
    commits.clear()
    assert indexer.extract_pending() == 40
    store.conn.set_commit_hook(None)
    # Each file alone took a commit (40); a group commits what a tenth of a second read.
    assert 1 <= len(commits) < 20
    assert store.count("SELECT count(*) FROM files WHERE state = 'extracted'") == 40
    assert [h.path for h in search(store, "number 17", None, mode="lexical").hits][:1] == [
        str(root / "note17.txt")]

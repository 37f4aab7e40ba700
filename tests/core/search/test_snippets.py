"""Snippet marks come from the index's own tokenizer: the same words FTS5's highlight() marks."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import Settings
from core.index.indexer import Indexer
from core.search.query import fts_quote
from core.search.snippets import Snippeter
from core.store.database import Store

TEXTS = {
    "lease.txt": "The leases say: the tenant gives sixty days' notice. Notice-periods vary; "
    "a notice period of two months applies to the landlord.",
    "cafe.txt": "Le café «Résumé» serves crème brûlée. CAFÉ opens at 8; the résumés are due.",
    "mixed.txt": "Straße und Maße — 東京 covid-19 data, COVID 19 waves; e-mail and email.",
}
QUERIES = [
    ["lease"], ["notice period"], ["notice", "periods"], ["cafe"], ["resume", "creme brulee"],
    ["strasse"], ["covid-19"], ["19"], ["e-mail"], ["東京"], ["absent"],
]


@pytest.fixture
def store(tmp_path: Path, extractor) -> Store:
    folder = tmp_path / "docs"
    folder.mkdir()
    for name, text in TEXTS.items():
        (folder / name).write_text(text, encoding="utf-8")
    store = Store.open(tmp_path / "index.db")
    with Indexer(store, None, Settings(), extractor) as indexer:
        indexer.add_folder(folder)
        indexer.run()
    yield store
    store.close()


def fts5_marks(store: Store, chunk_id: int, items: list[str]) -> list[tuple[int, int]]:
    """What FTS5's highlight() marks, as character spans."""
    match = " OR ".join(fts_quote(item) for item in items)
    rows = store.conn.execute(
        "SELECT highlight(chunks_fts, 0, char(57344), char(57345)) FROM chunks_fts "
        "WHERE chunks_fts MATCH ? AND rowid = ?", (match, chunk_id)).fetchall()
    if not rows:
        return []
    spans, plain, start = [], 0, -1
    for char in str(rows[0][0]):
        if char == "\ue000":
            start = plain
        elif char == "\ue001":
            spans.append((start, plain))
        else:
            plain += 1
    return spans


@pytest.mark.parametrize("items", QUERIES, ids=lambda items: "+".join(items))
def test_marks_match_fts5_highlight(store: Store, items: list[str]) -> None:
    snippeter = Snippeter(store, items)
    chunks = list(store.rows("SELECT id, text FROM chunks"))
    assert len(chunks) == len(TEXTS)
    for chunk_id, text in chunks:
        assert snippeter.match_spans(str(text)) == fts5_marks(store, int(str(chunk_id)), items)


def test_marks_follow_stemming_and_accents(store: Store) -> None:
    text = TEXTS["cafe.txt"]
    marked = [text[s:e] for s, e in Snippeter(store, ["cafe", "resume"]).match_spans(text)]
    assert marked == ["café", "Résumé", "CAFÉ", "résumés"]

"""Each new format end to end: indexed through the reading children into a real store, found
by a word only it holds, and cited where a person can find it again (slide, sheet and row,
message); the command line's --json and text output carry that place."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import apsw
import pytest

from core.answer.answerer import Answerer
from core.cli.main import main
from core.config import Settings
from core.index.indexer import Indexer
from core.search.retrieval import search
from core.service.protocol import hit_from_wire, hit_to_wire
from core.store import migrations
from core.store.database import Store
from tests.fakes import FakeModel
from tests.formats_factory import (
    make_eml,
    make_mbox,
    make_message,
    make_odp,
    make_ods,
    make_odt,
    make_pptx,
    make_rtf,
    make_xlsx,
)

FILLER = [f"row{i}" for i in range(80)]


def _sheet(word: str) -> list[list[object]]:
    rows: list[list[object]] = [["Item", "Cost", "Bought"]]
    for i, name in enumerate(FILLER):
        rows.append([word if i == 57 else name, i, dt.date(2024, 5, 1)])
    return rows


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    slides = [("Opening", ["Welcome"], ""), ("Plans", ["More plans"], "")]
    make_pptx(docs / "deck.pptx", [*slides, ("Birds", ["A note"], "Mention the wryneck")])
    make_odp(docs / "talk.odp", [*slides, ("Fish", ["The grayling returns"], "")])
    make_xlsx(docs / "book.xlsx", [("Intro", [["Hello"]]), ("Stores", _sheet("quillwort"))])
    make_ods(docs / "calc.ods", [("Garden", _sheet("sainfoin"))])
    (docs / "list.csv").write_text(
        "name,place\n" + "".join(f"p{i},x\n" for i in range(30)) + "hornwort,pond\n"
    )
    make_odt(docs / "memo.odt", [(1, "Memo"), (0, "The fieldfare arrived early.")])
    make_rtf(docs / "letter.rtf", ["Dear friend,", "the bittern boomed at dawn."])
    make_eml(docs / "one.eml", make_message("Hello", "A dipper by the mill.\n"))
    make_mbox(
        docs / "archive.mbox",
        [
            make_message("First", "Nothing much.\n"),
            make_message(
                "Second",
                "See the notes.\n",
                date="Wed, 06 Mar 2024 09:00:00 +0000",
                attachments=[("notes.txt", b"the garganey was seen")],
            ),
        ],
    )
    return docs


@pytest.fixture
def store(tmp_path: Path):
    s = Store.open(tmp_path / "index.db")
    yield s
    s.close()


CASES = [
    ("wryneck", "deck.pptx", 3, "slide 3"),
    ("grayling", "talk.odp", 3, "slide 3"),
    ("quillwort", "book.xlsx", 2, "sheet Stores, row"),
    ("sainfoin", "calc.ods", 1, "sheet Garden, row"),
    ("hornwort", "list.csv", None, "row"),
    ("fieldfare", "memo.odt", None, None),
    ("bittern", "letter.rtf", None, None),
    ("dipper", "one.eml", None, None),
    ("garganey", "archive.mbox", 2, "message 2, 2024-03-06"),
]


def test_every_format_is_found_by_its_word_and_cited_where_it_is(store, folder, extractor):
    indexer = Indexer(store, FakeModel(), Settings(), extractor)
    indexer.add_folder(folder)
    indexer.run()
    assert store.files.failures() == []
    for word, name, page, location in CASES:
        hits = search(store, word, FakeModel(), mode="lexical").hits
        assert hits, word
        top = hits[0]
        assert Path(top.path).name == name and word in top.text
        assert top.page == page
        if location is None:
            assert top.location is None
        else:
            assert top.location is not None and top.location.startswith(location), top.location
    # A sheet passage is cited by the rows it holds: the word is on row 59 of "Stores" (the
    # header is row 1), and the passage repeats the header so its columns are named.
    hit = search(store, "quillwort", FakeModel(), mode="lexical").hits[0]
    first, _, last = hit.location.removeprefix("sheet Stores, rows ").partition("–")
    assert int(first) <= 59 <= int(last or first)
    assert hit.text.startswith("Item\tCost\tBought\n")


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv), model_loader=lambda settings, paths: FakeModel(reply="x [1]."))
    out, _ = capsys.readouterr()
    return code, out


def test_cli_shows_the_location_in_text_and_json(home, folder, capsys):
    assert run(capsys, "index", str(folder))[0] == 0
    code, out = run(capsys, "search", "wryneck", "--json")
    assert code == 0
    top = json.loads(out)["hits"][0]
    assert top["location"] == "slide 3" and top["page"] == 3
    code, out = run(capsys, "search", "garganey")
    assert "archive.mbox  message 2, 2024-03-06" in out
    code, out = run(capsys, "search", "grayling", "--json")
    pdf_like = json.loads(out)["hits"][0]
    assert pdf_like["location"] == "slide 3"


def test_ask_json_cites_the_slide_without_page_boxes(home, folder, capsys):
    assert run(capsys, "index", str(folder))[0] == 0
    _, out = run(capsys, "ask", "What should be mentioned about the wryneck?", "--json")
    citations = json.loads(out)["citations"]
    deck = [c for c in citations if c["path"].endswith("deck.pptx")]
    assert deck, citations
    assert deck[0]["location"] == "slide 3" and deck[0]["page"] == 3
    assert deck[0]["quads"] == []  # a slide has no PDF page to draw boxes on


def test_a_span_of_a_sheet_passage_is_named_by_its_own_row(store, folder, extractor):
    indexer = Indexer(store, FakeModel(), Settings(), extractor)
    indexer.add_folder(folder)
    indexer.run()
    hit = search(store, "quillwort", FakeModel(), mode="lexical").hits[0]
    at = hit.start + hit.text.index("quillwort")
    assert hit.location_of(at, at + len("quillwort")) == "sheet Stores, row 59"
    # A span across two rows names both; one outside the passage keeps the passage's place.
    line_end = hit.text.index("\n", at - hit.start) + hit.start
    assert hit.location_of(at, line_end + 4) == "sheet Stores, rows 59–60"
    assert hit.location_of(hit.end + 10, hit.end + 20) == hit.location
    # The window and commands get the hit over the service's wire, rows and all.
    assert hit_from_wire(json.loads(json.dumps(hit_to_wire(hit)))) == hit
    # Not a sheet: the chunk's own place.
    slide = search(store, "wryneck", FakeModel(), mode="lexical").hits[0]
    assert slide.sheet_rows is None
    assert slide.location_of(slide.start, slide.start + 3) == "slide 3"


def test_a_quoted_answer_from_a_sheet_cites_the_row_it_quotes(store, tmp_path, extractor,
                                                             reader_gives_its_best):
    docs = tmp_path / "sheets"
    docs.mkdir()
    rows: list[list[object]] = [["Plant", "Note"]]
    rows += [[f"plant{i}", f"Ordinary entry number {i}."] for i in range(40)]
    rows.insert(31, ["moonwort", "The moonwort seeds are sown in the cold frame in March."])
    make_xlsx(docs / "garden.xlsx", [("Sowing", rows)])
    with Indexer(store, FakeModel(), Settings(), extractor) as indexer:
        indexer.add_folder(docs)
        indexer.run()
    answer = Answerer(store, FakeModel(), mode="quote").ask("When are moonwort seeds sown?")
    assert answer.found and answer.quoted
    first = answer.citations[0]
    assert "moonwort seeds are sown" in first.quote
    assert first.location == "sheet Sowing, row 32"  # the header is row 1


def test_sheets_indexed_before_rows_were_kept_are_read_again(tmp_path, folder, extractor):
    database = tmp_path / "old.db"
    store = Store.open(database)
    with Indexer(store, FakeModel(), Settings(), extractor) as indexer:
        indexer.add_folder(folder)
        indexer.run()
    store.close()
    # The index as the Kenning before the rows left it: no column, schema 7.
    conn = apsw.Connection(str(database))
    with conn:
        conn.execute("ALTER TABLE chunks DROP COLUMN sheet_rows")
        conn.execute(f"PRAGMA user_version = {len(migrations.MIGRATIONS) - 1}")
    conn.close()
    store = Store.open(database)
    try:
        pending = {Path(p).name for p, in store.rows(
            "SELECT path FROM files WHERE state = 'pending'")}
        assert pending == {"book.xlsx", "calc.ods", "list.csv"}
        # Until they are read again their passages keep the range they had.
        hit = search(store, "quillwort", FakeModel(), mode="lexical").hits[0]
        assert hit.sheet_rows is None and hit.location is not None
        assert hit.location_of(hit.start, hit.start + 3) == hit.location
        with Indexer(store, FakeModel(), Settings(), extractor) as indexer:
            indexer.run()
        hit = search(store, "quillwort", FakeModel(), mode="lexical").hits[0]
        at = hit.start + hit.text.index("quillwort")
        assert hit.location_of(at, at + 9) == "sheet Stores, row 59"
    finally:
        store.close()

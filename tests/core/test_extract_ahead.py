"""Reading ahead: the extraction process reads the next file while the indexer chunks and
stores the one before, without changing what ends up in the index."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import Settings
from core.extract import ExtractionError
from core.extract_worker import IsolatedExtractor
from core.indexer import Indexer
from core.search import search
from core.store import Store
from tests.fakes import FakeModel


def page_text(extractor: IsolatedExtractor, path: Path) -> str:
    return extractor.extract(path).pages[0].text


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    root = tmp_path / "docs"
    root.mkdir()
    texts = ["apples grow in the orchard", "pears ripen in autumn", "plums make good jam"]
    paths = [root / f"{index}.txt" for index in range(len(texts))]
    for path, text in zip(paths, texts, strict=True):
        path.write_text(text, encoding="utf-8")
    return paths


class RecordingExtractor(IsolatedExtractor):
    """Notes what was sent ahead; ``after_start`` runs once the child has the request."""

    def __init__(self, after_start=None) -> None:
        super().__init__(timeout=60)
        self.started: list[str] = []
        self.after_start = after_start

    def start(self, path: Path) -> None:
        super().start(path)
        self.started.append(path.name)
        if self.after_start is not None:
            self.after_start(path)


@pytest.fixture
def recording() -> Iterator[RecordingExtractor]:
    extractor = RecordingExtractor()
    yield extractor
    extractor.close()


def test_the_answer_to_a_file_sent_ahead_is_that_files(recording, files) -> None:
    recording.start(files[0])
    assert page_text(recording, files[0]) == "apples grow in the orchard"
    # Sent ahead but another file wanted: that answer is set aside, each file gets its own.
    recording.start(files[1])
    assert page_text(recording, files[2]) == "plums make good jam"
    assert page_text(recording, files[1]) == "pears ripen in autumn"


def test_a_reader_lost_while_reading_ahead_costs_that_file_only(recording, files) -> None:
    recording.start(files[0])
    assert recording._process is not None
    recording._process.kill()
    with pytest.raises(ExtractionError, match="crashed"):
        recording.extract(files[0])
    assert page_text(recording, files[1]) == "pears ripen in autumn"


def test_the_indexer_reads_each_next_file_ahead(tmp_path, files, recording) -> None:
    store = Store.open(tmp_path / "index.db")
    with Indexer(store, FakeModel(), Settings(), recording) as indexer:
        indexer.add_folder(files[0].parent)
        indexer.run()
    assert recording.started == ["1.txt", "2.txt"]  # the first is read on its own
    for word in ("apples", "pears", "plums"):
        assert search(store, word, mode="lexical").hits, word
    assert store.count("SELECT count(*) FROM files WHERE state = 'embedded'") == 3
    store.close()


def test_a_file_changed_after_its_reading_started_is_read_again(tmp_path, files) -> None:
    def rewrite(path: Path) -> None:
        if path.name == "1.txt":
            path.write_text("pears, rewritten as quinces", encoding="utf-8")

    extractor = RecordingExtractor(after_start=rewrite)
    store = Store.open(tmp_path / "index.db")
    try:
        with Indexer(store, FakeModel(), Settings(), extractor) as indexer:
            indexer.add_folder(files[0].parent)
            indexer.run()
        assert search(store, "quinces", mode="lexical").hits
        assert not search(store, "autumn", mode="lexical").hits
    finally:
        extractor.close()
        store.close()

"""Reading ahead: the extraction process reads the next file while the indexer chunks and
stores the one before, without changing what ends up in the index."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import Settings
from core.extract import ExtractionError
from core.extract.errors import NothingToRead, OverSizeCap
from core.extract.worker import IsolatedExtractor
from core.index.indexer import Indexer
from core.search.retrieval import search
from core.store.database import Store
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
        self.peak_busy = 0

    def start(self, path: Path, ocr: bool = False) -> None:
        super().start(path, ocr)
        self.started.append(path.name)
        busy = sum(bool(reader.queued) for reader in self._live)
        self.peak_busy = max(self.peak_busy, busy)
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
    [reader] = recording._live
    reader.process.kill()
    with pytest.raises(ExtractionError, match="crashed"):
        recording.extract(files[0])
    assert page_text(recording, files[1]) == "pears ripen in autumn"


def test_a_reason_keeps_its_kind_across_the_process_line(recording, tmp_path) -> None:
    # The indexer records "nothing to read" and "over the cap" as skipped, other reasons as
    # failed, by the exception's type: the child's answer must arrive as the same type.
    blank = tmp_path / "blank.md"
    blank.write_text("  \n\n", encoding="utf-8")
    big = tmp_path / "big.txt"
    big.write_text("x" * 2048, encoding="utf-8")
    binary = tmp_path / "binary.txt"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(NothingToRead, match="empty file"):
        recording.extract(blank)
    with pytest.raises(OverSizeCap, match="size cap"):
        recording.extract(big, max_bytes=1024)
    with pytest.raises(ExtractionError, match="not a text file") as failed:
        recording.extract(binary)
    assert type(failed.value) is ExtractionError


def test_the_indexer_reads_each_next_file_ahead(tmp_path, files, recording) -> None:
    store = Store.open(tmp_path / "index.db")
    with Indexer(store, FakeModel(), Settings(), recording) as indexer:
        indexer.add_folder(files[0].parent)
        indexer.run()
    # Every file but the first (in the order the folder lists them) is read ahead.
    assert len(recording.started) == 2
    assert set(recording.started) < {path.name for path in files}
    for word in ("apples", "pears", "plums"):
        assert search(store, word, mode="lexical").hits, word
    assert store.count("SELECT count(*) FROM files WHERE state = 'embedded'") == 3
    store.close()


def test_a_file_changed_after_its_reading_started_is_read_again(tmp_path, files) -> None:
    rewritten: list[str] = []

    def rewrite(path: Path) -> None:
        if not rewritten:  # the first file read ahead, whichever the folder lists second
            rewritten.append(path.read_text(encoding="utf-8"))
            path.write_text("rewritten as quinces", encoding="utf-8")

    extractor = RecordingExtractor(after_start=rewrite)
    store = Store.open(tmp_path / "index.db")
    try:
        with Indexer(store, FakeModel(), Settings(), extractor) as indexer:
            indexer.add_folder(files[0].parent)
            indexer.run()
        assert search(store, "quinces", mode="lexical").hits
        first_word = rewritten[0].split()[0]  # "apples", "pears" or "plums": gone
        assert not search(store, first_word, mode="lexical").hits
    finally:
        extractor.close()
        store.close()


class CaughtMidWrite(IsolatedExtractor):
    """The first read meets the file truncated by a writer that then finishes."""

    def __init__(self) -> None:
        super().__init__(timeout=60)
        self.first = True

    def start(self, path: Path, ocr: bool = False) -> None:
        """No reading ahead: this test is about the read itself."""

    def extract(self, path: Path, max_bytes: int | None = None, ocr: bool = False):
        if not self.first:
            return super().extract(path, max_bytes, ocr)
        self.first = False
        path.write_text("", encoding="utf-8")  # the writer has truncated it...
        try:
            return super().extract(path, max_bytes, ocr)  # ...and the reader finds it empty
        finally:
            path.write_text("the finished draft about quinces", encoding="utf-8")


def test_a_file_read_half_written_is_read_again_not_skipped(tmp_path) -> None:
    root = tmp_path / "docs"
    root.mkdir()
    (root / "draft.txt").write_text("a first draft", encoding="utf-8")
    extractor = CaughtMidWrite()
    store = Store.open(tmp_path / "index.db")
    try:
        with Indexer(store, FakeModel(), Settings(), extractor) as indexer:
            indexer.add_folder(root)
            indexer.run()
        record = store.files.at(str(root / "draft.txt"))
        assert record is not None and record.state == "embedded", record
        assert search(store, "quinces", mode="lexical").hits
    finally:
        extractor.close()
        store.close()


def test_two_readers_read_two_files_at_once_and_answer_each_its_own(files) -> None:
    with IsolatedExtractor(timeout=60, readers=2) as extractor:
        for path in files:
            extractor.start(path)
        # A second child starts before a queue forms; the third file waits behind the first.
        assert len({reader.process.pid for reader in extractor._live}) == 2
        assert [list(reader.queued) for reader in extractor._live] == [
            [(str(files[0]), False), (str(files[2]), False)], [(str(files[1]), False)]]
        # Answers are taken in any order, each file getting its own.
        assert page_text(extractor, files[2]) == "plums make good jam"
        assert page_text(extractor, files[1]) == "pears ripen in autumn"
        assert page_text(extractor, files[0]) == "apples grow in the orchard"
        assert not extractor._kept


def test_queues_are_bounded_by_the_children_and_their_depth(files, tmp_path) -> None:
    from core.extract.worker import QUEUE_DEPTH

    more = []
    for index in range(6):
        path = tmp_path / f"extra{index}.txt"
        path.write_text(f"word{index}", encoding="utf-8")
        more.append(path)
    with IsolatedExtractor(timeout=60, readers=2) as extractor:
        assert extractor.ahead == 2 * QUEUE_DEPTH
        for path in more:
            extractor.start(path)
        assert sum(len(reader.queued) for reader in extractor._live) == extractor.ahead
        # A file not sent ahead is still read at once, and every queued one stays wanted.
        assert page_text(extractor, files[0]) == "apples grow in the orchard"
        for index, path in enumerate(more):
            assert page_text(extractor, path) == f"word{index}"


def test_with_two_readers_a_lost_reader_costs_its_own_file_only(files) -> None:
    with IsolatedExtractor(timeout=60, readers=2) as extractor:
        extractor.start(files[0])
        extractor.start(files[1])
        extractor.start(files[2])  # queued behind the first file, at the child that is lost
        lost = next(r for r in extractor._live if (str(files[0]), False) in r.queued)
        lost.process.kill()
        assert page_text(extractor, files[1]) == "pears ripen in autumn"
        with pytest.raises(ExtractionError, match="crashed"):
            extractor.extract(files[0])
        # The file queued behind the lost one is read again, not reported as crashed.
        assert page_text(extractor, files[2]) == "plums make good jam"
        assert len(extractor._live) <= 2


def test_files_are_read_side_by_side_only_on_the_cores_kenning_may_use() -> None:
    from core.index.indexer import MAX_READERS, reader_count

    assert reader_count(Settings(threads=1)) == 1
    assert reader_count(Settings(threads=2)) == 2
    assert reader_count(Settings(threads=64)) == MAX_READERS


def test_the_indexer_keeps_every_reader_busy(tmp_path, files) -> None:
    extractor = RecordingExtractor()
    extractor.readers = 2
    store = Store.open(tmp_path / "index.db")
    try:
        with Indexer(store, FakeModel(), Settings(), extractor) as indexer:
            indexer.add_folder(files[0].parent)
            indexer.run()
        # The first file is read on its own; both others are sent ahead once it is in.
        assert len(extractor.started) == 2
        assert extractor.peak_busy == 2  # one at each child
        for word in ("apples", "pears", "plums"):
            assert search(store, word, mode="lexical").hits, word
    finally:
        extractor.close()
        store.close()

"""Every bad file gets a recorded outcome, indexing completes, and nothing crashes or hangs."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

import pytest

from core.cli.output import status_json
from core.config import AppPaths, Settings
from core.extract.worker import IsolatedExtractor
from core.index.indexer import KEPT_CHANGING, Indexer
from core.index.reconcile import BAD_NAME
from core.index.walk import BROKEN_LINK, FOLDER_LINK, NOT_REGULAR
from core.search.retrieval import search
from core.services import Services
from core.store.database import Store
from core.types import Document
from tests.docs_factory import make_corrupt_pdf, make_encrypted_pdf, make_pdf
from tests.fakes import FakeModel
from tests.index_checks import assert_consistent

MODEL_ID = FakeModel().model_id
UNDECODABLE = os.fsdecode(b"caf\xe9 menu.txt")  # Latin-1 bytes: not valid UTF-8
SHOWN_AS = "caf\ufffd menu.txt"
DEPTH = 100


@pytest.fixture
def store(tmp_path: Path):
    s = Store.open(tmp_path / "index.db")
    yield s
    s.close()


def bad_folder(root: Path) -> dict[str, tuple[str, str]]:
    """Fill ``root`` with troublesome files; returns name -> (expected state, reason part)."""
    root.mkdir()
    (root / "good.txt").write_text("A perfectly ordinary note about tomatoes.")
    make_pdf(root / "fine.pdf", ["A readable report about harbour cranes."])
    make_corrupt_pdf(root / "corrupt.pdf")
    make_encrypted_pdf(root / "locked.pdf")
    (root / "empty.txt").write_bytes(b"")
    (root / "blank.md").write_text("   \n\n  ")
    (root / "binary.txt").write_bytes(bytes(range(256)) * 40)
    (root / "huge.txt").write_text("word " * 450_000)  # 2.1 MB, over a 1 MB cap
    (root / "latin1.txt").write_bytes("Crème brûlée au café, naïve façade.".encode("cp1252"))
    (root / "mixed.txt").write_bytes(
        "Grüße aus Köln, ".encode() + "crème brûlée".encode("latin-1") + b", the end."
    )
    (root / "broken.md").write_bytes(b"# Notes\n\nvalid words \xff\xfe then more valid words")
    os.mkfifo(root / "pipe.txt")
    os.symlink("loop_b.txt", root / "loop_a.txt")
    os.symlink("loop_a.txt", root / "loop_b.txt")
    os.symlink("missing.txt", root / "dangling.txt")
    os.symlink(".", root / "round_and_round")  # a folder link back to itself
    elsewhere = root.parent / "elsewhere"  # a link to a folder outside: said, not followed
    elsewhere.mkdir()
    (elsewhere / "far.txt").write_text("A note about lighthouses, kept elsewhere.")
    os.symlink(elsewhere, root / "linked folder")
    deep = root
    for level in range(DEPTH):
        deep = deep / f"level{level}"
    deep.mkdir(parents=True)
    (deep / "bottom.txt").write_text("The deepest note, about lighthouses.")
    (root / "with space.txt").write_text("spaces in the name, about kites")
    (root / 'quote\'s "double".txt').write_text("quotes in the name, about kites")
    (root / "new\nline.txt").write_text("a newline in the name, about kites")
    with open(os.fsencode(root / UNDECODABLE), "wb") as f:
        f.write(b"a menu with soup")
    return {
        "good.txt": ("embedded", ""),
        "fine.pdf": ("embedded", ""),
        "corrupt.pdf": ("failed", "damaged"),
        "locked.pdf": ("failed", "password"),
        "empty.txt": ("skipped", "empty file"),
        "blank.md": ("skipped", "empty file"),
        "binary.txt": ("failed", "not a text file"),
        "huge.txt": ("skipped", "size limit (1 MB)"),
        "latin1.txt": ("embedded", ""),
        "mixed.txt": ("embedded", ""),
        "broken.md": ("embedded", ""),
        "pipe.txt": ("skipped", NOT_REGULAR),
        "loop_a.txt": ("skipped", BROKEN_LINK),
        "loop_b.txt": ("skipped", BROKEN_LINK),
        "dangling.txt": ("skipped", BROKEN_LINK),
        "round_and_round": ("skipped", FOLDER_LINK),
        "linked folder": ("skipped", FOLDER_LINK),
        str(deep.relative_to(root) / "bottom.txt"): ("embedded", ""),
        "with space.txt": ("embedded", ""),
        'quote\'s "double".txt': ("embedded", ""),
        "new\nline.txt": ("embedded", ""),
        SHOWN_AS: ("skipped", BAD_NAME),
    }


def run_in_thread(indexer: Indexer, timeout: float = 60) -> None:
    """Index, failing (not hanging) the test if indexing never ends."""
    failure: list[BaseException] = []

    def work() -> None:
        try:
            indexer.run()
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), "indexing hung"
    assert failure == []


def test_every_bad_file_gets_a_recorded_outcome_and_indexing_completes(tmp_path, store, extractor):
    root = tmp_path / "bad"
    expected = bad_folder(root)
    indexer = Indexer(store, FakeModel(), Settings(max_file_mb=1), extractor)
    indexer.add_folder(root)
    run_in_thread(indexer)

    outcomes = {
        os.path.relpath(str(p), root): (str(s), str(e or ""))
        for p, s, e in store.rows("SELECT path, state, error FROM files")
    }
    assert set(outcomes) == set(expected)
    for name, (state, reason) in expected.items():
        assert outcomes[name][0] == state, (name, outcomes[name])
        assert reason in outcomes[name][1], (name, outcomes[name])
    assert_consistent(store, MODEL_ID)

    model = FakeModel()
    assert {h.path for h in search(store, "lighthouses", model).hits} == {
        str(root / name) for name in expected if name.endswith("bottom.txt")
    }
    texts = " ".join(str(t) for (t,) in store.rows("SELECT text FROM chunks"))
    assert "Crème brûlée au café" in texts and "Grüße aus Köln" in texts
    kites = {os.path.basename(h.path) for h in search(store, "kites", model).hits}
    assert kites == {"with space.txt", 'quote\'s "double".txt', "new\nline.txt"}

    # Status (what `kenning status --json` prints) lists every failure and encodes cleanly.
    services = Services(AppPaths(tmp_path / "data", tmp_path / "config"), Settings())
    status = status_json(store, services)
    json.dumps(status, ensure_ascii=False).encode("utf-8")
    listed = {os.path.relpath(str(f["path"]), root) for f in status["failures"]}  # type: ignore[union-attr]
    assert listed == {n for n, (state, _) in expected.items() if state in ("failed", "skipped")}


def test_second_pass_does_nothing_and_retry_tries_failures_again(tmp_path, store, extractor):
    root = tmp_path / "bad"
    bad_folder(root)
    indexer = Indexer(store, FakeModel(), Settings(max_file_mb=1), extractor)
    indexer.add_folder(root)
    run_in_thread(indexer)
    report = indexer.scan()
    assert report.new_or_changed == 0 and report.skipped == 0 and report.deleted == 0
    failed = store.files.state_counts()["failed"]
    assert failed == 3
    assert store.files.retry_failed() == failed
    make_pdf(root / "corrupt.pdf", ["Repaired at last, about kites."])
    run_in_thread(indexer)
    assert store.files.state_counts()["failed"] == 2
    assert store.files.at(str(root / "corrupt.pdf")).state == "embedded"  # type: ignore[union-attr]


def test_a_pipe_that_reached_the_queue_is_skipped_not_waited_on(tmp_path, store, extractor):
    root = tmp_path / "docs"
    root.mkdir()
    os.mkfifo(root / "pipe.txt")
    indexer = Indexer(store, FakeModel(), Settings(), extractor)
    folder_id = indexer.add_folder(root)
    # as if it had been a file
    store.files.add_pending(folder_id, [(str(root / "pipe.txt"), 10, 0.0)])
    thread = threading.Thread(target=indexer.extract_pending, daemon=True)
    thread.start()
    thread.join(30)
    assert not thread.is_alive(), "opening the pipe blocked"
    record = store.files.at(str(root / "pipe.txt"))
    assert record is not None and (record.state, record.error) == ("skipped", NOT_REGULAR)


def test_unreadable_file_is_recorded_as_failed(tmp_path, store, extractor, monkeypatch):
    # Tests run as root here, and root reads anything: refuse the one file at open instead.
    root = tmp_path / "docs"
    root.mkdir()
    (root / "secret.txt").write_text("private words")
    (root / "open.txt").write_text("public words")
    real_open = os.open

    def refusing_open(path, flags, *args, **kwargs):
        if os.fspath(path).endswith("secret.txt"):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refusing_open)
    indexer = Indexer(store, FakeModel(), Settings(), extractor)
    indexer.add_folder(root)
    indexer.run()
    secret = store.files.at(str(root / "secret.txt"))
    assert secret is not None and secret.state == "failed" and "permission" in (secret.error or "")
    assert store.files.at(str(root / "open.txt")).state == "embedded"  # type: ignore[union-attr]


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read files without read permission")
def test_file_without_read_permission_is_recorded_as_failed(tmp_path, store, extractor):
    root = tmp_path / "docs"
    root.mkdir()
    secret = root / "secret.txt"
    secret.write_text("private words")
    secret.chmod(0)
    indexer = Indexer(store, FakeModel(), Settings(), extractor)
    indexer.add_folder(root)
    indexer.run()
    record = store.files.at(str(secret))
    assert record is not None and record.state == "failed"


class MeddlingExtractor:
    """Delegates to the real extractor after doing something to the file first."""

    def __init__(self, real: IsolatedExtractor, meddle, times: int = 1) -> None:
        self.real, self.meddle, self.times = real, meddle, times
        self.ahead = 0  # reading ahead is declined, below

    def start(self, path: Path, ocr: bool = False) -> None:
        """Reading ahead is declined: the meddling must come before the read."""

    def extract(self, path: Path, max_bytes: int | None = None, ocr: bool = False) -> Document:
        if self.times > 0:
            self.times -= 1
            self.meddle(path)
        return self.real.extract(path, max_bytes, ocr)


def test_file_deleted_while_being_read_leaves_no_record(tmp_path, store, extractor):
    root = tmp_path / "docs"
    root.mkdir()
    (root / "going.txt").write_text("soon gone")
    (root / "staying.txt").write_text("still here")
    meddler = MeddlingExtractor(
        extractor, lambda p: p.unlink() if p.name == "going.txt" else None, times=2
    )
    indexer = Indexer(store, FakeModel(), Settings(), meddler)  # type: ignore[arg-type]
    indexer.add_folder(root)
    indexer.run()
    assert {str(p) for (p,) in store.rows("SELECT path FROM files")} == {str(root / "staying.txt")}
    assert_consistent(store, MODEL_ID)


def test_file_rewritten_while_being_read_is_indexed_as_it_ends_up(tmp_path, store, extractor):
    root = tmp_path / "docs"
    root.mkdir()
    target = root / "draft.txt"
    target.write_text("first version about apples")
    final = b"second, longer version about pears and plums"
    indexer = Indexer(
        store,
        FakeModel(),
        Settings(),
        MeddlingExtractor(extractor, lambda p: p.write_bytes(final)),  # type: ignore[arg-type]
    )
    indexer.add_folder(root)
    indexer.run()
    record = store.files.at(str(target))
    assert record is not None and record.state == "embedded"
    assert record.content_hash == hashlib.blake2b(final, digest_size=20).hexdigest()
    assert search(store, "pears", FakeModel()).hits
    assert not search(store, "apples", FakeModel(), mode="lexical").hits


def test_file_that_never_stops_changing_is_failed_with_the_reason(tmp_path, store, extractor):
    root = tmp_path / "docs"
    root.mkdir()
    target = root / "log.txt"
    target.write_text("line\n")
    grow = MeddlingExtractor(extractor, lambda p: p.write_text(p.read_text() + "line\n"), times=100)
    indexer = Indexer(store, FakeModel(), Settings(), grow)  # type: ignore[arg-type]
    indexer.add_folder(root)
    indexer.run()
    record = store.files.at(str(target))
    assert record is not None and (record.state, record.error) == ("failed", KEPT_CHANGING)


def test_file_gone_between_scan_and_read_is_forgotten(tmp_path, store, extractor):
    root = tmp_path / "docs"
    root.mkdir()
    (root / "brief.txt").write_text("here for a moment")
    indexer = Indexer(store, FakeModel(), Settings(), extractor)
    indexer.add_folder(root)
    indexer.scan()
    (root / "brief.txt").unlink()
    indexer.extract_pending()
    assert store.count("SELECT count(*) FROM files") == 0


def test_empty_file_that_gains_content_is_indexed_then(tmp_path, store, extractor):
    root = tmp_path / "docs"
    root.mkdir()
    (root / "later.txt").write_bytes(b"")
    indexer = Indexer(store, FakeModel(), Settings(), extractor)
    indexer.add_folder(root)
    indexer.run()
    assert store.files.at(str(root / "later.txt")).state == "skipped"  # type: ignore[union-attr]
    (root / "later.txt").write_text("now with words about kites")
    indexer.run()
    assert store.files.at(str(root / "later.txt")).state == "embedded"  # type: ignore[union-attr]


def test_folder_with_an_undecodable_name_is_refused_kindly(tmp_path, store, extractor):
    odd = os.fsencode(tmp_path) + b"/dossier \xe9t\xe9"
    os.mkdir(odd)
    indexer = Indexer(store, FakeModel(), Settings(), extractor)
    with pytest.raises(NotADirectoryError, match="not valid text"):
        indexer.add_folder(Path(os.fsdecode(odd)))
    assert store.folders.all() == []


def test_changes_inside_a_folder_with_an_undecodable_name_are_recorded(tmp_path, store):
    from core.index.reconcile import ChangeSet, Reconciler
    from core.index.walk import ExcludeRules

    root = tmp_path / "docs"
    root.mkdir()
    odd = os.fsencode(root) + b"/r\xe9sum\xe9s"
    os.mkdir(odd)
    for name in (b"/one.txt", b"/two.txt"):
        with open(odd + name, "w") as f:
            f.write("words")
    store.folders.add(root)
    reconciler = Reconciler(store, ExcludeRules())
    reconciler.apply(ChangeSet(paths={os.fsdecode(odd), os.fsdecode(odd + b"/one.txt")}))
    rows = sorted((str(p), str(s)) for p, s in store.rows("SELECT path, state FROM files"))
    shown = f"{root}/r\ufffdsum\ufffds"
    assert rows == [(f"{shown}/one.txt", "skipped"), (f"{shown}/two.txt", "skipped")]
    os.unlink(odd + b"/one.txt")
    reconciler.apply(ChangeSet(paths={os.fsdecode(odd + b"/one.txt")}))
    assert [str(p) for (p,) in store.rows("SELECT path FROM files")] == [f"{shown}/two.txt"]


def test_a_link_to_a_folder_seen_by_the_watcher_is_recorded_not_followed(tmp_path, store):
    from core.index.reconcile import ChangeSet, Reconciler
    from core.index.walk import ExcludeRules

    root, elsewhere = tmp_path / "docs", tmp_path / "elsewhere"
    root.mkdir()
    elsewhere.mkdir()
    (elsewhere / "far.txt").write_text("A note kept elsewhere.")
    link = root / "projects"  # no extension: not a file type Kenning reads, but a folder
    link.symlink_to(elsewhere)
    store.folders.add(root)
    reconciler = Reconciler(store, ExcludeRules())
    reconciler.apply(ChangeSet(paths={str(link)}))
    assert [(str(p), s, e) for p, s, e in store.rows("SELECT path, state, error FROM files")] \
        == [(str(link), "skipped", FOLDER_LINK)]
    link.unlink()
    link.write_text("Now a plain note.")  # a file of that name now: no longer a link's record
    reconciler.apply(ChangeSet(paths={str(link)}))
    assert list(store.rows("SELECT path FROM files")) == []

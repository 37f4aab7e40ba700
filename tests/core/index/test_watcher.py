"""Live indexing: the watcher keeps the index in step with the folders while the app runs."""

from __future__ import annotations

import errno
import logging
import os
import random
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from watchdog.events import FileCreatedEvent, FileModifiedEvent
from watchdog.observers import Observer

from core.config import Settings
from core.index.indexer import Indexer
from core.index.reconcile import ChangeSet
from core.index.service import IndexService
from core.index.walk import ExcludeRules
from core.index.watcher import Watcher
from core.store.database import Store
from tests.fakes import FakeModel
from tests.index_checks import assert_consistent, snapshot

MODEL_ID = FakeModel().model_id
SETTLE_S = 60


@dataclass
class Live:
    """A running index service on one folder, with what it was handed by its watcher."""

    folder: Path
    service: IndexService
    model: FakeModel
    reader: Store
    handed: list[ChangeSet] = field(default_factory=list)

    def settle(self) -> None:
        assert self.service.wait_until_settled(SETTLE_S), "the index did not catch up"

    def paths(self) -> dict[str, str]:
        return {str(p): str(s) for p, s in self.reader.rows("SELECT path, state FROM files")}


@pytest.fixture
def live(tmp_path: Path, extractor) -> Iterator[Callable[..., Live]]:
    started: list[Live] = []

    def start(folder: Path, **watcher_options: object) -> Live:
        options: dict[str, object] = {"quiet": 0.3, "max_delay": 2.0, **watcher_options}
        handed: list[ChangeSet] = []

        def make_watcher(on_changes: Callable[[ChangeSet], None], rules: ExcludeRules) -> Watcher:
            def hand_on(changes: ChangeSet) -> None:
                handed.append(changes)
                on_changes(changes)

            return Watcher(hand_on, rules, **options)  # type: ignore[arg-type]

        model = FakeModel()
        database = tmp_path / "index.db"
        service = IndexService(
            database, model, Settings(), watcher_factory=make_watcher, extractor=extractor
        )
        service.start()
        service.add_folder(folder)
        live = Live(folder, service, model, Store.open_reader(database), handed)
        started.append(live)
        live.settle()
        return live

    yield start
    for live in started:
        live.service.stop()
        live.reader.close()


def tree(root: Path, files: int = 6) -> Path:
    for i in range(files):
        write(root / f"note{i}.txt", f"Note {i} about harbours, cranes and ships number {i}.")
    for i in range(20):
        write(root / "projects" / f"plan{i}.md", f"# Plan {i}\n\nBuild the bridge, step {i}.")
    return root


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_renaming_files_and_folders_reembeds_nothing(tmp_path, live):
    lv = live(tree(tmp_path / "docs"))
    embedded, ids = lv.model.embedded_texts, _ids(lv.reader)
    os.rename(lv.folder / "note0.txt", lv.folder / "renamed.txt")
    os.rename(lv.folder / "projects", lv.folder / "archive")
    os.mkdir(lv.folder / "elsewhere")
    os.rename(lv.folder / "note1.txt", lv.folder / "elsewhere" / "note1.txt")
    lv.settle()
    assert lv.model.embedded_texts == embedded
    now = _ids(lv.reader)
    assert now[str(lv.folder / "renamed.txt")] == ids[str(lv.folder / "note0.txt")]
    assert now[str(lv.folder / "archive" / "plan3.md")] == ids[str(lv.folder / "projects/plan3.md")]
    assert not any("/projects/" in p for p in now)
    assert set(lv.paths().values()) == {"embedded"}
    assert len(now) == len(ids)
    assert_consistent(lv.reader, MODEL_ID)


def test_deleting_removes_chunks_fulltext_and_vectors_together(tmp_path, live):
    lv = live(tree(tmp_path / "docs"))
    (lv.folder / "note2.txt").unlink()
    shutil.rmtree(lv.folder / "projects")
    lv.settle()
    assert sorted(lv.paths()) == [str(lv.folder / f"note{i}.txt") for i in (0, 1, 3, 4, 5)]
    assert lv.reader.count("SELECT count(*) FROM chunks") == 5
    assert_consistent(lv.reader, MODEL_ID)


def test_editing_reembeds_only_the_changed_part(tmp_path, live):
    folder = tmp_path / "docs"
    write(folder / "long.md", "# Intro\n\nStable opening words.\n\n## Middle\n\nKept as it is.")
    lv = live(folder)
    embedded = lv.model.embedded_texts
    with open(folder / "long.md", "a", encoding="utf-8") as f:
        f.write("\n\n## Added\n\nA brand new section about zebras.")
    lv.settle()
    assert lv.model.embedded_texts == embedded + 1


def test_an_editors_save_causes_one_update(tmp_path, live):
    folder = tree(tmp_path / "docs")
    lv = live(folder)
    target = folder / "note3.txt"
    # Atomic save: write a temporary file, then rename it over the original.
    del lv.handed[:]
    temporary = folder / "note3.txt.tmp"
    temporary.write_text("Rewritten note about lighthouses.")
    os.replace(temporary, target)
    lv.settle()
    assert len(lv.handed) == 1
    assert lv.handed[0].paths == {str(target)} and lv.handed[0].moves == []
    # Several writes in a row: one change set, and only the last version is embedded.
    del lv.handed[:]
    embedded = lv.model.embedded_texts
    for version in range(5):
        target.write_text(f"Version {version} of the note about lighthouses.")
    lv.settle()
    assert len(lv.handed) == 1
    assert lv.model.embedded_texts == embedded + 1
    texts = [str(t) for (t,) in lv.reader.rows("SELECT text FROM chunks WHERE text LIKE 'Ver%'")]
    assert texts == ["Version 4 of the note about lighthouses."]


def test_excluded_paths_never_wake_the_indexer(tmp_path, live):
    lv = live(tree(tmp_path / "docs"))
    del lv.handed[:]
    for name in (
        "node_modules/pkg/readme.txt",
        ".git/notes.txt",
        "build/out.txt",
        ".venv/lib/site.txt",
        "scratch.tmp",
        "~$report.docx",
        "photo.jpg",
        "note0.txt.swp",
    ):
        write(lv.folder / name, "noise")
    environment = tmp_path / "made-elsewhere"  # a virtual environment, whatever its name
    write(environment / "pyvenv.cfg", "home = /usr")
    write(environment / "lib" / "module.txt", "noise")
    os.rename(environment, lv.folder / "myenv")
    write(lv.folder / "myenv" / "lib" / "later.txt", "noise")
    lv.settle()
    assert all(not c.paths and not c.moves for c in lv.handed), lv.handed
    assert len(lv.paths()) == 26


def test_gitignore_changes_apply_at_once(tmp_path, live):
    lv = live(tree(tmp_path / "docs"))
    write(lv.folder / "projects" / ".gitignore", "plan1*.md\n")
    lv.settle()
    remaining = [p for p in lv.paths() if "/projects/" in p]
    assert len(remaining) == 20 - 11  # plan1 and plan10..plan19 are ignored now
    (lv.folder / "projects" / ".gitignore").unlink()
    lv.settle()
    assert len([p for p in lv.paths() if "/projects/" in p]) == 20


def test_folders_moved_in_and_out_are_indexed_and_forgotten(tmp_path, live):
    lv = live(tree(tmp_path / "docs"))
    outside = tree(tmp_path / "outside", files=3)
    os.rename(outside, lv.folder / "incoming")
    os.rename(lv.folder / "projects", tmp_path / "taken-away")
    lv.settle()
    paths = lv.paths()
    assert len([p for p in paths if "/incoming/" in p]) == 23
    assert not [p for p in paths if p.startswith(f"{lv.folder}/projects/")]
    assert set(paths.values()) == {"embedded"}
    assert_consistent(lv.reader, MODEL_ID)


def test_at_the_watch_limit_folders_are_rescanned_instead(tmp_path, live, caplog):
    class WatchLimitReached(Observer):  # type: ignore[misc, valid-type]
        def schedule(self, *args, **kwargs):
            raise OSError(errno.ENOSPC, "inotify watch limit reached")

    caplog.set_level(logging.WARNING, logger="core.index.watcher")
    lv = live(tree(tmp_path / "docs"), observer_factory=WatchLimitReached, poll_interval=0.5)
    assert lv.service.watcher is not None
    assert lv.service.watcher.polled == [str(lv.folder)]
    assert "max_user_watches" in caplog.text
    write(lv.folder / "later.txt", "Written after the start, about otters.")
    deadline = time.monotonic() + 20
    while str(lv.folder / "later.txt") not in lv.paths() and time.monotonic() < deadline:
        time.sleep(0.1)
    lv.settle()
    assert lv.paths()[str(lv.folder / "later.txt")] == "embedded"


def test_a_burst_becomes_a_rescan_and_a_trickle_stays_event_by_event(tmp_path):
    handed: list[ChangeSet] = []
    folder = str(tmp_path)
    watcher = Watcher(handed.append, ExcludeRules(), quiet=0.2, burst_paths=3)
    watcher.watch([folder])
    try:
        for i in range(3):
            watcher.record(folder, FileModifiedEvent(f"{folder}/a{i}.txt"))
        _wait(lambda: len(handed) == 1)
        assert handed[0].paths == {f"{folder}/a{i}.txt" for i in range(3)}
        for i in range(4):
            watcher.record(folder, FileCreatedEvent(f"{folder}/b{i}.txt"))
        _wait(lambda: len(handed) == 2)
        assert handed[1].paths == set() and handed[1].subtrees == {folder}
    finally:
        watcher.stop()


def test_events_keep_coming_but_are_handed_on_within_the_max_delay(tmp_path):
    handed: list[ChangeSet] = []
    folder = str(tmp_path)
    watcher = Watcher(handed.append, ExcludeRules(), quiet=0.5, max_delay=1.0)
    watcher.watch([folder])
    try:
        start = time.monotonic()
        while not handed and time.monotonic() - start < 5:
            watcher.record(folder, FileModifiedEvent(f"{folder}/busy.txt"))
            time.sleep(0.1)  # never quiet for 0.5 s
        assert handed and time.monotonic() - start < 2.0
    finally:
        watcher.stop()


def test_asked_about_folder_jumps_the_queue(tmp_path, extractor):
    first, second = tree(tmp_path / "first"), tree(tmp_path / "second")
    store = Store.open(tmp_path / "index.db")
    indexer = Indexer(store, FakeModel(), Settings(), extractor)
    indexer.add_folder(first)
    indexer.add_folder(second)
    indexer.scan()
    assert str(first) in store.files.pending_files(limit=1)[0].path
    focus = [str(second / "projects")]
    assert str(second / "projects") in store.files.pending_files(limit=1, focus=focus)[0].path
    assert store.folders.raise_priority(second)
    assert str(second) in store.files.pending_files(limit=1)[0].path

    indexer.extract_pending()
    indexer.focus = [str(first / "projects")]
    batch = store.chunks.needing_vectors(MODEL_ID, 20, indexer.focus)
    owners = {store.files.get(c.file_id).path for c in batch}  # type: ignore[union-attr]
    assert all(p.startswith(str(first / "projects")) for p in owners) and len(owners) == 20
    batch = store.chunks.needing_vectors(MODEL_ID, 100)
    assert all(str(second) in store.files.get(c.file_id).path for c in batch[:26])  # type: ignore[union-attr]


def test_first_chunks_of_every_file_are_embedded_before_deeper_ones(tmp_path, extractor):
    folder = tmp_path / "docs"
    for i in range(3):
        write(folder / f"long{i}.md", "\n\n".join(f"## Part {j}\n\nWords {j}." for j in range(3)))
    store = Store.open(tmp_path / "index.db")
    indexer = Indexer(store, FakeModel(), Settings(), extractor)
    indexer.add_folder(folder)
    indexer.scan()
    indexer.extract_pending()
    ordinals = [
        store.count("SELECT ordinal FROM chunks WHERE id = ?", (c.id,))
        for c in store.chunks.needing_vectors(MODEL_ID, 100)
    ]
    assert ordinals == sorted(ordinals) and ordinals[:3] == [0, 0, 0]


@pytest.mark.parametrize("burst_paths", [1000, 10**9], ids=["rescan-bursts", "event-by-event"])
def test_event_storm_ends_with_the_index_of_the_final_tree(tmp_path, live, extractor, burst_paths):
    folder = tmp_path / "docs"
    for i in range(300):
        write(folder / f"d{i % 10}" / f"f{i}.txt", f"Starting file {i} about topic {i % 17}.")
    lv = live(folder, burst_paths=burst_paths)
    del lv.handed[:]
    _storm(folder, operations=10_000, seed=burst_paths % 97)
    lv.settle()
    if burst_paths < 10_000:
        assert any(c.subtrees and not c.paths for c in lv.handed), "bursts became rescans"
    else:
        assert any(c.paths for c in lv.handed), "changes were applied event by event"
    lv.service.stop()
    assert_consistent(lv.reader, MODEL_ID)

    fresh = Store.open(tmp_path / "fresh.db")
    with Indexer(fresh, FakeModel(), Settings(), extractor) as indexer:
        indexer.add_folder(folder)
        indexer.run()
    assert snapshot(lv.reader) == snapshot(fresh)


def _storm(root: Path, operations: int, seed: int) -> None:
    """Creates, rewrites, renames (files and folders) and deletes, as fast as possible."""
    rng = random.Random(seed)
    files = [p for p in root.rglob("*.txt")]
    folders = sorted({p.parent for p in files})
    made = 0
    for step in range(operations):
        roll = rng.random()
        if roll < 0.3 or not files:
            made += 1
            path = rng.choice(folders) / f"new{made}.txt"
            path.write_text(f"Created {made} about topic {rng.randrange(17)}.")
            files.append(path)
        elif roll < 0.6:
            path = rng.choice(files)
            path.write_text(f"Rewritten at step {step} about topic {rng.randrange(17)}.")
        elif roll < 0.8:
            index = rng.randrange(len(files))
            made += 1
            target = rng.choice(folders) / f"moved{made}.txt"
            os.rename(files[index], target)
            files[index] = target
        elif roll < 0.998:
            files.pop(rng.randrange(len(files))).unlink()
        else:  # now and then a whole folder is renamed
            old = rng.choice(folders)
            new = old.with_name(f"{old.name}r{step}")
            os.rename(old, new)
            folders = [new if f == old else f for f in folders]
            files = [new / p.name if p.parent == old else p for p in files]


def _ids(store: Store) -> dict[str, int]:
    return {str(p): int(i) for i, p in store.rows("SELECT id, path FROM files")}  # type: ignore[call-overload]


def _wait(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)

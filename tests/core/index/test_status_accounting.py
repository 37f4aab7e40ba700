"""Every file Kenning sees is accounted for: read, skipped with the reason (a type it does not
read, counted by extension; too large; left out by the exclude rules), or failed."""

from __future__ import annotations

import json
from pathlib import Path

from core.cli.main import main
from core.config import Settings
from core.index.indexer import Indexer
from core.store.database import Store
from tests.fakes import FakeModel


def _folder(root: Path) -> Path:
    root.mkdir()
    (root / "notes.md").write_text("# Notes\n\nThe otter swims.\n")
    for i in range(3):
        (root / f"design{i}.pages").write_bytes(b"PK\x03\x04 not ours")
    (root / "photo.JPG").write_bytes(b"\xff\xd8\xff")
    (root / "mystery").write_bytes(b"\x00\x01binary")
    (root / ".hidden.txt").write_text("secret")
    (root / "node_modules").mkdir()
    (root / "node_modules" / "a.txt").write_text("dependency")
    with (root / "huge.txt").open("wb") as stream:
        stream.truncate(21 * 2**20)  # sparse: takes no room
    (root / "broken.pdf").write_bytes(b"%PDF-1.7 not really")
    (root / "README.Debian").write_text("Read by its name.\n")
    (root / "README.gz").write_bytes(b"\x1f\x8b packed")
    return root


def test_scan_counts_what_it_leaves_out_and_skips_the_too_large(tmp_path: Path, extractor):
    root = _folder(tmp_path / "docs")
    store = Store.open(tmp_path / "index.db")
    try:
        indexer = Indexer(store, FakeModel(), Settings(), extractor)
        indexer.add_folder(root)
        indexer.run()
        folder_id = store.folders.all()[0][0]
        assert store.folders.skipped_kinds(folder_id) == {
            ("unsupported", ".pages"): 3,
            ("unsupported", ".jpg"): 1,
            ("unsupported", ".gz"): 1,
            ("unsupported", ""): 1,
            ("excluded", "file"): 1,
            ("excluded", "folder"): 1,
        }
        problems = {Path(p).name: (state, reason) for p, state, reason in store.files.failures()}
        assert problems["huge.txt"] == (
            "skipped", "too large (21 MB; Kenning reads files of this type up to 20 MB)"
        )  # fmt: skip
        assert problems["broken.pdf"][0] == "failed"
        assert store.files.state_counts()["embedded"] == 2  # notes.md and README.Debian

        # The next full scan replaces the counts (a file removed is no longer counted).
        (root / "design0.pages").unlink()
        (root / "huge.txt").write_text("Now small.\n")
        indexer.scan()
        assert store.folders.skipped_kinds(folder_id)[("unsupported", ".pages")] == 2
        assert store.files.at(str(root / "huge.txt")).state == "pending"
        indexer.close()
    finally:
        store.close()


def test_status_tells_every_kind_of_file_left_out(home, tmp_path: Path, capsys):
    root = _folder(tmp_path / "docs")
    loader = lambda settings, paths: FakeModel()  # noqa: E731
    assert main(["index", str(root)], model_loader=loader) in (0, 1)
    capsys.readouterr()
    assert main(["status", "--json"], model_loader=loader) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["unsupported"] == {"": 1, ".gz": 1, ".jpg": 1, ".pages": 3}
    assert data["excluded"] == {"files": 1, "folders": 1}
    assert data["folders"][0]["unsupported"] == data["unsupported"]
    assert "3 .pages files skipped: not supported" in data["left_out"]
    assert main(["status"], model_loader=loader) == 0
    out = capsys.readouterr().out
    assert "Not read:\n  3 .pages files skipped: not supported\n" in out
    assert "1 folder and 1 file left out by the exclude rules" in out
    assert "huge.txt: skipped: too large (21 MB;" in out

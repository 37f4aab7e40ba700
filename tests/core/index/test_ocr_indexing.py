"""OCR on request, end to end through the command line: a folder of scans is searchable by its
words only with "Read scanned pages (OCR)" on; with it off, or without Tesseract, nothing
fails and `kenning status` accounts for every scanned page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.cli.main import main
from core.extract.ocr import find_ocr_engine
from tests.docs_factory import make_picture, make_scanned_pdf
from tests.fakes import FakeModel

pytestmark = pytest.mark.skipif(
    not find_ocr_engine().available,
    reason=f"OCR tests need Tesseract with English data ({find_ocr_engine().problem}); "
    "tests/run.sh installs it (apt-get install tesseract-ocr tesseract-ocr-eng)",
)


def _loader(settings, paths):
    return FakeModel()


def _scans(root: Path) -> Path:
    root.mkdir()
    make_scanned_pdf(root / "lease.pdf", ["The zebrafish clause ends the lease."])
    make_scanned_pdf(root / "mixed.pdf", ["unused", "The quokka annex is signed."],
                     text_layer={0: "A typed cover page about wombats."})
    make_picture(root / "note.png", "Meet at the platypus lighthouse.")
    (root / "notes.md").write_text("# Notes\n\nThe otter swims.\n")
    return root


def _run(*argv: str) -> int:
    return main(list(argv), model_loader=_loader)


def _hits(capsys: pytest.CaptureFixture[str], word: str) -> list[dict]:
    capsys.readouterr()
    assert _run("search", "--mode", "lexical", "--json", word) == 0
    return json.loads(capsys.readouterr().out)["hits"]


def _status(capsys: pytest.CaptureFixture[str]) -> dict:
    capsys.readouterr()
    assert _run("status", "--json") == 0
    return json.loads(capsys.readouterr().out)


def test_scans_are_read_with_ocr_on_and_accounted_for_with_it_off(home, tmp_path, capsys):
    root = _scans(tmp_path / "scans")
    assert _run("index", str(root)) == 0
    assert _hits(capsys, "zebrafish") == [] and _hits(capsys, "quokka") == []
    assert [Path(h["path"]).name for h in _hits(capsys, "wombats")] == ["mixed.pdf"]
    data = _status(capsys)
    folder = data["folders"][0]
    assert folder["ocr"] is False and data["ocr_engine"] is None
    assert folder["scanned"] == {"read_pages": 0, "read_files": 0, "unread_pages": 2,
                                 "unread_files": 2}
    assert data["scanned"] == folder["scanned"]
    assert any("2 scanned pages without a text layer (in 2 files) could be read with OCR on"
               in line for line in data["scans"])
    assert any(line.startswith("1 .png file skipped: pictures are read (by OCR) only where")
               for line in data["left_out"])
    lease = next(f for f in data["failures"] if f["path"].endswith("lease.pdf"))
    assert lease["state"] == "skipped" and "turn on “Read scanned pages (OCR)”" in lease["error"]

    capsys.readouterr()
    assert _run("index", "--ocr", str(root)) == 0
    assert "Tesseract" not in capsys.readouterr().err
    [lease_hit] = _hits(capsys, "zebrafish")
    assert (Path(lease_hit["path"]).name, lease_hit["page"]) == ("lease.pdf", 1)
    [annex] = _hits(capsys, "quokka")
    assert (Path(annex["path"]).name, annex["page"]) == ("mixed.pdf", 2)  # its page kept
    [picture] = _hits(capsys, "platypus")
    assert Path(picture["path"]).name == "note.png"
    data = _status(capsys)
    folder = data["folders"][0]
    assert folder["ocr"] is True and data["ocr_engine"]["available"] is True
    assert folder["scanned"] == {"read_pages": 3, "read_files": 3, "unread_pages": 0,
                                 "unread_files": 0}
    assert data["failures"] == [] and data["unsupported"] == {}
    assert _run("status") == 0
    assert "read by OCR" in capsys.readouterr().out

    # Off again: the text OCR read goes, and the picture with it.
    assert _run("index", "--no-ocr", str(root)) == 0
    assert _hits(capsys, "zebrafish") == [] and _hits(capsys, "platypus") == []
    assert _status(capsys)["scanned"]["unread_pages"] == 2


def test_without_tesseract_scans_are_counted_and_read_once_it_is_there(
    home, tmp_path, capsys, hide_tesseract
):
    root = _scans(tmp_path / "scans")
    with hide_tesseract():  # the test's KENNING_HOME stays
        assert _run("index", "--ocr", str(root)) == 0
        err = capsys.readouterr().err
        assert "Tesseract is not installed" in err and "sudo apt install tesseract-ocr" in err
        assert _hits(capsys, "zebrafish") == []
        data = _status(capsys)
        assert data["ocr_engine"]["available"] is False
        assert "brew install tesseract" in data["ocr_engine"]["install_help"]
        assert data["scanned"]["unread_pages"] == 3  # two scanned pages and the picture
        assert any(line.endswith("not read: Tesseract is not installed")
                   for line in data["scans"])
        assert _run("status") == 0
        out = capsys.readouterr().out
        assert "OCR cannot run: Tesseract is not installed." in out
    # Installed now: the next indexing reads what was left (the files' bytes are unchanged).
    assert _run("index") == 0
    assert [Path(h["path"]).name for h in _hits(capsys, "zebrafish")] == ["lease.pdf"]
    assert _status(capsys)["scanned"]["unread_pages"] == 0


def test_ocr_needs_named_folders(home, capsys):
    assert _run("index", "--ocr") == 2
    assert "name the folders" in capsys.readouterr().err

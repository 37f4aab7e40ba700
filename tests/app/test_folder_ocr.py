"""The folders dialog's "Read scanned pages (OCR)": per folder, off by default; turning it on
makes a scanned PDF searchable by its words, and without Tesseract the dialog says how to
install it (nothing fails)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from app.folders_dialog import FoldersDialog
from app.window import MainWindow
from core.extract.ocr import find_ocr_engine
from tests.app.conftest import WindowFactory, fill_folder, first_hit_names
from tests.docs_factory import make_scanned_pdf

WAIT_MS = 20_000


@pytest.fixture
def scans(tmp_path: Path) -> Path:
    root = fill_folder(tmp_path / "scans")
    make_scanned_pdf(root / "scan.pdf", ["The zebrafish clause ends the lease."])
    return root


def _dialog(qtbot: QtBot, window: MainWindow, folder: Path) -> FoldersDialog:
    window.add_folder(folder)
    qtbot.waitUntil(lambda: window.status_area.problems.isVisible(), timeout=WAIT_MS)
    dialog = FoldersDialog(window.engine, window.tasks, window)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.folders.count() == 1, timeout=WAIT_MS)
    dialog.folders.item(0).setSelected(True)
    return dialog


@pytest.mark.skipif(not find_ocr_engine().available,
                    reason="needs Tesseract with English data (tests/run.sh installs it)")
def test_turning_ocr_on_makes_a_scan_searchable(
    qtbot: QtBot, make_window: WindowFactory, scans: Path
) -> None:
    window = make_window()
    dialog = _dialog(qtbot, window, scans)
    assert dialog.ocr.isEnabled() and not dialog.ocr.isChecked()
    qtbot.waitUntil(lambda: "could be read with OCR on" in dialog.failures_note.text(),
                    timeout=WAIT_MS)
    dialog.ocr.click()
    assert dialog.ocr.isChecked()
    qtbot.waitUntil(lambda: "read by OCR" in dialog.failures_note.text(), timeout=WAIT_MS)
    assert not dialog.ocr_note.isVisible()
    window.search.set_text("zebrafish")
    qtbot.waitUntil(
        lambda: first_hit_names(window) == ["scan.pdf"],
        timeout=WAIT_MS,
    )
    dialog.reject()


def test_without_tesseract_the_dialog_says_how_to_install_it(
    qtbot: QtBot, make_window: WindowFactory, scans: Path, hide_tesseract,
) -> None:
    with hide_tesseract():
        window = make_window()
        dialog = _dialog(qtbot, window, scans)
        dialog.ocr.click()
        qtbot.waitUntil(lambda: "not read: Tesseract is not installed"
                        in dialog.failures_note.text(), timeout=WAIT_MS)
        assert dialog.ocr_note.isVisible()
        assert "sudo apt install tesseract-ocr" in dialog.ocr_note.text()
        dialog.reject()
        window.engine.shutdown()

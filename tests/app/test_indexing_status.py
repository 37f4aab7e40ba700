"""Adding folders from the window: indexing starts, the status line follows, failures show."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from pytestqt.qtbot import QtBot

from app import theme
from app.folders_dialog import FoldersDialog
from app.status import StatusArea
from app.window import MainWindow
from core.cancel import Progress
from tests.app.conftest import WindowFactory, first_hit_names, write
from tests.docs_factory import make_pdf

WAIT_MS = 20_000
FILES = 400


def test_first_run_offers_folders_then_adding_one_starts_indexing(
    qtbot: QtBot, make_window: WindowFactory
) -> None:
    window = make_window()
    qtbot.waitUntil(lambda: window.left_stack.currentWidget() is window.welcome, timeout=WAIT_MS)
    assert window.welcome.samples.isVisible()

    progress: list[object] = []
    window.engine.progress.connect(progress.append)
    qtbot.mouseClick(window.welcome.samples, Qt.MouseButton.LeftButton)

    assert window.left_stack.currentWidget() is window.left_splitter
    qtbot.waitUntil(lambda: any(getattr(p, "phase", "") == "extract" for p in progress),
                    timeout=WAIT_MS)  # fmt: skip
    samples = sorted(p.name for p in theme.SAMPLE_DOCUMENTS.iterdir())
    expected = f"{len(samples)} files searchable"
    qtbot.waitUntil(lambda: expected in window.status_area.label.text(), timeout=WAIT_MS)
    assert window.filters.folder.count() == 2  # "All folders" and the samples

    qtbot.keyClicks(window.query_box, "deposit")
    qtbot.waitUntil(
        lambda: first_hit_names(window) == ["tenancy-agreement.pdf"],
        timeout=WAIT_MS,
    )


def test_status_text_reports_rate_and_time_left(qtbot: QtBot, make_window: WindowFactory) -> None:
    window = make_window()
    status: StatusArea = window.status_area
    status.on_progress(Progress("extract", 10, 110, "/x/report.pdf"))
    started = time.monotonic()
    status.on_progress(Progress("extract", 60, 110, "/x/notes.md"))
    text = status.progress_text(status.latest, now=started + 5)  # type: ignore[arg-type]
    assert text.startswith("Reading files: 60 of 110 files")
    assert "10.0 files/s" in text
    assert "less than a minute left" in text
    assert text.endswith("notes.md")
    status.on_progress(Progress("extract", 61, 110, "/x/scan.pdf", ocr_pages=12))
    assert status.progress_text(status.latest).endswith(  # type: ignore[arg-type]
        " · 12 scanned pages read by OCR · scan.pdf")


def failures_of(
    qtbot: QtBot, make_window: WindowFactory, broken_folder: Path
) -> tuple[MainWindow, FoldersDialog]:
    """A window that indexed ``broken_folder``, and its folders dialog listing the one failure."""
    window = make_window()
    window.add_folder(broken_folder)
    qtbot.waitUntil(lambda: window.status_area.problems.isVisible(), timeout=WAIT_MS)
    dialog = FoldersDialog(window.engine, window.tasks, window)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.failures.topLevelItemCount() == 1, timeout=WAIT_MS)
    return window, dialog


def test_a_broken_file_is_listed_with_its_reason(
    qtbot: QtBot, make_window: WindowFactory, broken_folder: Path
) -> None:
    window, dialog = failures_of(qtbot, make_window, broken_folder)
    assert window.status_area.problems.text() == "1 file skipped"
    item = dialog.failures.topLevelItem(0)
    assert item.text(0) == "broken.pdf"
    assert "damaged" in item.text(1).lower()
    assert dialog.retry.isEnabled()
    assert [dialog.folders.item(i).text() for i in range(dialog.folders.count())] == [
        str(broken_folder.resolve())
    ]
    dialog.reject()


def test_retry_reads_a_repaired_file_again(
    qtbot: QtBot, make_window: WindowFactory, broken_folder: Path
) -> None:
    window, dialog = failures_of(qtbot, make_window, broken_folder)
    make_pdf(broken_folder / "broken.pdf", ["The boiler was serviced in March."])
    dialog.retry.click()
    assert not dialog.retry.isEnabled()
    qtbot.waitUntil(lambda: dialog.failures.topLevelItemCount() == 0, timeout=WAIT_MS)
    assert dialog.failures_note.text() == "Every file could be read."
    window.search.set_text("boiler serviced")
    qtbot.waitUntil(
        lambda: first_hit_names(window) == ["broken.pdf"],
        timeout=WAIT_MS,
    )
    dialog.reject()


def test_a_folder_added_while_the_model_loads_is_not_lost(
    qtbot: QtBot, make_window: WindowFactory, folder: Path
) -> None:
    # The indexing service is swapped for one with the model once it has loaded; a request
    # the first service never took must reach the second.
    window = make_window(start=False)
    window.add_folder(folder)
    window.engine.restart_indexing()
    window.engine.start()
    qtbot.waitUntil(
        lambda: window.overview is not None and window.overview.searchable == 3,
        timeout=WAIT_MS,
    )


def test_the_window_stays_responsive_while_hundreds_of_files_are_indexed(
    qtbot: QtBot, make_window: WindowFactory, tmp_path: Path
) -> None:
    root = tmp_path / "many"
    topics = ["tenancy notice", "boiler pressure", "garden compost", "lentil soup", "bike tyre"]
    # Enough text that indexing takes seconds: on the GUI thread it would freeze the window.
    for i in range(FILES):
        topic = topics[i % len(topics)]
        paragraphs = [
            f"Paragraph {p} of note {i} is about {topic} and item {i * 31 + p}. " * 12
            for p in range(12)
        ]
        write(
            root / f"folder{i % 7}" / f"note-{i:03}.md",
            f"# Note {i}\n\n" + "\n\n".join(paragraphs),
        )
    window = make_window()
    qtbot.waitUntil(lambda: window.engine.interactive_model is not None, timeout=WAIT_MS)

    ticks: list[float] = [time.monotonic()]
    sampler = QTimer(interval=10)
    sampler.timeout.connect(lambda: ticks.append(time.monotonic()))
    sampler.start()
    window.add_folder(root)
    qtbot.keyClicks(window.query_box, "compost")
    qtbot.waitUntil(
        lambda: (
            window.overview is not None
            and window.overview.counts.get("embedded", 0) == FILES
            and window.engine.phase == "idle"
        ),
        timeout=120_000,
    )
    sampler.stop()
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert len(ticks) > 50, "the sampler ran while indexing"
    assert max(gaps) < 1.0, f"the event loop stalled for {max(gaps):.2f} s"
    qtbot.waitUntil(lambda: len(window.results_model.hits) > 0, timeout=WAIT_MS)


def test_files_of_types_not_read_are_counted_in_the_dialog(
    qtbot: QtBot, make_window: WindowFactory, broken_folder: Path
) -> None:
    for i in range(3):
        (broken_folder / f"plan{i}.pages").write_bytes(b"not ours")
    _window, dialog = failures_of(qtbot, make_window, broken_folder)
    assert "Not read: 3 .pages files skipped: not supported." in dialog.failures_note.text()
    dialog.reject()

"""The status line: what indexing is doing, how fast, how long is left, and Pause/Resume.

Progress arrives hundreds of times a second while small files are read; the line is redrawn
on a timer from the latest report, so the GUI never spends its time on labels.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QToolButton,
    QWidget,
)

from app.engine import Engine
from app.jobs import IndexOverview
from core.cancel import Progress

REDRAW_MS = 250
RATE_WINDOW_S = 1.0  # measure a rate only after this long, or it jumps about

PHASE_WORDS = {
    "scan": "Looking for files",
    "extract": "Reading files",
    "embed": "Learning what passages mean",
}


@dataclass
class _PhaseClock:
    phase: str
    started: float
    first_done: int


def describe_rate(per_second: float, unit: str) -> str:
    if per_second >= 10:
        return f"{per_second:,.0f} {unit}/s"
    return f"{per_second:.1f} {unit}/s"


def describe_eta(seconds: float) -> str:
    if seconds < 60:
        return "less than a minute left"
    if seconds < 3600:
        minutes = round(seconds / 60)
        return f"about {minutes} minute{'s' if minutes != 1 else ''} left"
    hours = seconds / 3600
    return f"about {hours:.1f} hours left"


class StatusArea(QWidget):
    problems_clicked = Signal()
    #: Ask the window for fresh counts (it owns the reader tasks).
    overview_wanted = Signal()

    def __init__(self, engine: Engine, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.latest: Progress | None = None
        self.overview: IndexOverview | None = None
        self._clock: _PhaseClock | None = None
        self._dirty = False

        self.label = QLabel("Starting…")
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(160)
        self.bar.setTextVisible(False)
        self.bar.hide()
        self.problems = QPushButton()
        self.problems.setFlat(True)
        self.problems.setToolTip("Files that could not be read, and why")
        self.problems.clicked.connect(self.problems_clicked)
        self.problems.hide()
        self.pause = QPushButton("Pause indexing")
        self.pause.setToolTip("Stop reading files for now; search keeps working")
        self.pause.clicked.connect(lambda: engine.set_paused(not engine.paused))
        self.pause.hide()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.bar)
        layout.addWidget(self.problems)
        layout.addWidget(self.pause)

        self._timer = QTimer(self, interval=REDRAW_MS)
        self._timer.timeout.connect(self._redraw)
        self._timer.start()
        engine.progress.connect(self.on_progress)
        engine.indexing_idle.connect(self.on_idle)
        engine.paused_changed.connect(lambda _: self._mark_dirty())

    def on_progress(self, progress: Progress) -> None:
        self.latest = progress
        if self._clock is None or self._clock.phase != progress.phase:
            self._clock = _PhaseClock(progress.phase, time.monotonic(), progress.done)
        self._dirty = True

    def on_idle(self) -> None:
        self.latest = None
        self._clock = None
        self._dirty = True
        self.overview_wanted.emit()

    def set_overview(self, overview: IndexOverview) -> None:
        self.overview = overview
        self._dirty = True

    def _mark_dirty(self) -> None:
        self._dirty = True
        self._redraw()

    def _redraw(self) -> None:
        if not self._dirty:
            return
        self._dirty = False
        paused = self.engine.paused
        self.pause.setText("Resume indexing" if paused else "Pause indexing")
        # Nothing to pause while idle; the button comes back with the next progress.
        self.pause.setVisible(paused or self.latest is not None)
        self._draw_problems()
        progress = self.latest
        if paused:
            self.bar.hide()
            self.label.setText("Indexing is paused. Search works on what is already indexed.")
            return
        if progress is None or progress.phase not in PHASE_WORDS:
            self.bar.hide()
            self.label.setText(self._idle_text())
            return
        self.label.setText(self.progress_text(progress))
        if progress.total > 0:
            self.bar.setRange(0, progress.total)
            self.bar.setValue(min(progress.done, progress.total))
        else:
            self.bar.setRange(0, 0)  # busy indicator while the total is unknown
        self.bar.show()

    def progress_text(self, progress: Progress, now: float | None = None) -> str:
        unit = "passages" if progress.phase == "embed" else "files"
        words = PHASE_WORDS[progress.phase]
        if progress.phase == "scan":
            text = f"{words}… {progress.done:,} found"
        else:
            text = f"{words}: {progress.done:,} of {progress.total:,} {unit}"
        clock = self._clock
        elapsed = (now or time.monotonic()) - clock.started if clock else 0.0
        if clock is not None and elapsed >= RATE_WINDOW_S and progress.done > clock.first_done:
            rate = (progress.done - clock.first_done) / elapsed
            text += " · " + describe_rate(rate, unit)
            if progress.total > progress.done:
                text += " · " + describe_eta((progress.total - progress.done) / rate)
        if progress.ocr_pages:
            text += f" · {progress.ocr_pages:,} scanned page"
            text += f"{'s' if progress.ocr_pages != 1 else ''} read by OCR"
        if progress.current:
            text += " · " + Path(progress.current).name
        return text

    def _idle_text(self) -> str:
        overview = self.overview
        if overview is None:
            return "Ready."
        if not overview.folders:
            return "No folders yet — add one to start."
        searchable = overview.searchable
        text = f"{searchable:,} file{'s' if searchable != 1 else ''} searchable"
        waiting = overview.counts.get("extracted", 0)
        if waiting and self.engine.interactive_model is not None:
            text += f" ({waiting:,} still being understood by meaning)"
        elif self.engine.model_error:
            text += " by keyword (the model is unavailable, see Settings)"
        elif self.engine.interactive_model is None:
            text += " by keyword; meaning-based search joins once the model has loaded"
        return text + "."

    def _draw_problems(self) -> None:
        problems = self.overview.problems if self.overview else 0
        self.problems.setVisible(problems > 0)
        self.problems.setText(f"{problems:,} file{'s' if problems != 1 else ''} skipped")


class NoticeBar(QFrame):
    """A message that stays until dismissed: a damaged database moved aside, a model that
    would not load, an indexing problem. Newest message wins."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("✕")
        close.setToolTip("Dismiss")
        close.setAutoRaise(True)
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    def show_message(self, message: str) -> None:
        self.label.setText(message)
        self.show()

"""The preview: the file a hit or citation points at, opened at its page with the passage
highlighted. PDFs, DOCX and EPUB are rendered as pages; other files show their text.

Rendering and extraction run through ``app.tasks`` ("latest wins": flicking through results
never queues up stale pages).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from PySide6.QtCore import QEvent, QProcess, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QDesktopServices,
    QKeySequence,
    QShortcut,
)
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app import open_at_page
from app.page_view import PageView
from app.tasks import Pool, TaskRunner
from app.text_view import TextView
from core.extract.render import (
    POINTS_PER_INCH,
    SCREEN_DPI,
    Rect,
    RenderedPage,
    TextPage,
    is_paged,
    load_text_page,
    pages_with_words,
    render_page,
)
from core.search.query import query_words
from core.search.snippets import passage_span
from core.types import Citation, Hit

ZOOM_STEP = 1.25
ZOOM_RANGE = (0.25, 5.0)
REFIT_DELAY_MS = 200


@dataclass(frozen=True)
class PreviewTarget:
    """What to show: a file, a page, a span of that page's text, and words to mark."""

    path: str
    page: int | None
    start: int
    end: int
    words: tuple[str, ...] = field(default=())

    @classmethod
    def from_hit(cls, hit: Hit, query: str) -> PreviewTarget:
        start, end = passage_span(hit)
        return cls(hit.path, hit.page, start, end, tuple(query_words(query)))

    @classmethod
    def from_citation(cls, citation: Citation) -> PreviewTarget:
        # Only the supporting passage: a question's words are everywhere on a page about it.
        return cls(citation.path, citation.page, citation.start, citation.end)


class PreviewPane(QWidget):
    #: A page (or text) finished showing: path, page number (0 for text without pages).
    shown = Signal(str, int)

    def __init__(self, tasks: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.target: PreviewTarget | None = None
        self.current_page = 0
        self.page_count = 0
        self.error = ""
        self._zoom: float | None = None  # None: fit the page to the width
        self._match_pages: list[int] = []
        self._match_index = -1
        self._scroll_after_render = "passage"

        self.title = QLabel()
        bold = self.title.font()
        bold.setBold(True)
        self.title.setFont(bold)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        bar = QHBoxLayout()
        bar.addWidget(self.title, 1)
        self.prev_page = self._button("‹", "Previous page (Page Up)", self.previous_page)
        self.page_label = QLabel()
        self.next_page = self._button("›", "Next page (Page Down)", self.next_page_)
        self.zoom_out = self._button("−", "Zoom out (Ctrl+-)", lambda: self._zoom_by(1 / ZOOM_STEP))
        self.fit = self._button("Fit", "Fit the page to the width", self._fit)
        self.zoom_in = self._button("+", "Zoom in (Ctrl++)", lambda: self._zoom_by(ZOOM_STEP))
        self.prev_match = self._button("▲", "Previous match (Shift+F3)", self.previous_match)
        self.next_match = self._button("▼", "Next match (F3)", self.next_match_)
        self.open_button = self._button("Open", "Open in its usual app", self.open_file)
        self.reveal_button = self._button(
            "Show in folder", "Show the file in its folder", self.reveal
        )
        for control in (
            self.prev_page, self.page_label, self.next_page, self.zoom_out, self.fit,
            self.zoom_in, self.prev_match, self.next_match, self.open_button, self.reveal_button,
        ):  # fmt: skip
            bar.addWidget(control)

        self.pages = PageView()
        self.text = TextView()
        self.message = QLabel(
            "Select a result to see it here, with the passage highlighted.",
            alignment=Qt.AlignmentFlag.AlignCenter,
        )
        self.message.setWordWrap(True)
        self.stack = QStackedWidget()
        for widget in (self.message, self.pages, self.text):
            self.stack.addWidget(widget)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.stack, 1)

        self._refit = QTimer(self, singleShot=True, interval=REFIT_DELAY_MS)
        self._refit.timeout.connect(self._rerender)
        self.pages.resized.connect(self._refit.start)
        for keys, action in (
            (QKeySequence.StandardKey.ZoomIn, lambda: self._zoom_by(ZOOM_STEP)),
            (QKeySequence.StandardKey.ZoomOut, lambda: self._zoom_by(1 / ZOOM_STEP)),
            (QKeySequence.StandardKey.FindNext, self.next_match_),
            (QKeySequence.StandardKey.FindPrevious, self.previous_match),
            (QKeySequence(Qt.Key.Key_PageDown), self.next_page_),
            (QKeySequence(Qt.Key.Key_PageUp), self.previous_page),
        ):
            shortcut = QShortcut(keys, self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(action)
        self._update_controls()

    def _button(self, text: str, tip: str, slot: object) -> QToolButton:
        button = QToolButton(self)
        button.setText(text)
        button.setToolTip(tip)
        button.setAutoRaise(True)
        button.clicked.connect(slot)
        return button

    # -- what tests and the window read ------------------------------------------------------

    @property
    def highlight_rects(self) -> list[Rect]:
        return self.pages.highlight_rects if self.stack.currentWidget() is self.pages else []

    @property
    def settled(self) -> bool:
        """No render is in flight or about to start: the pane shows its final picture."""
        return not self.tasks.lane_busy("preview") and not self._refit.isActive()

    @property
    def text_highlight(self) -> tuple[int, int] | None:
        return self.text.span if self.stack.currentWidget() is self.text else None

    # -- showing ---------------------------------------------------------------------------

    def show_target(self, target: PreviewTarget) -> None:
        if target == self.target and not self.error:
            return
        previous = self.target
        self.target = target
        self.error = ""
        self.title.setText(Path(target.path).name)
        self.title.setToolTip(target.path)
        if is_paged(target.path):
            self.text.clear_page()
            if previous is None or (previous.path, previous.words) != (target.path, target.words):
                self._find_match_pages(target)
            self._render(target.page or 1, scroll="passage")
        else:
            self._load_text(target)

    def clear(self) -> None:
        self.target = None
        self.tasks.run(lambda ctx: None, lane="preview")  # drops any render in flight
        self.pages.clear()
        self.text.clear_page()
        self.title.clear()
        self.message.setText("Select a result to see it here, with the passage highlighted.")
        self.stack.setCurrentWidget(self.message)
        self._update_controls()

    def _render(self, page: int, scroll: str) -> None:
        target = self.target
        if target is None:
            return
        self._scroll_after_render = scroll
        span = (target.start, target.end) if page == (target.page or 1) else None
        path, words, zoom = Path(target.path), target.words, self._zoom
        fit_width, ratio = self.pages.fit_width(), self.devicePixelRatioF()
        self.tasks.run(
            lambda ctx: render_page(path, page, zoom, fit_width, ratio, span, words, ctx.cancel),
            success=self._on_rendered,
            failure=self._on_failed,
            lane="preview",
            pool=Pool.DOCUMENTS,
        )

    def _on_rendered(self, rendered: RenderedPage) -> None:
        if self.target is None or rendered.path != self.target.path:
            return
        self.current_page, self.page_count = rendered.page, rendered.page_count
        self.pages.show_page(rendered, self.devicePixelRatioF())
        self.stack.setCurrentWidget(self.pages)
        if self._zoom is None and abs(self.pages.shown_width - self.pages.fit_width()) > 4:
            self._refit.start()  # the layout settled after this render was asked for
        if self._scroll_after_render == "passage" and rendered.highlight_pixels:
            self.pages.scroll_to(rendered.highlight_pixels[0])
        elif self._scroll_after_render == "first-match" and rendered.match_pixels:
            self._match_index = 0
            self.pages.scroll_to(rendered.match_pixels[0])
        elif self._scroll_after_render == "last-match" and rendered.match_pixels:
            self._match_index = len(rendered.match_pixels) - 1
            self.pages.scroll_to(rendered.match_pixels[-1])
        elif self._scroll_after_render != "keep":
            self.pages.scroll_to_top()
        if self._scroll_after_render in ("passage", "top"):
            self._match_index = -1
        self._update_controls()
        self.shown.emit(rendered.path, rendered.page)

    def _find_match_pages(self, target: PreviewTarget) -> None:
        self._match_pages = []
        path, words = Path(target.path), target.words
        self.tasks.run(
            lambda ctx: pages_with_words(path, words, ctx.cancel),
            success=self._on_match_pages,
            lane="preview-matches",
            pool=Pool.DOCUMENTS,
        )

    def _on_match_pages(self, pages: list[int]) -> None:
        self._match_pages = pages
        self._update_controls()

    def _load_text(self, target: PreviewTarget) -> None:
        path, page_number, words = Path(target.path), target.page, target.words
        self.tasks.run(
            lambda ctx: load_text_page(path, page_number, words, ctx.cancel),
            success=self._on_text,
            failure=self._on_failed,
            lane="preview",
        )  # fmt: skip

    def _on_text(self, page: TextPage) -> None:
        target = self.target
        if target is None or page.path != target.path:
            return
        self.current_page, self.page_count = 0, 0
        self.text.show_page(page, (target.start, target.end))
        self.stack.setCurrentWidget(self.text)
        self._update_controls()
        self.shown.emit(page.path, 0)

    def _on_failed(self, error: BaseException) -> None:
        name = Path(self.target.path).name if self.target else "this file"
        self.error = str(error)
        self.message.setText(
            f"Could not show {name}: {error}.\n\nIt may have been moved, changed or deleted "
            "since it was indexed; the index catches up on its next scan. “Open” tries the "
            "file's usual app."
        )
        self.stack.setCurrentWidget(self.message)
        self._update_controls()

    # -- navigation ------------------------------------------------------------------------

    def next_page_(self) -> None:
        if self._paged and self.current_page < self.page_count:
            self._render(self.current_page + 1, scroll="top")

    def previous_page(self) -> None:
        if self._paged and self.current_page > 1:
            self._render(self.current_page - 1, scroll="top")

    def next_match_(self) -> None:
        self._step_match(+1)

    def previous_match(self) -> None:
        self._step_match(-1)

    def _step_match(self, step: int) -> None:
        if self.stack.currentWidget() is self.text:
            self.text.step_match(step)
            return
        rendered = self.pages.rendered
        if not self._paged or rendered is None:
            return
        index = self._match_index + step
        if 0 <= index < len(rendered.match_pixels):
            self._match_index = index
            self.pages.scroll_to(rendered.match_pixels[index])
            return
        later = [p for p in self._match_pages if p > self.current_page]
        earlier = [p for p in self._match_pages if p < self.current_page]
        if step > 0 and later:
            self._render(later[0], scroll="first-match")
        elif step < 0 and earlier:
            self._render(earlier[-1], scroll="last-match")

    def _zoom_by(self, factor: float) -> None:
        rendered = self.pages.rendered
        if not self._paged or rendered is None:
            return
        # Steps build on the zoom last asked for, so quick clicks add up before a render lands.
        current = self._zoom
        if current is None:
            current = rendered.points_to_pixels / self.devicePixelRatioF()
            current *= POINTS_PER_INCH / SCREEN_DPI
        self._zoom = min(max(current * factor, ZOOM_RANGE[0]), ZOOM_RANGE[1])
        self._render(self.current_page, scroll="keep")

    def _fit(self) -> None:
        self._zoom = None
        if self._paged:
            self._render(self.current_page, scroll="keep")

    def _rerender(self) -> None:
        if self._paged and self._zoom is None and self.pages.rendered is not None:
            self._render(self.current_page, scroll="keep")

    def event(self, event: QEvent) -> bool:
        # Moved to a screen with another scale: draw the page again, crisp at the new ratio.
        if event.type() == QEvent.Type.DevicePixelRatioChange and self.pages.rendered:
            self._render(self.current_page, scroll="keep")
        return super().event(event)

    @property
    def _paged(self) -> bool:
        return self.target is not None and is_paged(self.target.path) and not self.error

    def _update_controls(self) -> None:
        paged = self._paged and self.page_count > 0
        for widget in (self.prev_page, self.next_page, self.page_label, self.zoom_in,
                       self.zoom_out, self.fit):  # fmt: skip
            widget.setVisible(paged)
        self.page_label.setText(f"{self.current_page} / {self.page_count}" if paged else "")
        self.prev_page.setEnabled(paged and self.current_page > 1)
        self.next_page.setEnabled(paged and self.current_page < self.page_count)
        has_matches = bool(self._match_pages) if paged else bool(self.text.matches)
        for widget in (self.prev_match, self.next_match):
            widget.setVisible(self.target is not None)
            widget.setEnabled(has_matches and not self.error)
        for widget in (self.open_button, self.reveal_button):
            widget.setVisible(self.target is not None)

    # -- leaving the app -------------------------------------------------------------------

    def open_file(self) -> None:
        """Open in the usual app; a PDF at the page on screen when its viewer takes a page."""
        if self.target is None:
            return
        path = self.target.path
        # The page-aware command is the default PDF viewer's: other paged formats (DOCX,
        # EPUB, MOBI, XPS...) open in their own apps, which take no page.
        if not path.lower().endswith(".pdf") or not sys.platform.startswith("linux"):
            QDesktopServices.openUrl(QUrl.fromLocalFile(path))
            return
        page = self.current_page or 1
        self.tasks.run(
            lambda ctx: open_at_page.command_for(path, page),
            success=partial(self._launch, path),
            failure=lambda _error: self._launch(path, None),
        )

    def _launch(self, path: str, command: list[str] | None) -> None:
        if command is None or not QProcess.startDetached(command[0], command[1:]):
            QDesktopServices.openUrl(QUrl.fromLocalFile(path))

    def reveal(self) -> None:
        if self.target is None:
            return
        path = self.target.path
        # Only Windows and macOS can select the file; elsewhere the folder opens.
        if sys.platform == "win32":
            QProcess.startDetached("explorer", ["/select,", str(Path(path))])
        elif sys.platform == "darwin":
            QProcess.startDetached("open", ["-R", path])
        else:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(path).parent)))

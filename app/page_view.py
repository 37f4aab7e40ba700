"""One rendered page with the passage marked, in a scroll area.

The page arrives as pixels rendered off the GUI thread at the screen's device pixel ratio;
here the highlights are painted on (multiplied, like a marker pen, so the print stays black)
and the result is shown crisp on high-DPI screens.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPalette, QPixmap, QResizeEvent
from PySide6.QtWidgets import QLabel, QScrollArea, QStyle, QWidget

from app import theme
from core.extract.pdf_layout import Rect
from core.extract.render import RenderedPage

MARK_PADDING_PX = 1.5  # in device pixels: a marker stroke is a little taller than the glyphs
SCROLL_MARGIN = 80
FIT_MARGIN = 12  # logical pixels of background around a page fitted to the width
MIN_FIT_WIDTH = 200


def compose_page(rendered: RenderedPage) -> QImage:
    """The page picture with the passage washed in yellow and the query words marked."""
    image = QImage(
        rendered.samples, rendered.width, rendered.height, rendered.stride,
        QImage.Format.Format_RGB888,
    ).copy()  # fmt: skip
    painter = QPainter(image)
    painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Multiply)
    _fill(painter, rendered.highlight_pixels, theme.PAGE_PASSAGE)
    _fill(painter, rendered.match_pixels, theme.PAGE_WORD)
    painter.end()
    return image


def _fill(painter: QPainter, rects: list[Rect], color: QColor) -> None:
    pad = MARK_PADDING_PX
    for x0, y0, x1, y1 in rects:
        painter.fillRect(QRectF(x0 - pad, y0 - pad, x1 - x0 + 2 * pad, y1 - y0 + 2 * pad), color)


class PageView(QScrollArea):
    resized = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.setWidgetResizable(False)
        self.setBackgroundRole(QPalette.ColorRole.Dark)  # pages stand out in both themes
        self._label = QLabel()
        self._label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWidget(self._label)
        self.rendered: RenderedPage | None = None
        #: The picture as shown, highlights included (tests look at its pixels).
        self.page_image: QImage | None = None
        self._device_pixel_ratio = 1.0

    @property
    def highlight_rects(self) -> list[Rect]:
        """The passage rectangles on the shown page, in page coordinates."""
        return list(self.rendered.highlight_quads) if self.rendered else []

    def fit_width(self) -> float:
        """The width in logical pixels a page gets when it fits the view. Room for the
        vertical scrollbar is always kept, so fitting never depends on whether it shows."""
        scrollbar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        inside = self.width() - 2 * self.frameWidth() - scrollbar - FIT_MARGIN
        return float(max(MIN_FIT_WIDTH, inside))

    @property
    def shown_width(self) -> int:
        """The logical width of the page as drawn now (0 when nothing is shown)."""
        return self._label.width() if self.rendered else 0

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self.resized.emit()

    def show_page(self, rendered: RenderedPage, device_pixel_ratio: float) -> None:
        self.rendered = rendered
        self._device_pixel_ratio = device_pixel_ratio
        self.page_image = compose_page(rendered)
        pixmap = QPixmap.fromImage(self.page_image)
        pixmap.setDevicePixelRatio(device_pixel_ratio)
        self._label.setPixmap(pixmap)
        self._label.resize(pixmap.deviceIndependentSize().toSize())

    def clear(self) -> None:
        self.rendered = None
        self.page_image = None
        self._label.clear()

    def scroll_to(self, rect: Rect) -> None:
        """Bring a rectangle (in image pixels) into view, with some context around it."""
        ratio = self._device_pixel_ratio
        x = int((rect[0] + rect[2]) / 2 / ratio)
        y = int((rect[1] + rect[3]) / 2 / ratio)
        self.ensureVisible(x, y, SCROLL_MARGIN, SCROLL_MARGIN * 2)

    def scroll_to_top(self) -> None:
        self.verticalScrollBar().setValue(0)

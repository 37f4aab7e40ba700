"""Search results: a list model of hits and a delegate that paints each row.

Rows are painted, not built from widgets, and all have the same height, so a list of
thousands scrolls as fast as a list of ten.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import (
    QAbstractListModel,
    QDateTime,
    QEvent,
    QFileInfo,
    QLocale,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPointF,
    QRect,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QFont,
    QFontMetrics,
    QIcon,
    QKeyEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QTextCharFormat,
    QTextLayout,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileIconProvider,
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from app import theme
from core.types import Hit

HIT_ROLE = Qt.ItemDataRole.UserRole + 1
PADDING = 8
ICON_SIZE = 32
SNIPPET_LINES = 2

DATE_FORMAT = "d MMM yyyy"  # unambiguous in every locale, unlike 03/04/2024

Index = QModelIndex | QPersistentModelIndex


def compact_snippet(text: str, matches: list[tuple[int, int]]) -> tuple[str, list[tuple[int, int]]]:
    """One line of text: each run of whitespace (newlines, indentation) becomes one space,
    with the match offsets moved to follow.

    >>> compact_snippet("a\\n\\n  bc", [(5, 7)])
    ('a bc', [(2, 4)])
    """
    out: list[str] = []
    new_offset: list[int] = []  # for every index of ``text`` (and its end), the index in out
    for ch in text:
        new_offset.append(len(out))
        if not ch.isspace():
            out.append(ch)
        elif not out or out[-1] != " ":
            out.append(" ")
    new_offset.append(len(out))
    moved = [(new_offset[s], new_offset[e]) for s, e in matches if 0 <= s < e <= len(text)]
    return "".join(out), moved


class ResultsModel(QAbstractListModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.hits: list[Hit] = []

    def set_hits(self, hits: list[Hit]) -> None:
        self.beginResetModel()
        self.hits = list(hits)
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self.hits)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid() or not 0 <= index.row() < len(self.hits):
            return None
        hit = self.hits[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return Path(hit.path).name
        if role == Qt.ItemDataRole.ToolTipRole:
            return hit.path
        if role == HIT_ROLE:
            return hit
        return None

    def hit(self, row: int) -> Hit | None:
        return self.hits[row] if 0 <= row < len(self.hits) else None

    def row_of(self, path: str) -> int:
        return next((i for i, h in enumerate(self.hits) if h.path == path), -1)


class ResultDelegate(QStyledItemDelegate):
    """Paints: file icon | name (bold) · page · date / folder / snippet with matches marked."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._icons = QFileIconProvider()
        self._icon_cache: dict[str, QIcon] = {}
        self._locale = QLocale()

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        metrics = QFontMetrics(option.font)
        height = PADDING * 2 + metrics.height() * (2 + SNIPPET_LINES) + 4
        return QSize(200, height)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        hit = index.data(HIT_ROLE)
        if not isinstance(hit, Hit):
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        style = opt.widget.style() if opt.widget else None
        if style is not None:  # selection and hover backgrounds, as the platform draws them
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        palette: QPalette = opt.palette
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        text_role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        text_color = palette.color(text_role)
        dim = text_color if selected else theme.dim_text(palette)
        rect: QRect = opt.rect
        font = QFont(opt.font)
        metrics = QFontMetrics(font)
        line = metrics.height()

        painter.save()
        icon_rect = QRect(rect.left() + PADDING, rect.top() + PADDING, ICON_SIZE, ICON_SIZE)
        self._icon_for(hit.path).paint(painter, icon_rect)
        # The type in words too: icon themes are often missing or all alike.
        badge = QFont(font)
        badge.setPointSizeF(max(6.0, font.pointSizeF() * 0.75))
        painter.setFont(badge)
        painter.setPen(dim)
        painter.drawText(
            QRect(icon_rect.left() - 4, icon_rect.bottom() + 2, ICON_SIZE + 8, line),
            int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop),
            Path(hit.path).suffix.lstrip(".").upper()[:4],
        )
        left = icon_rect.right() + PADDING + 2
        width = rect.right() - PADDING - left
        y = rect.top() + PADDING

        meta = self._meta_text(hit)
        meta_width = metrics.horizontalAdvance(meta)
        painter.setPen(dim)
        painter.setFont(font)
        painter.drawText(
            QRect(rect.right() - PADDING - meta_width, y, meta_width, line),
            int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
            meta,
        )
        bold = QFont(font)
        bold.setBold(True)
        painter.setFont(bold)
        painter.setPen(text_color)
        name_width = max(0, width - meta_width - PADDING)
        name = QFontMetrics(bold).elidedText(
            Path(hit.path).name, Qt.TextElideMode.ElideMiddle, name_width
        )
        painter.drawText(QRect(left, y, name_width, line), int(Qt.AlignmentFlag.AlignVCenter), name)

        y += line
        painter.setFont(font)
        painter.setPen(dim)
        folder = metrics.elidedText(str(Path(hit.path).parent), Qt.TextElideMode.ElideMiddle, width)
        painter.drawText(QRect(left, y, width, line), int(Qt.AlignmentFlag.AlignVCenter), folder)

        y += line + 4
        painter.setPen(text_color)
        painter.setClipRect(QRect(left, y, width, line * SNIPPET_LINES))
        self._snippet_layout(hit, font, palette, width).draw(painter, QPointF(left, y))
        painter.restore()

    def _meta_text(self, hit: Hit) -> str:
        parts = []
        if hit.location:
            parts.append(hit.location)
        elif hit.page is not None:
            parts.append(f"p. {hit.page}")
        if hit.mtime:
            date = QDateTime.fromSecsSinceEpoch(int(hit.mtime)).date()
            parts.append(self._locale.toString(date, DATE_FORMAT))
        return " · ".join(parts)

    def _snippet_layout(self, hit: Hit, font: QFont, palette: QPalette, width: int) -> QTextLayout:
        text, matches = compact_snippet(hit.snippet, hit.snippet_matches)
        layout = QTextLayout(text, font)
        marked = QTextCharFormat()
        marked.setBackground(theme.word_highlight(palette))
        marked.setForeground(palette.color(QPalette.ColorRole.Text))
        ranges = []
        for start, end in matches:
            fmt = QTextLayout.FormatRange()
            fmt.start, fmt.length, fmt.format = start, end - start, marked
            ranges.append(fmt)
        layout.setFormats(ranges)
        layout.beginLayout()
        y = 0.0
        for _ in range(SNIPPET_LINES):
            text_line = layout.createLine()
            if not text_line.isValid():
                break
            text_line.setLineWidth(width)
            text_line.setPosition(QPointF(0, y))
            y += text_line.height()
        layout.endLayout()
        return layout

    def _icon_for(self, path: str) -> QIcon:
        # Icons depend on the type only; asking the provider per row would touch the disk.
        suffix = Path(path).suffix.lower()
        icon = self._icon_cache.get(suffix)
        if icon is None:
            icon = self._icons.icon(QFileInfo(path))
            if icon.isNull():
                icon = self._icons.icon(QFileIconProvider.IconType.File)
            self._icon_cache[suffix] = icon
        return icon


class ResultsView(QListView):
    """The results list. Up on the first row hands focus back to the query box; Enter opens
    the preview; with nothing to show it paints a hint instead of an empty white box."""

    leave_top = Signal()
    activated_row = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setUniformItemSizes(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setItemDelegate(ResultDelegate(self))
        self.placeholder = ""

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key == Qt.Key.Key_Escape or (key == Qt.Key.Key_Up and self.currentIndex().row() <= 0):
            self.leave_top.emit()
            return
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self.activated_row.emit(self.currentIndex().row())
            return
        super().keyPressEvent(event)

    def set_placeholder(self, text: str) -> None:
        self.placeholder = text
        self.viewport().update()

    def paintEvent(self, event: QPaintEvent) -> None:
        super().paintEvent(event)
        model = self.model()
        if self.placeholder and (model is None or model.rowCount() == 0):
            painter = QPainter(self.viewport())
            painter.setPen(theme.dim_text(self.palette()))
            area = self.viewport().rect().adjusted(24, 24, -24, -24)
            painter.drawText(
                area,
                int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
                | int(Qt.TextFlag.TextWordWrap),
                self.placeholder,
            )

    def event(self, event: QEvent) -> bool:
        # Palette changes (light/dark switch) must repaint the painted rows.
        if event.type() == QEvent.Type.PaletteChange:
            self.viewport().update()
        return super().event(event)

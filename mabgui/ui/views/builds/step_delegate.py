"""Step names shown in full: the Step column wraps its text and the row grows to fit.

Steps of one Dockerfile often differ only at their end (``RUN echo "a…"`` twice), so cutting
them at the lane's edge makes them look alike. The delegate wraps at word boundaries (or
anywhere inside a long word: paths, references) up to :data:`MAX_LINES` lines; a name longer
still keeps its first and its last lines, with "…" in between, and sha256 digests show their
first 12 digits (the tooltip has all of it).

Wrapped lines are cached per (text, width): the lanes repaint every frame while a build runs,
and the view asks each changed row's height again.
"""

from __future__ import annotations

import re

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPointF, QRect, QSize, Qt
from PySide6.QtGui import QFont, QFontMetrics, QPainter, QPalette, QTextLayout, QTextOption
from PySide6.QtWidgets import (
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeView,
    QWidget,
)

_Index = QModelIndex | QPersistentModelIndex

MAX_LINES = 4  # beyond this a name keeps its start and its end, "…" in between
_DIGEST = re.compile(r"(sha256:[0-9a-f]{12})[0-9a-f]{52}")
_CACHE_LIMIT = 4000
_PAD = 2  # vertical padding inside a row, each side


def shown_name(text: str) -> str:
    """``text`` with each sha256 digest cut to its first 12 hex digits (``docker images``
    does the same): 64 hex digits would fill the lines a step has, and say nothing."""
    return _DIGEST.sub(r"\1…", text)


def wrap(text: str, font: QFont, width: int, max_lines: int = MAX_LINES) -> tuple[str, ...]:
    """``text`` broken into lines no wider than ``width`` pixels (at most ``max_lines``).

    A longer text keeps its first lines and, behind "…", as many of its last lines: steps of
    one Dockerfile differ at their end as often as at their start."""
    if width <= 0 or not text:
        return (text,)
    lines = _layout(text, font, width)
    if len(lines) <= max_lines:
        return lines
    head = lines[: max_lines // 2]
    room = max_lines - len(head)
    offset = len(text) - sum(len(line) for line in lines[-room:])
    while True:
        tail = _layout("…" + text[offset:].lstrip(), font, width)
        if len(tail) <= room or offset >= len(text) - 1:
            break
        offset += max(1, len(tail[0]) - 1)  # drop what spilled over, from the front
    return (*(line.rstrip() for line in head), *(line.rstrip() for line in tail[:room]))


def _layout(text: str, font: QFont, width: int) -> tuple[str, ...]:
    """The lines QTextLayout makes of ``text`` (exact slices: joined they give ``text``)."""
    layout = QTextLayout(text, font)
    option = QTextOption()
    option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
    layout.setTextOption(option)
    layout.beginLayout()
    lines: list[str] = []
    while True:
        line = layout.createLine()
        if not line.isValid():
            break
        line.setLineWidth(width)
        start = line.textStart()
        lines.append(text[start : start + line.textLength()])
    layout.endLayout()
    return tuple(lines) or (text,)


class WrappedStepDelegate(QStyledItemDelegate):
    """Paints one column's text wrapped over as many lines as it needs (rows grow)."""

    def __init__(self, view: QTreeView, column: int) -> None:
        super().__init__(view)
        self._view = view
        self._column = column
        self._cache: dict[tuple[str, int], tuple[str, ...]] = {}
        self._rooms: dict[int, int] = {}  # cell width -> text width
        self._row_height: int | None = None  # a one-line row's height

    def lines(self, index: _Index) -> tuple[str, ...]:
        """The lines ``index``'s text is shown as, at the column's current width."""
        text = index.data(Qt.ItemDataRole.DisplayRole)
        width = self._text_width(self._view.header().sectionSize(self._column), index)
        return self._wrapped(text if isinstance(text, str) else "", width)

    def _option(self, index: _Index, width: int) -> QStyleOptionViewItem:
        option = QStyleOptionViewItem()
        self._view.initViewItemOption(option)  # the view's icon size: the text's room
        option.rect = QRect(0, 0, width, 10_000)
        self.initStyleOption(option, index)
        return option

    def _text_rect(self, option: QStyleOptionViewItem) -> QRect:
        style = self._style(option)
        return style.subElementRect(
            QStyle.SubElement.SE_ItemViewItemText, option, option.widget or self._view
        )

    def _text_width(self, width: int, index: _Index) -> int:
        """The room for text in a cell ``width`` wide (the icon and margins taken off); asked
        of the style once per width, since every step has an icon."""
        room = self._rooms.get(width)
        if room is None:
            room = self._text_rect(self._option(index, width)).width() - 2  # text margin
            self._rooms[width] = room
        return room

    def _wrapped(self, text: str, width: int) -> tuple[str, ...]:
        key = (text, width)
        lines = self._cache.get(key)
        if lines is None:
            if len(self._cache) > _CACHE_LIMIT:
                self._cache.clear()
                self._rooms.clear()
            lines = wrap(shown_name(text), self._view.font(), width)
            self._cache[key] = lines
        return lines

    def _style(self, option: QStyleOptionViewItem) -> QStyle:
        widget: QWidget | None = option.widget or self._view
        return widget.style() if widget is not None else self._view.style()

    def sizeHint(self, option: QStyleOptionViewItem, index: _Index) -> QSize:
        """Cheap: the view asks again for every row that changes, once per frame."""
        if index.column() != self._column:
            return super().sizeHint(option, index)
        if self._row_height is None:
            self._row_height = super().sizeHint(option, index).height()
        count = len(self.lines(index))
        if count == 1:
            return QSize(0, self._row_height)
        height = count * QFontMetrics(self._view.font()).lineSpacing() + 2 * _PAD
        return QSize(0, max(self._row_height, height))

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: _Index) -> None:
        if index.column() != self._column:
            super().paint(painter, option, index)
            return
        item = QStyleOptionViewItem(option)
        self.initStyleOption(item, index)
        style = self._style(item)
        text_rect = self._text_rect(item)
        lines = self._wrapped(item.text, text_rect.width() - 2)
        item.text = ""  # background, selection, icon and focus as usual; the text below
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, item, painter, item.widget)
        selected = bool(item.state & QStyle.StateFlag.State_Selected)
        group = (
            QPalette.ColorGroup.Normal
            if item.state & QStyle.StateFlag.State_Enabled
            else QPalette.ColorGroup.Disabled
        )
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        metrics = QFontMetrics(item.font)
        spacing = metrics.lineSpacing()
        top = text_rect.top() + max(0, (text_rect.height() - spacing * len(lines)) // 2)
        painter.save()
        painter.setFont(item.font)
        painter.setPen(item.palette.color(group, role))
        painter.setClipRect(text_rect)
        x = text_rect.left() + 1
        for number, line in enumerate(lines):
            painter.drawText(QPointF(x, top + number * spacing + metrics.ascent()), line)
        painter.restore()

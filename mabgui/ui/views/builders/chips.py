"""Platforms drawn as chips: native, emulated (QEMU), not known yet, and emulatable-but-unlisted."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen
from PySide6.QtWidgets import (
    QApplication,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeView,
)

from mabgui.core.overview import Chip

# kind -> (fill, border, text)
CHIP_COLORS = {
    "native": ("#e6f0ff", "#3b6fd8", "#1a365d"),
    "emulated": ("#fff4e0", "#d9822b", "#7b341e"),
    "unknown": ("#f7fafc", "#a0aec0", "#2d3748"),
    "unlisted": ("#ffffff", "#a0aec0", "#718096"),
}
EMULATED_MARK = "⚙"
_PAD_X = 6
_GAP = 4
_MARGIN_Y = 3


def chip_label(chip: Chip) -> str:
    """``linux/arm64`` → ``arm64``; emulated ones get a gear, unlisted ones a plus."""
    p = chip.platform
    text = "/".join(x for x in (p.architecture, p.variant) if x)
    if p.os != "linux":
        text = f"{p.os}/{text}"
    if chip.kind == "emulated":
        text = f"{EMULATED_MARK} {text}"
    elif chip.kind == "unlisted":
        text = f"+{text}"
    return text


def grouped(chips: list[Chip]) -> list[tuple[str, Chip]]:
    """Chips with their labels; amd64 micro-architecture levels fold into ``amd64 (+3)``."""
    out: list[tuple[str, Chip]] = []
    levels: dict[int, int] = {}  # index in out -> folded levels
    for chip in chips:
        p = chip.platform
        if p.architecture == "amd64" and p.variant:
            base = next(
                (i for i, (_, c) in enumerate(out)
                 if c.platform == p.family and c.kind == chip.kind),
                None,
            )  # fmt: skip
            if base is not None:
                levels[base] = levels.get(base, 0) + 1
                continue
        out.append((chip_label(chip), chip))
    return [
        (f"{label} (+{levels[i]})" if i in levels else label, c) for i, (label, c) in enumerate(out)
    ]


def legend_html() -> str:
    def swatch(kind: str, label: str) -> str:
        fill, border, color = CHIP_COLORS[kind]
        style = "dashed" if kind == "unlisted" else "solid"
        return (
            f"<span style='background:{fill}; color:{color}; border:1px {style} {border};'>"
            f"&nbsp;{label}&nbsp;</span>"
        )

    return (
        f"{swatch('native', 'amd64')} native &nbsp; "
        f"{swatch('emulated', EMULATED_MARK + ' arm64')} emulated with QEMU (slower) &nbsp; "
        f"{swatch('unknown', 'arm64')} native or emulated not known yet &nbsp; "
        f"{swatch('unlisted', '+arm/v7')} emulator registered but not listed by the node &nbsp; "
        "<b>bold</b>: pinned with --platform"
    )


class ChipsDelegate(QStyledItemDelegate):
    """Paints the chips of an index (``BuildersModel.chips``) as a row of rounded chips.

    It reads the model through its Python methods and draws the item panel itself: with
    PySide6 6.12, ``index.data()`` and ``initStyleOption()`` called from Python leak a
    reference to ``None`` for every role the model does not set, which in a long session
    crashes the interpreter ("deallocating None").
    """

    def _chips(self, index: QModelIndex | QPersistentModelIndex) -> list[Chip]:
        model = index.model()
        chips = getattr(model, "chips", None)
        return list(chips(index)) if chips is not None else []

    def _font(self, option: QStyleOptionViewItem, chip: Chip) -> QFont:
        font = QFont(option.font)
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.9))
        font.setBold(chip.pinned)
        return font

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        chips = self._chips(index)
        opt = QStyleOptionViewItem(option)
        widget = opt.widget
        style = widget.style() if widget is not None else QApplication.style()
        model = index.model()
        background = getattr(model, "background", None)
        brush = background(index) if background is not None else None
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        if brush is not None and not selected:
            painter.fillRect(opt.rect, brush)
        style.drawPrimitive(QStyle.PrimitiveElement.PE_PanelItemViewItem, opt, painter, widget)
        rect: QRect = opt.rect
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        for box, label, chip in self._boxes(opt, chips, rect.width()):
            box.translate(rect.left(), rect.top())
            fill, border, color = CHIP_COLORS[chip.kind]
            pen = QPen(QColor(border))
            if chip.kind == "unlisted":
                pen.setStyle(Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.setBrush(QColor(fill))
            painter.drawRoundedRect(box, 7, 7)
            painter.setFont(self._font(opt, chip))
            painter.setPen(QColor(color))
            painter.drawText(box, int(Qt.AlignmentFlag.AlignCenter), label)
        painter.restore()

    def _boxes(
        self, option: QStyleOptionViewItem, chips: list[Chip], width: int
    ) -> list[tuple[QRect, str, Chip]]:
        """Where each chip goes in a cell ``width`` wide: chips wrap onto further lines (the
        row grows), so every platform stays visible."""
        boxes = []
        x, y = 2, _MARGIN_Y
        for label, chip in grouped(chips):
            metrics = QFontMetrics(self._font(option, chip))
            chip_width = metrics.horizontalAdvance(label) + 2 * _PAD_X
            line_height = metrics.height() + 4
            if x > 2 and x + chip_width > width - 2:
                x = 2
                y += line_height + _MARGIN_Y
            boxes.append((QRect(x, y, chip_width, line_height), label, chip))
            x += chip_width + _GAP
        return boxes

    def _column_width(self, index: QModelIndex | QPersistentModelIndex) -> int:
        view = self.parent()
        if isinstance(view, QTreeView):
            return view.header().sectionSize(index.column())
        return 0

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        chips = self._chips(index)
        width = 4
        for label, chip in grouped(chips):
            width += QFontMetrics(self._font(option, chip)).horizontalAdvance(label)
            width += 2 * _PAD_X + _GAP
        height = QFontMetrics(option.font).height() + 6
        column = self._column_width(index)
        boxes = self._boxes(option, chips, column if column > 0 else width)
        if boxes:
            height = max(height, max(box.bottom() for box, _l, _c in boxes) + _MARGIN_Y + 2)
        return QSize(max(width, 60), height)

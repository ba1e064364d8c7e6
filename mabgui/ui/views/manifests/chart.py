"""Size per platform as horizontal bars: layers shared with other platforms, then its own.

Painted with QPainter (no plotting library to import when the area opens): one row per
platform, each labelled with the platform and its size in a unit that fits the data (B, KB, MB,
GB); many platforms scroll vertically instead of squeezing their labels together. A new tree
(or none, after a failed look-up) replaces everything: nothing of the previous image stays.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QFrame, QScrollArea, QSizePolicy, QWidget

from mabgui.core.registry.manifest import ManifestTree

OWN_COLOR = "#3182ce"
SHARED_COLOR = "#90cdf4"
UNITS = (("B", 1.0), ("KB", 1e3), ("MB", 1e6), ("GB", 1e9))
ROW_HEIGHT = 24
LEGEND_HEIGHT = 24


def pick_unit(largest: float) -> tuple[str, float]:
    """The largest unit in which ``largest`` bytes reads as at least 1 (B for 0)."""
    chosen = UNITS[0]
    for unit in UNITS:
        if largest >= unit[1]:
            chosen = unit
    return chosen


def format_size(size: float, unit: tuple[str, float]) -> str:
    name, factor = unit
    value = size / factor
    if name == "B":
        return f"{int(value)} B"
    return f"{value:.1f} {name}" if value < 100 else f"{value:.0f} {name}"


class _Bars(QWidget):
    def __init__(self, chart: SizeChart) -> None:
        super().__init__()
        self._chart = chart
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        rows = len(self._chart.values)
        return QSize(300, LEGEND_HEIGHT + max(1, rows) * ROW_HEIGHT + 6)

    def minimumSizeHint(self) -> QSize:
        return QSize(200, self.sizeHint().height())

    def paintEvent(self, _event: QPaintEvent) -> None:
        chart = self._chart
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#ffffff"))
        metrics = self.fontMetrics()
        if not chart.values:
            painter.setPen(QColor("#718096"))
            painter.drawText(self.rect(), int(Qt.AlignmentFlag.AlignCenter), chart.empty_text)
            painter.end()
            return
        unit = chart.unit
        label_width = max(metrics.horizontalAdvance(v[0]) for v in chart.values) + 12
        label_width = min(label_width, self.width() // 3)
        value_width = metrics.horizontalAdvance("999.9 MB (999.9 MB own)") + 12
        bar_space = max(20, self.width() - label_width - value_width - 8)
        largest = max(shared + own for _, shared, own in chart.values) or 1.0
        # legend
        x = 8
        for color, text in ((SHARED_COLOR, "shared layers"), (OWN_COLOR, "own layers")):
            painter.fillRect(QRect(x, 7, 12, 10), QColor(color))
            painter.setPen(QColor("#2d3748"))
            painter.drawText(x + 16, 4, 200, 16, int(Qt.AlignmentFlag.AlignVCenter), text)
            x += 16 + metrics.horizontalAdvance(text) + 16
        painter.setPen(QColor("#718096"))
        painter.drawText(
            QRect(x, 4, max(0, self.width() - x - 8), 16),
            int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
            metrics.elidedText(
                f"compressed sizes in {unit[0]}", Qt.TextElideMode.ElideRight, self.width() - x - 8
            ),
        )
        for row, (label, shared, own) in enumerate(chart.values):
            top = LEGEND_HEIGHT + row * ROW_HEIGHT
            painter.setPen(QColor("#2d3748"))
            shown = metrics.elidedText(label, Qt.TextElideMode.ElideMiddle, label_width - 8)
            painter.drawText(
                QRect(4, top, label_width - 8, ROW_HEIGHT),
                int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight),
                shown,
            )
            shared_w = round(bar_space * shared / largest)
            own_w = round(bar_space * own / largest)
            bar_top = top + 5
            bar_h = ROW_HEIGHT - 10
            painter.fillRect(QRect(label_width, bar_top, shared_w, bar_h), QColor(SHARED_COLOR))
            painter.fillRect(
                QRect(label_width + shared_w, bar_top, own_w, bar_h), QColor(OWN_COLOR)
            )
            painter.setPen(QColor("#2d3748"))
            painter.drawText(
                QRect(label_width + shared_w + own_w + 6, top, value_width, ROW_HEIGHT),
                int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft),
                chart.bar_text(row),
            )
        painter.end()


class SizeChart(QScrollArea):
    """One labelled horizontal bar per platform; ``values`` holds (platform, shared, own) bytes."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.values: list[tuple[str, float, float]] = []
        self.unit: tuple[str, float] = UNITS[0]
        self.empty_text = "Inspect a multi-platform image to compare its sizes per platform."
        self.bars = _Bars(self)
        self.setWidget(self.bars)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def set_tree(self, tree: ManifestTree | None) -> None:
        """Show ``tree``'s platforms; None (a failed look-up) leaves an empty chart."""
        self.values = []
        if tree is not None:
            shared = tree.shared_layers()
            for m in tree.platform_manifests():
                if m.error:
                    continue
                shared_bytes = sum(layer.size for layer in m.layers if layer.digest in shared)
                self.values.append(
                    (m.platform_label, float(shared_bytes), float(m.total_size - shared_bytes))
                )
        largest = max((s + o for _, s, o in self.values), default=0.0)
        self.unit = pick_unit(largest)
        self.bars.updateGeometry()
        self.bars.adjustSize()
        self.bars.update()

    def bar_text(self, row: int) -> str:
        """The label at the end of a bar: the total, and the platform's own part."""
        _label, shared, own = self.values[row]
        return f"{format_size(shared + own, self.unit)} ({format_size(own, self.unit)} own)"

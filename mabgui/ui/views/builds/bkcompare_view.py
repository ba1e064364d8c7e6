"""Two builds side by side: per platform and per step, duration and cache differences.

Platforms that got slower are shown first, in red; a step whose cache was lost says so.
"""

from __future__ import annotations

from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QDialog, QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from mabgui.core.build import bkcompare
from mabgui.core.build import bkhistory_parse as P
from mabgui.core.progress import BuildProgress
from mabgui.ui.views.builds.style import escape, format_duration

_SLOW = QColor("#c53030")
_FAST = QColor("#2f855a")


def _delta(value: float | None) -> str:
    return "" if value is None else f"{value:+.1f}s"


class CompareView(QWidget):
    """The comparison tree (platform → steps) and a one-line summary."""

    HEADERS = ("Platform / step", "A", "B", "Δ", "Cache")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(list(self.HEADERS))
        self.tree.setAlternatingRowColors(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.summary)
        layout.addWidget(self.tree, 1)
        self.comparison: bkcompare.Comparison | None = None

    def set_comparison(self, comparison: bkcompare.Comparison, a_name: str, b_name: str) -> None:
        self.comparison = comparison
        self.tree.clear()
        slower = comparison.slower
        text = f"A: {escape(a_name)} ({format_duration(comparison.a_s)}) → B: {escape(b_name)} "
        text += f"({format_duration(comparison.b_s)}). "
        text += (
            f"<b style='color:#c53030'>Slower: {escape(', '.join(slower))}</b>"
            if slower
            else "No platform got slower."
        )
        self.summary.setText(text)
        order = sorted(comparison.platforms, key=lambda p: (not p.slower, p.platform))
        for p in order:
            top = QTreeWidgetItem(
                [
                    p.platform,
                    format_duration(p.a_s),
                    format_duration(p.b_s),
                    _delta(p.delta_s),
                    f"{p.a_cached}→{p.b_cached} cached",
                ]
            )
            if p.slower:
                for col in range(len(self.HEADERS)):
                    top.setForeground(col, QBrush(_SLOW))
            for s in p.steps:
                child = QTreeWidgetItem(
                    [
                        s.label,
                        format_duration(s.a_s),
                        format_duration(s.b_s),
                        _delta(s.delta_s),
                        s.cache_change,
                    ]
                )
                d = s.delta_s
                if d is not None and abs(d) >= 0.1:
                    child.setForeground(3, QBrush(_SLOW if d > 0 else _FAST))
                if s.cache_change == "lost":
                    child.setForeground(4, QBrush(_SLOW))
                top.addChild(child)
            self.tree.addTopLevelItem(top)
            top.setExpanded(p.slower)
        for col in range(1, len(self.HEADERS)):
            self.tree.resizeColumnToContents(col)
        self.tree.setColumnWidth(0, 420)

    def platform_rows(self) -> list[str]:
        """The platforms in display order (slower first)."""
        items = (self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount()))
        return [item.text(0) for item in items if item is not None]


class CompareDialog(QDialog):
    def __init__(
        self,
        a: P.Record,
        b: P.Record,
        pa: BuildProgress,
        pb: BuildProgress,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Compare {a.name} builds")
        self.resize(820, 520)
        self.view = CompareView(self)
        layout = QVBoxLayout(self)
        layout.addWidget(self.view)
        if a.name != b.name:
            note = QLabel(f"Note: different names ({escape(a.name)} / {escape(b.name)})")
            layout.addWidget(note)
        self.view.set_comparison(bkcompare.compare(pa, pb), a.name, b.name)


class TrendChart(QWidget):
    """Duration per platform over the last builds of a name: one line per platform."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        import pyqtgraph as pg

        self.plot = pg.PlotWidget(background="w")
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        self.plot.setLabel("left", "seconds")
        self.plot.getAxis("left").enableAutoSIPrefix(False)
        self.plot.setLabel("bottom", "build (oldest → newest)")
        self.plot.showGrid(y=True, alpha=0.3)
        self.legend = self.plot.addLegend(offset=(10, 10))
        self.series: dict[str, list[float | None]] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)

    def set_points(self, points: list[bkcompare.TrendPoint]) -> None:
        import pyqtgraph as pg

        from mabgui.ui.views.builds.style import lane_color

        self.plot.clear()
        self.legend.clear()
        names: list[str] = []
        for point in points:
            names += [p for p in point.platforms if p not in names]
        self.series = {n: [pt.platforms.get(n) for pt in points] for n in names}
        for i, (name, values) in enumerate(self.series.items()):
            xs = [x for x, v in enumerate(values) if v is not None]
            ys = [v for v in values if v is not None]
            color = lane_color(i)
            self.plot.plot(xs, ys, pen=pg.mkPen(color, width=2), symbol="o",
                                  symbolBrush=color, symbolSize=6, name=name)  # fmt: skip
        axis = self.plot.getAxis("bottom")
        axis.setTicks([[(i, str(i + 1)) for i in range(len(points))]])
        top = max((v for vs in self.series.values() for v in vs if v is not None), default=1.0)
        self.plot.setYRange(0, top * 1.25, padding=0)  # from zero: slower is visibly higher


class TrendDialog(QDialog):
    def __init__(self, name: str, points: list[bkcompare.TrendPoint],
                 parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.setWindowTitle(f"Duration of the last {len(points)} builds of {name}")
        self.resize(720, 420)
        self.chart = TrendChart(self)
        layout = QVBoxLayout(self)
        layout.addWidget(self.chart)
        self.chart.set_points(points)

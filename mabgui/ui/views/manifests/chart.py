"""Size per platform as a bar chart: layers of its own, layers shared with other platforms."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtWidgets import QVBoxLayout, QWidget

from mabgui.core.registry.manifest import ManifestTree

OWN_COLOR = "#3182ce"
SHARED_COLOR = "#90cdf4"


class SizeChart(QWidget):
    """Stacked bars (MB): shared layers at the bottom, the platform's own bytes on top."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.setLabel("left", "MB")
        self.plot.showGrid(y=True, alpha=0.3)
        self.legend = self.plot.addLegend(offset=(-10, 10))
        self.bars: list[pg.BarGraphItem] = []
        self.values: list[tuple[str, float, float]] = []  # platform, shared MB, own MB
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)

    def set_tree(self, tree: ManifestTree | None) -> None:
        for item in self.bars:
            self.plot.removeItem(item)
        self.bars = []
        self.legend.clear()
        self.values = []
        if tree is None:
            return
        shared = tree.shared_layers()
        for m in tree.platform_manifests():
            if m.error:
                continue
            shared_bytes = sum(layer.size for layer in m.layers if layer.digest in shared)
            own = m.total_size - shared_bytes
            self.values.append((m.platform_label, shared_bytes / 1e6, own / 1e6))
        if not self.values:
            return
        xs = list(range(len(self.values)))
        shared_h = [v[1] for v in self.values]
        own_h = [v[2] for v in self.values]
        low = pg.BarGraphItem(x=xs, height=shared_h, width=0.6, brush=SHARED_COLOR, pen=None)
        high = pg.BarGraphItem(
            x=xs, y0=shared_h, height=own_h, width=0.6, brush=OWN_COLOR, pen=None
        )
        for item, name in ((low, "shared layers"), (high, "own")):
            self.plot.addItem(item)
            self.legend.addItem(item, name)
            self.bars.append(item)
        axis = self.plot.getAxis("bottom")
        labels = [v[0] for v in self.values]
        if all(label.startswith("linux/") for label in labels):  # keep the ticks short
            labels = [label.removeprefix("linux/") for label in labels]
        axis.setTicks([list(zip(xs, labels, strict=True))])
        top = max(s + o for _, s, o in self.values) or 1.0
        self.plot.setXRange(-0.6, len(xs) - 0.4, padding=0)
        self.plot.setYRange(0, top * 1.4, padding=0)  # room for the legend above the bars

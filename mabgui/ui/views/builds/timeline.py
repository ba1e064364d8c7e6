"""The build timeline (pyqtgraph): one row per platform, a bar per step, emulated rows marked.

x is seconds since the build started; a step that ran several times (retries) gets a bar per run.
Hovering a bar shows the platform, the step and its duration.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QBrush, QColor, QCursor, QGuiApplication, QPen
from PySide6.QtWidgets import QLabel, QToolTip, QVBoxLayout, QWidget

from mabgui.core.progress import BuildProgress, Step, StepState
from mabgui.ui.views.builds.style import (
    STATE_COLORS,
    STATE_TEXT,
    escape,
    format_duration,
    short_platform,
)

EMULATED_BAND = "#fefcbf"
BAR_HEIGHT = 0.64


@dataclass(frozen=True, slots=True)
class Bar:
    row: int
    x0: float
    x1: float
    step: Step
    running: bool


def _set_bars(
    item: pg.BarGraphItem,
    x0: list[float],
    x1: list[float],
    y: list[float],
    height: float,
    brushes: list[QBrush],
    pens: list[QPen],
) -> None:
    """Set the bars of ``item`` (pyqtgraph 0.13 fails on empty per-bar pen lists)."""
    if not x0:
        item.setOpts(x0=[], x1=[], y=[], height=height, pens=None, pen=None, brushes=None)
        return
    item.setOpts(x0=x0, x1=x1, y=y, height=height, brushes=brushes, pens=pens)


class TimelineWidget(QWidget):
    """Bars per step per platform; ``update_from(progress, now)`` redraws (cheap, ~ms)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = pg.PlotWidget(background="w")
        self.plot.setObjectName("buildTimeline")
        self.plot.setMenuEnabled(False)
        self.plot.hideButtons()
        item = self.plot.getPlotItem()
        item.showGrid(x=True, y=False, alpha=0.25)
        item.setLabel("bottom", "seconds since start")
        item.invertY(True)
        item.getViewBox().setMouseEnabled(x=True, y=False)
        self._bands = pg.BarGraphItem(x0=[], x1=[], y=[], height=1.0, pen=None)
        self._bands.setZValue(-10)
        self._bars = pg.BarGraphItem(x0=[], x1=[], y=[], height=BAR_HEIGHT, pen=None)
        self.plot.addItem(self._bands)
        self.plot.addItem(self._bars)
        self.hint = QLabel("The timeline fills in as the build runs. Hover a bar for details.")
        self.hint.setStyleSheet("color:#718096;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.hint)
        self.bars: list[Bar] = []
        self.rows: list[str] = []
        self.emulated_rows: list[int] = []
        self._origin = 0.0
        self._last_range: tuple[float, int] | None = None
        self.plot.scene().sigMouseMoved.connect(self._mouse_moved)

    # --- data ---------------------------------------------------------------------------------
    def clear(self) -> None:
        self.bars = []
        self.rows = []
        self.emulated_rows = []
        self._last_range = None
        _set_bars(self._bars, [], [], [], BAR_HEIGHT, [], [])
        _set_bars(self._bands, [], [], [], 1.0, [], [])
        self.plot.getPlotItem().getAxis("left").setTicks([[]])

    def update_from(self, progress: BuildProgress | None, now: float) -> None:
        if progress is None:
            self.clear()
            return
        # Cached steps may carry a stale first interval from the build that filled the cache:
        # the timeline starts at the first real (non-cached) step and drops older runs.
        starts = [s.started for s in progress.steps.values() if s.started and not s.cached]
        origin = min(starts) if starts else progress.started
        if origin is None:
            self.clear()
            return
        self._origin = origin
        rows: list[tuple[str, list[Step], bool]] = []
        if progress.shared:
            rows.append(("shared", progress.shared, False))
        for lane in progress.lanes.values():
            label = str(lane.platform) + ("  (QEMU)" if lane.emulated else "")
            rows.append((label, lane.steps, lane.emulated))
        bars: list[Bar] = []
        end = 0.0
        for row, (_label, steps, _emu) in enumerate(rows):
            for step in steps:
                for start, stop in step.intervals:
                    if stop is not None and stop < origin:
                        continue
                    running = stop is None
                    x1 = (now if running else stop) - origin  # type: ignore[operator]
                    x0 = start - origin
                    x1 = max(x1, x0)
                    bars.append(Bar(row, x0, x1, step, running))
                    end = max(end, x1)
        self.bars = bars
        self.rows = [label for label, _s, _e in rows]
        self.emulated_rows = [i for i, (_l, _s, emu) in enumerate(rows) if emu]

        brushes = []
        pens = []
        for bar in bars:
            state = StepState.RUNNING if bar.running else bar.step.state
            color = QColor(STATE_COLORS[state])
            brushes.append(QBrush(color))
            pens.append(QPen(color.darker(130), 0))
        _set_bars(
            self._bars,
            [b.x0 for b in bars],
            [b.x1 for b in bars],
            [float(b.row) for b in bars],
            BAR_HEIGHT,
            brushes,
            pens,
        )
        span = max(end, 1.0) * 1.02
        band_pen = QPen(Qt.PenStyle.NoPen)
        count = len(self.emulated_rows)
        _set_bars(
            self._bands,
            [0.0] * count,
            [span] * count,
            [float(r) for r in self.emulated_rows],
            1.0,
            [QBrush(QColor(EMULATED_BAND))] * count,
            [band_pen] * count,
        )
        axis = self.plot.getPlotItem().getAxis("left")
        axis.setTicks([[(float(i), label) for i, label in enumerate(self.rows)]])
        wanted = (round(span, 1), len(self.rows))
        if wanted != self._last_range:
            self._last_range = wanted
            self.plot.getPlotItem().getViewBox().setRange(
                xRange=(0.0, span), yRange=(-0.6, len(self.rows) - 0.4), padding=0.0
            )
        if bars:
            self.hint.setText(
                f"{len(bars)} step runs over {format_duration(end)} · rows with a yellow band run "
                "under QEMU emulation · hover a bar for details"
            )

    # --- hover --------------------------------------------------------------------------------
    def bar_at(self, x: float, y: float) -> Bar | None:
        """The bar under the view coordinates ``(x, y)`` (the latest one when runs overlap)."""
        found = None
        for bar in self.bars:
            if bar.x0 <= x <= bar.x1 and abs(y - bar.row) <= BAR_HEIGHT / 2:
                found = bar
        return found

    def describe(self, bar: Bar) -> str:
        step = bar.step
        state = StepState.RUNNING if bar.running else step.state
        where = (
            self.rows[bar.row] if 0 <= bar.row < len(self.rows) else short_platform(step.platform)
        )
        duration = bar.x1 - bar.x0
        lines = [
            f"<b>{escape(where)}</b>",
            escape(step.label),
            f"{STATE_TEXT[state]} · {format_duration(duration)}"
            + (" so far" if bar.running else "")
            + f" · starts at +{bar.x0:.1f}s",
        ]
        if step.emulated:
            lines.append("runs under QEMU emulation")
        if step.error and state is StepState.ERROR:
            lines.append(f"<span style='color:#c53030'>{escape(step.error[:300])}</span>")
        return "<br>".join(lines)

    def _mouse_moved(self, pos: QPointF) -> None:
        view = self.plot.getPlotItem().getViewBox()
        if not view.sceneBoundingRect().contains(pos):
            QToolTip.hideText()
            self.plot.setToolTip("")
            return
        point = view.mapSceneToView(pos)
        bar = self.bar_at(point.x(), point.y())
        if bar is None:
            QToolTip.hideText()
            self.plot.setToolTip("")
            return
        text = self.describe(bar)
        self.plot.setToolTip(text)
        if QGuiApplication.platformName() != "offscreen":  # no tool-tip windows offscreen
            QToolTip.showText(QCursor.pos(), text, self.plot)

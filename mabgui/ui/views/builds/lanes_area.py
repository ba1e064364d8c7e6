"""The lanes area of the Builds view: one lane per platform side by side, the shared steps last.

Lane widgets are pooled and reused from one build to the next (creating one costs ~10 ms),
and lanes take pooled widgets in splitter order, so they read left to right in the requested
platform order. Many platforms scroll sideways instead of widening the window.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QSplitter, QWidget

from mabgui.core.platform import Platform
from mabgui.core.progress import BuildProgress, BuildResult, Step
from mabgui.ui.views.builds.lanes import LaneWidget
from mabgui.ui.views.builds.style import SHARED_COLOR


class LanesArea(QScrollArea):
    """The lanes of one build, keyed by platform (``None``: the shared steps).

    Signals:
        step_activated(Step): a step was activated in one of the lanes.
    """

    step_activated = Signal(object)

    def __init__(self, clock: Callable[[], float], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._clock = clock
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        self.placeholder = QLabel(
            "Fill in the build form and press Start, reopen a build from the history, "
            "or open a recorded rawjson stream. Each platform gets its own lane."
        )
        self.placeholder.setWordWrap(True)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setStyleSheet("color:#718096;")
        self.splitter.addWidget(self.placeholder)
        self.shared = LaneWidget(None, SHARED_COLOR, clock)
        self.shared.step_activated.connect(self.step_activated)
        self.shared.hide()
        self.splitter.addWidget(self.shared)
        self.splitter.setStretchFactor(1, 1)
        self._pool: list[LaneWidget] = []  # platform lane widgets, reused between builds
        self._free: list[LaneWidget] = []
        self.shown: dict[Platform | None, LaneWidget] = {}

        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWidget(self.splitter)

    def reset(self, progress: BuildProgress) -> None:
        """A new build: every pooled lane is free again, the shared lane shows its steps."""
        for widget in self._pool:
            widget.hide()
        self._free = list(self._pool)
        self.shown = {None: self.shared}
        self.shared.set_lane(None, SHARED_COLOR)
        self.shared.model.reset(progress.shared)
        self.placeholder.hide()

    def take(self) -> LaneWidget:
        """A free lane widget (pooled, else a new one placed after the earlier lanes)."""
        if self._free:
            return self._free.pop(0)
        widget = LaneWidget(None, SHARED_COLOR, self._clock)
        widget.step_activated.connect(self.step_activated)
        self._pool.append(widget)
        position = len(self._pool)  # after the placeholder and the earlier lanes
        self.splitter.insertWidget(position, widget)
        self.splitter.setStretchFactor(position, 3)
        return widget

    def in_order(self) -> list[LaneWidget]:
        """The lanes shown, left to right (platforms in order, then the shared steps)."""
        shown = set(map(id, self.shown.values()))
        widgets = [self.splitter.widget(i) for i in range(self.splitter.count())]
        return [w for w in widgets if isinstance(w, LaneWidget) and id(w) in shown]

    def changed(self, steps: dict[Step, None]) -> None:
        """Tell each lane's model which of its steps changed."""
        by_lane: dict[Platform | None, list[Step]] = {}
        for step in steps:
            by_lane.setdefault(step.platform, []).append(step)
        for platform, changed in by_lane.items():
            lane_widget = self.shown.get(platform)
            if lane_widget is not None:
                lane_widget.model.changed(changed)

    def refresh(self, any_progress: bool) -> None:
        """Redraw the lanes; the shared lane shows only when it has steps (or no build)."""
        for widget in self.shown.values():
            widget.refresh()
        shared = self.shown.get(None)
        if shared is not None:
            shared.setVisible(shared.model.rowCount() > 0 or not any_progress)

    def tick(self) -> None:
        """Advance the running steps' clocks."""
        for widget in self.shown.values():
            widget.model.tick()

    def set_outcome(self, result: BuildResult) -> None:
        for widget in self.shown.values():
            widget.set_outcome(result)

"""The Builds area's bottom tabs: the log, the timeline, the emulation insight, the messages.

The timeline imports pyqtgraph, so it is created only when its tab first shows; the timeline
and the insight redraw at most every :data:`TIMELINE_MS` / :data:`INSIGHT_MS` while events
pour in.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QTabWidget, QWidget

from mabgui.core.progress import BuildProgress, LaneNodes
from mabgui.ui.views.builds.insight import InsightPanel
from mabgui.ui.views.builds.log import LogPane

if TYPE_CHECKING:
    from mabgui.ui.views.builds.timeline import TimelineWidget

TIMELINE_MS = 300  # the timeline redraws at most this often while events pour in
INSIGHT_MS = 1000


class BottomTabs(QTabWidget):
    """Log, Timeline, Emulation insight and Messages, refreshed from one progress model."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.log_pane = LogPane()
        # The timeline (pyqtgraph) is created when its tab first shows: see ``timeline``.
        self._timeline: TimelineWidget | None = None
        self._timeline_placeholder = QWidget()
        self.insight = InsightPanel()
        self.messages = QListWidget()
        self.messages.setWordWrap(True)
        self.addTab(self.log_pane, "Log")
        self.addTab(self._timeline_placeholder, "Timeline")
        self.addTab(self.insight, "Emulation insight")
        self.addTab(self.messages, "Messages")
        self._last_timeline = 0.0
        self._last_insight = 0.0

    @property
    def timeline(self) -> TimelineWidget:
        """The timeline tab's widget, created (pyqtgraph imported) on first use."""
        if self._timeline is None:
            from mabgui.ui.views.builds import timeline  # pyqtgraph: only when it shows

            self._timeline = timeline.TimelineWidget()
            index = self.indexOf(self._timeline_placeholder)
            current = self.currentIndex() == index
            self.blockSignals(True)
            self.insertTab(index, self._timeline, "Timeline")
            self.removeTab(index + 1)
            if current:
                self.setCurrentIndex(index)
            self.blockSignals(False)
            self._timeline_placeholder.deleteLater()
        return self._timeline

    def ensure_current(self) -> None:
        """Create the timeline if its (placeholder) tab is the current one."""
        if self.currentWidget() is self._timeline_placeholder:
            _ = self.timeline  # its first showing creates it

    def reset(self) -> None:
        """A new build: no messages, and the next refresh redraws at once."""
        self.messages.clear()
        self._last_timeline = 0.0
        self._last_insight = 0.0

    def refresh(
        self,
        progress: BuildProgress | None,
        now: float,
        force: bool = False,
        nodes: LaneNodes | None = None,
    ) -> None:
        """Redraw the current tab if it is the timeline or the insight and it is due."""
        tick = time.monotonic()
        current = self.currentWidget()
        due = force or tick - self._last_timeline >= TIMELINE_MS / 1e3
        if self._timeline is not None and current is self._timeline and due:
            self._last_timeline = tick
            self.timeline.update_from(progress, now)
        if current is self.insight and (force or tick - self._last_insight >= INSIGHT_MS / 1e3):
            self._last_insight = tick
            self.insight.update_from(progress, nodes)

    def add_message(self, text: str, level: str) -> None:
        item = QListWidgetItem(text)
        if level == "error":
            item.setForeground(Qt.GlobalColor.darkRed)
        elif level == "warning":
            item.setForeground(Qt.GlobalColor.darkYellow)
        self.messages.addItem(item)

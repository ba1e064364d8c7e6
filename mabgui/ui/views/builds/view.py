"""The Builds area: a build spec form, live per-platform lanes, log, timeline, emulation insight.

Every source of progress — a live ``docker buildx build``, a recorded rawjson file, a build
from the history — goes through the same path: the core's :class:`~mabgui.core.progress.
ProgressParser` folds the stream and returns events; :meth:`BuildsView.on_events` only queues
them, and a timer renders the queue once per frame (:data:`FRAME_MS`), so thousands of events
per second cost one repaint per frame and the event loop never stalls.

The parts live in their own modules: the run header and result (:mod:`.header`), the lanes
(:mod:`.lanes_area`), the bottom tabs (:mod:`.tabs`), replay pacing (:mod:`.replay`); this
module wires them to the build, the history and the recordings.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import (
    QGuiApplication,
    QKeySequence,
    QShortcut,
    QShowEvent,
    QTextDocumentFragment,
)
from PySide6.QtWidgets import (
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from mabgui.core.build import BuildRun, BuildSpec, OutputKind
from mabgui.core.perplatform import PerPlatformRun
from mabgui.core.platform import Platform
from mabgui.core.progress import (
    BuildFinished,
    BuildProgress,
    BuildResult,
    Lane,
    LaneAdded,
    MessageAdded,
    ProgressEvent,
    Step,
    StepAdded,
    StepChanged,
    StepLogs,
    StepStatus,
    WarningAdded,
)
from mabgui.ui.tasks import TaskFailure, TaskManager
from mabgui.ui.views.builds.bkhistory_panel import BkHistoryPanel
from mabgui.ui.views.builds.form import BuildForm
from mabgui.ui.views.builds.header import RunHeader, failure_html, state_html
from mabgui.ui.views.builds.history import HistoryPanel
from mabgui.ui.views.builds.lanes import LaneWidget, lane_nodes, place
from mabgui.ui.views.builds.lanes_area import LanesArea
from mabgui.ui.views.builds.replay import Pacer
from mabgui.ui.views.builds.sources import BuildSources
from mabgui.ui.views.builds.style import escape, lane_color
from mabgui.ui.views.builds.tabs import BottomTabs

if TYPE_CHECKING:
    from mabgui.ui.views.builds.timeline import TimelineWidget

FRAME_MS = 75  # view updates are coalesced to one per frame


class BuildsView(BuildSources, QWidget):
    """Builds: start a build, follow it per platform, reopen past builds and recordings.

    Signals:
        inspect_requested(str): "Inspect result" was pressed; the image reference to show in
            the Manifests view.
        finished(object): a build, replay or reopened build ended (its ``BuildResult``).
    """

    inspect_requested = Signal(str)
    finished = Signal(object)

    def __init__(self, parent: QWidget | None = None, *, autoload: bool = True) -> None:
        super().__init__(parent)
        self.autoload = autoload  # list builders and history when first shown
        self.tasks = TaskManager(self, on_failure=self._task_failed)
        self.progress: BuildProgress | None = None
        self.live = False
        self.result_ref = ""
        self._pending: list[ProgressEvent] = []  # structural events, in order
        self._dirty: dict[Step, None] = {}  # steps whose logs/status/state changed
        self._frames = 0
        self._run: BuildRun | PerPlatformRun | None = None
        self._run_done = True
        self._spec: BuildSpec | None = None
        self._pacer = Pacer()

        # --- header: what runs, its state, and its result ---------------------------------
        # (its widgets the tests and the window use are this view's attributes too)
        self.header = RunHeader()
        self.form_button = self.header.form_button
        self.title = self.header.title
        self.state = self.header.state
        self.replay_speed = self.header.replay_speed
        self.cancel_button = self.header.cancel_button
        self.result_ref_label = self.header.result_ref_label
        self.copy_button = self.header.copy_button
        self.inspect_button = self.header.inspect_button
        self.result_row = self.header.result_row
        self.error = self.header.error
        self.form_button.toggled.connect(self._show_side)
        self.header.open_button.clicked.connect(self._choose_recording)
        self.cancel_button.clicked.connect(self.cancel)
        self.copy_button.clicked.connect(self.copy_result)
        self.inspect_button.clicked.connect(self._inspect)

        # --- lanes ----------------------------------------------------------------------
        self.lanes_area = LanesArea(self._clock)
        self.lanes_area.step_activated.connect(self._step_activated)

        # --- bottom tabs ----------------------------------------------------------------
        self.bottom = BottomTabs()
        self.log_pane = self.bottom.log_pane
        self.insight = self.bottom.insight
        self.messages = self.bottom.messages
        self.bottom.currentChanged.connect(self._bottom_changed)

        results = QSplitter(Qt.Orientation.Vertical)
        results.setChildrenCollapsible(False)
        results.addWidget(self.lanes_area)
        results.addWidget(self.bottom)
        results.setStretchFactor(0, 3)
        results.setStretchFactor(1, 2)
        results.setSizes([380, 340])

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(4, 0, 0, 0)
        right_layout.addWidget(self.header)
        right_layout.addWidget(self.error)
        right_layout.addWidget(results, 1)

        # --- left: spec form and history ------------------------------------------------
        self.side = QTabWidget()
        self._build_side()
        # the whole form fits without a horizontal scroll bar, whatever platforms it offers
        self._fit_side()
        # after the new checkboxes are laid out (their layout settles at the next turn)
        self.form.platforms_shown.connect(lambda: QTimer.singleShot(0, self, self._fit_side))

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self.side)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([340, 900])
        self.splitter = splitter
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

        self._frame_timer = QTimer(self)
        self._frame_timer.setSingleShot(True)
        self._frame_timer.setInterval(FRAME_MS)
        self._frame_timer.timeout.connect(self.flush)
        self._tick_timer = QTimer(self)
        self._tick_timer.setInterval(1000)
        self._tick_timer.timeout.connect(self._tick)
        escape_key = QShortcut(QKeySequence(Qt.Key.Key_Escape), self)
        escape_key.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        escape_key.activated.connect(self._escape)

    # --- side panels (form and history) -------------------------------------------------------
    def _build_side(self) -> None:
        self.form = BuildForm()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.form)
        self.side.addTab(scroll, "Build")
        self.history = HistoryPanel()
        self.side.addTab(self.history, "History")
        self.bk_history = BkHistoryPanel()  # every build the builder ran (BuildKit's records)
        self.side.addTab(self.bk_history, "All builds")
        self.bk_history.progress_ready.connect(self.show_progress)
        self.bk_history.image_requested.connect(self.inspect_requested)
        self.form.start_requested.connect(self.start_build)
        self.history.reopen_requested.connect(self.reopen)
        self.history.respec_requested.connect(self._respec)
        self.side.currentChanged.connect(self._side_changed)
        self._loaded = False

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self.autoload:
            return
        # Builders are re-listed each time the area shows: one removed in the Builders area
        # (or a terminal) leaves the form, one created there appears.
        if not self.building():
            self.form.load_builders()
        if not self._loaded:
            self._loaded = True
            self.history.refresh()

    def _fit_side(self) -> None:
        scroll = self.side.widget(0)
        bar = 0
        if isinstance(scroll, QScrollArea):
            bar = scroll.verticalScrollBar().sizeHint().width()
        self.side.setMinimumWidth(self.form.minimumSizeHint().width() + bar + 8)

    def _show_side(self, shown: bool) -> None:
        self.side.setVisible(shown)
        if self.form_button.isChecked() != shown:
            self.form_button.setChecked(shown)

    def show_form(self, shown: bool = True) -> None:
        """Show (or fold away) the build form and history; a started build folds them."""
        self._show_side(shown)

    def _escape(self) -> None:
        if self.cancel_button.isEnabled():
            self.cancel()

    def copy_result(self) -> None:
        """Put the pushed reference (with its digest) on the clipboard."""
        if self.result_ref:
            QGuiApplication.clipboard().setText(self.result_ref)

    def _side_changed(self, index: int) -> None:
        if self.side.widget(index) is self.history:
            self.history.refresh()
        elif self.side.widget(index) is self.bk_history:
            self.bk_history.refresh()

    def lane(self, platform: Platform | None) -> LaneWidget | None:
        """The lane of ``platform`` (None: the shared steps), if the build has one."""
        return self.lanes_area.shown.get(platform)

    def lanes(self) -> dict[Platform | None, LaneWidget]:
        return dict(self.lanes_area.shown)

    @property
    def build_run(self) -> BuildRun | PerPlatformRun | None:
        return self._run

    # --- sessions -----------------------------------------------------------------------------
    def attach(self, progress: BuildProgress, title: str, live: bool = False) -> None:
        """Show ``progress`` (empty or complete) and follow the events that will fold into it."""
        self._frame_timer.stop()
        self._pending = []
        self._dirty = {}
        self.progress = progress
        self.live = live
        self.result_ref = ""
        self.title.setText(QTextDocumentFragment.fromHtml(title).toPlainText())
        self.error.hide()
        self.inspect_button.setEnabled(False)
        self.result_row.hide()
        self.bottom.reset()
        # Lane widgets are reused from one build to the next (creating them costs ~10 ms each).
        self.lanes_area.reset(progress)
        for lane in progress.lanes.values():
            self._lane_widget(lane)
        self.log_pane.set_progress(progress)
        for message in progress.messages:
            self._add_message(message.text, message.level)
        for warning in progress.warnings:
            self._add_message(f"WARNING: {warning.short}", "warning")
        self._refresh_lanes()
        self._refresh_side_panels(force=True)
        self._refresh_header()
        if progress.result is not None:
            self._show_result(progress.result)
        if live:
            self._tick_timer.start()
        else:
            self._tick_timer.stop()
        self.cancel_button.setEnabled(live)

    def on_events(self, events: Sequence[ProgressEvent]) -> None:
        """Queue core events; the view renders them at the next frame.

        The frequent ones (log lines, status, state changes) only mark their step dirty here,
        so a frame's worth of events is not kept alive (and promoted by the GC) until then.
        """
        if not events:
            return
        dirty = self._dirty
        pending = self._pending
        for event in events:
            kind = type(event)
            if kind is StepLogs or kind is StepStatus or kind is StepChanged:
                dirty[event.step] = None  # type: ignore[union-attr]
            else:
                pending.append(event)
        if not self._frame_timer.isActive():
            self._frame_timer.start()

    # --- rendering ----------------------------------------------------------------------------
    def flush(self) -> None:
        """Render every queued event (once per frame)."""
        self._frame_timer.stop()
        events = self._pending
        changed = self._dirty
        self._pending = []
        self._dirty = {}
        progress = self.progress
        if progress is None or not (events or changed):
            return
        self._frames += 1
        steps_added = False
        result: BuildResult | None = None
        for event in events:
            kind = type(event)
            if kind is StepAdded:
                assert isinstance(event, StepAdded)
                widget = self._lane_widget(event.lane)
                if widget.model.row_of(event.step) < 0:
                    widget.model.insert(event.row, event.step)
                steps_added = True
            elif kind is LaneAdded:
                assert isinstance(event, LaneAdded)
                self._lane_widget(event.lane)
                steps_added = True
            elif kind is MessageAdded:
                assert isinstance(event, MessageAdded)
                self._add_message(event.message.text, event.message.level)
            elif kind is WarningAdded:
                assert isinstance(event, WarningAdded)
                self._add_message(f"WARNING: {event.warning.short}", "warning")
            elif kind is BuildFinished:
                assert isinstance(event, BuildFinished)
                result = event.result
        self.lanes_area.changed(changed)
        self.log_pane.model.forget_tags(changed)
        self.log_pane.sync(steps_added)
        self._refresh_lanes()
        self._refresh_header()
        self._refresh_side_panels(force=result is not None)
        if result is not None:
            self._show_result(result)

    def _lane_widget(self, lane: Lane | None) -> LaneWidget:
        if lane is None:
            return self.lanes_area.shared
        widget = self.lanes_area.shown.get(lane.platform)
        if widget is not None:
            return widget
        # Lanes arrive in platform order and take pooled widgets in splitter order, so the
        # lanes read left to right in the requested order with the shared steps last.
        widget = self.lanes_area.take()
        index = list(self.progress.lanes).index(lane.platform) if self.progress else 0
        color = lane_color(index)
        widget.set_lane(lane, color)
        widget.set_builder(self._spec.builder if self._spec is not None else "")
        place(widget, self.form.check.plan if self.live else None)  # a live build's node
        place(widget, self.form.check.plan if self.live else None)  # a live build's node
        widget.show()
        self.log_pane.model.add_platform_color(lane.platform, color)
        self.lanes_area.shown[lane.platform] = widget
        return widget

    def lane_widgets(self) -> list[LaneWidget]:
        """The lanes shown, left to right (platforms in order, then the shared steps)."""
        return self.lanes_area.in_order()

    def _refresh_lanes(self) -> None:
        self.lanes_area.refresh(self.progress is not None)

    @property
    def timeline(self) -> TimelineWidget:
        """The timeline tab's widget, created (pyqtgraph imported) on first use."""
        return self.bottom.timeline

    def _bottom_changed(self, _index: int) -> None:
        self.bottom.ensure_current()
        self._refresh_side_panels(force=True)

    def _refresh_side_panels(self, force: bool = False) -> None:
        self.bottom.refresh(self.progress, self._clock(), force, lane_nodes(self.lane_widgets()))

    def _refresh_header(self) -> None:
        progress = self.progress
        if progress is None:
            self.state.setText("")
            return
        duration = progress.duration_s
        if duration is None and progress.started is not None and self.live:
            duration = max(0.0, self._clock() - progress.started)
        self.state.setText(state_html(progress, duration))

    def _show_result(self, result: BuildResult) -> None:
        self._tick_timer.stop()
        self.live = False
        self.cancel_button.setEnabled(False)
        self.lanes_area.set_outcome(result)
        self._refresh_lanes()
        self._refresh_header()
        self._refresh_side_panels(force=True)
        if not result.ok:
            self.show_error(failure_html(self.progress, result))
            if not result.canceled:
                self.select_failed_step()
        else:
            self.error.hide()
        self.result_ref = self._result_reference(result)
        self.header.show_reference(self.result_ref)
        self.finished.emit(result)

    def select_failed_step(self) -> Step | None:
        """Select the first failed platform's failed step in its lane and show its log."""
        progress = self.progress
        if progress is None:
            return None
        for platform, lane in progress.lanes.items():
            step = lane.failed_step
            widget = self.lanes_area.shown.get(platform)
            if step is None or widget is None:
                continue
            widget.select_step(step)
            self._step_activated(step)
            self.log_pane.view.scrollToBottom()  # the error is the step's last lines
            return step
        return None

    def _result_reference(self, result: BuildResult) -> str:
        """The pushed image (``repo:tag@digest``) of a successful push build, else ''."""
        spec = self._spec
        if not result.ok or spec is None or spec.output is not OutputKind.PUSH or not spec.tags:
            return ""
        tag = spec.tags[0]
        return f"{tag}@{result.digest}" if result.digest else tag

    def show_error(self, html: str) -> None:
        self.error.setText(html)
        self.error.show()

    def _add_message(self, text: str, level: str) -> None:
        self.bottom.add_message(text, level)

    def _tick(self) -> None:
        self.lanes_area.tick()
        self._refresh_lanes()
        self._refresh_header()
        self._refresh_side_panels()

    def _clock(self) -> float:
        if self.live:
            return time.time()
        if self._pacer.active:  # a paced replay: the stream's own time
            return self._pacer.now()
        progress = self.progress
        if progress is None:
            return 0.0
        return progress.completed or progress.started or 0.0

    def _step_activated(self, step: Step) -> None:
        self.bottom.setCurrentWidget(self.log_pane)
        self.log_pane.show_step(step)

    def _inspect(self) -> None:
        if self.result_ref:
            self.inspect_requested.emit(self.result_ref)

    def _task_failed(self, failure: TaskFailure) -> None:
        hint = f"<br><i>{escape(failure.hint)}</i>" if failure.hint else ""
        self.show_error(f"<b>Error:</b> {escape(failure.message)}{hint}")
        self.cancel_button.setEnabled(False)
        self._tick_timer.stop()

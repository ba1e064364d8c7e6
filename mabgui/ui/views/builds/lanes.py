"""One lane per platform: progress bar, current step, the steps with state icons and durations.

A lane turns red and shows the failing step and its error when that platform fails; steps that
BuildKit merely stopped because another platform failed are shown as canceled, not failed.
Shared steps (``[internal] …``, exporting, pushing) get a lane of their own.

Over 500 lines: the steps model, the lane's state rules and the lane widget change together
(a lane's header, bar and rows read the same state); the step cells' wrapping lives in
step_delegate.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    QRectF,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from mabgui.core.platform import Platform
from mabgui.core.preflight_push import BuildPlan
from mabgui.core.progress import BuildResult, Lane, Step, StepState
from mabgui.ui.models.table import RIGHT, Column, ObjectRole, RowsTableModel
from mabgui.ui.views.builds.step_delegate import WrappedStepDelegate
from mabgui.ui.views.builds.style import (
    ERROR_BG,
    ERROR_BORDER,
    SHARED_COLOR,
    STATE_COLORS,
    STATE_TEXT,
    escape,
    format_duration,
    state_icon,
)
from mabgui.ui.widgets.elided import ElidedLabel

_Index = QModelIndex | QPersistentModelIndex

Clock = Callable[[], float]


_MUTED = "#718096"


def _step_foreground(step: Step) -> QColor | None:
    if step.state is StepState.ERROR:
        return QColor(STATE_COLORS[StepState.ERROR])
    if step.state in (StepState.QUEUED, StepState.CANCELED, StepState.CACHED):
        return QColor(_MUTED)
    return None


def _step_tooltip(step: Step) -> str:
    parts = [f"<b>{escape(step.raw_name)}</b>", f"state: {STATE_TEXT[step.state]}"]
    if step.emulated:
        parts.append("runs under QEMU emulation")
    if step.build_platform is not None:
        parts.append(f"runs on {step.build_platform} (cross stage)")
    if step.duration_s is not None:
        parts.append(f"duration: {format_duration(step.duration_s)}")
    if step.log_line_count:
        parts.append(f"{step.log_line_count} log lines")
    if step.error:
        parts.append(f"<span style='color:#c53030'>{escape(step.error)}</span>")
    return "<br>".join(parts)


class StepsModel(RowsTableModel[Step]):
    """The steps of one lane (or the shared steps) in BuildKit's display order."""

    COL_STEP = 0
    COL_TIME = 1
    HEADERS = ("Step", "Time")

    def __init__(self, clock: Clock | None = None, parent: Any = None) -> None:
        super().__init__(
            (
                Column(
                    "Step",
                    lambda step: step.label,
                    tooltip=_step_tooltip,
                    decoration=lambda step: state_icon(step.state),
                    foreground=_step_foreground,
                ),
                Column(
                    "Time",
                    self._time_text,
                    tooltip=_step_tooltip,
                    sort_key=lambda step: step.duration_s or 0.0,
                    alignment=RIGHT,
                    foreground=_step_foreground,
                ),
            ),
            parent,
        )
        self._clock: Clock = clock or (lambda: 0.0)

    @property
    def steps(self) -> list[Step]:
        return self.rows()

    def set_clock(self, clock: Clock) -> None:
        self._clock = clock

    def reset(self, steps: Iterable[Step]) -> None:
        self.set_rows(steps)

    def insert(self, row: int, step: Step) -> None:
        """Mirror the core's insertion (``StepAdded.row``) so rows stay in the same order."""
        self.insert_row(row, step)

    def row_of(self, step: Step) -> int:
        for row, candidate in enumerate(self.row_objects()):
            if candidate is step:
                return row
        return -1

    def changed(self, steps: Iterable[Step]) -> None:
        """Repaint the rows of ``steps``: one dataChanged over the rows they span (the view
        measures the rows again and fits the Time column once per signal, not once per row)."""
        wanted = {id(step) for step in steps}
        rows = [row for row, step in enumerate(self.row_objects()) if id(step) in wanted]
        if rows:
            self._rows_changed(rows[0], rows[-1], 0)

    def tick(self) -> None:
        """Repaint the time of running steps (their elapsed time grows)."""
        rows = [r for r, s in enumerate(self.row_objects()) if s.state is StepState.RUNNING]
        if rows:
            self._rows_changed(rows[0], rows[-1], self.COL_TIME)

    def _rows_changed(self, top: int, bottom: int, first: int) -> None:
        if top == bottom:
            self.row_changed(top, first)
        else:
            last = self.columnCount() - 1
            self.dataChanged.emit(self.index(top, first), self.index(bottom, last))

    def _time_text(self, step: Step) -> str:
        state = step.state
        if state is StepState.CACHED:
            return "cached"
        if state is StepState.RUNNING:
            return format_duration(step.elapsed_s(self._clock()))
        if state is StepState.CANCELED and step.duration_s is None:
            return "—"
        return format_duration(step.duration_s)


def lane_complete(lane: Lane) -> bool:
    """Every step of the lane finished, including numbered steps not seen yet ("3/11" seen
    alone means eight more were to come); a lane that got no numbered step never built."""
    if not lane.steps or not lane.ok:
        return False
    numbered = [s for s in lane.steps if s.index is not None and s.total is not None]
    if not numbered:
        return False
    by_stage: dict[str, set[int]] = {}
    totals: dict[str, int] = {}
    for step in numbered:
        assert step.index is not None
        assert step.total is not None
        by_stage.setdefault(step.stage, set()).add(step.index)
        totals[step.stage] = max(totals.get(step.stage, 0), step.total)
    return all(len(by_stage[stage]) >= total for stage, total in totals.items())


def shown_state(lane: Lane, outcome: BuildResult | None) -> StepState:
    """The lane's state as the user should read it: once a build ended without success, a
    lane that did not finish is canceled (not "running" with steps that never ran)."""
    state = lane.state
    if lane.failed_step is not None:
        return StepState.ERROR
    if outcome is not None and not outcome.ok and not lane_complete(lane):
        return StepState.CANCELED
    return state


def stop_reason(outcome: BuildResult | None) -> str:
    if outcome is not None and outcome.canceled:
        return "stopped because you cancelled"
    return "stopped: another platform failed"


def _set_text_color(label: QLabel, color: str) -> None:
    palette = label.palette()
    palette.setColor(QPalette.ColorRole.WindowText, QColor(color))
    label.setPalette(palette)


class LaneBar(QWidget):
    """A thin progress bar that repaints lazily (QProgressBar repaints synchronously)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._value = 0.0
        self._color = QColor("#3182ce")
        self.setFixedHeight(8)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def value(self) -> float:
        return self._value

    def set_value(self, value: float) -> None:
        value = min(1.0, max(0.0, value))
        if value != self._value:
            self._value = value
            self.update()

    def set_color(self, color: str) -> None:
        if QColor(color) != self._color:
            self._color = QColor(color)
            self.update()

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        painter.setPen(QPen(QColor("#cbd5e0"), 1))
        painter.setBrush(QColor("#edf2f7"))
        painter.drawRoundedRect(rect, 3, 3)
        if self._value > 0:
            filled = QRectF(rect.x(), rect.y(), rect.width() * self._value, rect.height())
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(self._color)
            painter.drawRoundedRect(filled, 3, 3)
        painter.end()


class LaneWidget(QFrame):
    """One platform's lane (``lane`` None: the shared steps).

    Signals:
        step_activated(object): the user clicked a step (the view filters the log to it).
    """

    step_activated = Signal(object)

    def __init__(
        self,
        lane: Lane | None,
        color: str = SHARED_COLOR,
        clock: Clock | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.lane = lane
        self.color = color
        self.setObjectName("buildLane")
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.model = StepsModel(clock, self)

        # The platform in full (the lane cannot get narrower than it), native/QEMU, duration.
        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.title.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Preferred)
        self.badge = QLabel()
        self.duration = QLabel()
        self.duration.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.state_label = QLabel()
        bold = self.state_label.font()
        bold.setBold(True)
        self.state_label.setFont(bold)
        header = QHBoxLayout()
        header.setContentsMargins(0, 0, 0, 0)
        header.addWidget(self.title)
        header.addWidget(self.badge)
        header.addStretch(1)
        header.addWidget(self.duration)

        self.bar = LaneBar()
        # The current step's full name, elided in the middle (tooltip: all of it).
        self.current = ElidedLabel(mode=Qt.TextElideMode.ElideMiddle)
        self.outcome: BuildResult | None = None  # how the build ended (None: not yet)
        self.builder = ""  # the builder it runs on, when known (a live or reopened build)

        self.view = QTreeView()
        self.view.setModel(self.model)
        self.view.setRootIsDecorated(False)
        # Step names wrap and their rows grow (steps often differ only at their end), so rows
        # differ in height; the delegate caches the wrapped lines per width.
        self.view.setUniformRowHeights(False)
        self.view.setWordWrap(True)
        self.steps_delegate = WrappedStepDelegate(self.view, StepsModel.COL_STEP)
        self.view.setItemDelegateForColumn(StepsModel.COL_STEP, self.steps_delegate)
        self.view.setAlternatingRowColors(True)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        head = self.view.header()
        head.setStretchLastSection(False)
        head.setSectionResizeMode(StepsModel.COL_STEP, QHeaderView.ResizeMode.Stretch)
        head.setSectionResizeMode(StepsModel.COL_TIME, QHeaderView.ResizeMode.ResizeToContents)
        head.sectionResized.connect(self._step_column_resized)
        self.view.clicked.connect(self._clicked)

        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        _set_text_color(self.error, "#9b2c2c")
        self.error.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(4)
        layout.addLayout(header)
        layout.addWidget(self.state_label)
        layout.addWidget(self.bar)
        layout.addWidget(self.current)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.error)
        self._failed: bool | None = None
        self._bar_state: StepState | None = None
        self._badge_emulated: bool | None = None
        self.node = ""  # the builder's node that runs this lane ('' unknown), see set_node
        self.node_native: bool | None = None
        self._label_state: StepState | None = None
        self._followed: Step | None = None
        self.set_lane(lane, color)

    def set_lane(self, lane: Lane | None, color: str) -> None:
        """Show another lane in this widget (widgets are reused between builds)."""
        self.lane = lane
        self.color = color
        self.node, self.node_native = "", None  # until the next set_node
        self._badge_emulated = None
        self._followed = None
        self.outcome = None
        self.model.reset(lane.steps if lane is not None else [])
        self.bar.setVisible(lane is not None)
        # the shared steps are few and short: the platforms' lanes get the width
        self.setMaximumWidth(220 if lane is None else 16777215)  # QWIDGETSIZE_MAX
        self.refresh()

    def set_builder(self, builder: str) -> None:
        """The builder the build ran on (its name goes into the native/QEMU badge's tooltip)."""
        if builder != self.builder:
            self.builder = builder
            self._badge_emulated = None  # the badge is redone at the next refresh
            self.refresh()

    def set_node(self, node: str, native: bool | None) -> None:
        """The node buildx routes this lane's platform to, and whether it runs natively there
        (decided per node, :func:`mabgui.core.preflight_push.lanes`; None: unknown, the lane's
        own guess stays)."""
        if (node, native) != (self.node, self.node_native):
            self.node, self.node_native = node, native
            self._badge_emulated = None
            self.refresh()

    def emulated(self) -> bool:
        """Whether the lane runs under QEMU: its node's answer when known, else the lane's."""
        if self.node_native is not None:
            return not self.node_native
        return bool(self.lane is not None and self.lane.emulated)

    def badge_text(self) -> str:
        return self.badge.text()

    def _where(self) -> str:
        where = f"builder {self.builder}" if self.builder else "the current builder"
        return f"node {self.node} of {where}" if self.node else where

    def set_outcome(self, outcome: BuildResult | None) -> None:
        """How the build ended: a lane that did not finish then reads canceled, and why."""
        self.outcome = outcome
        self.refresh()

    def _clicked(self, index: QModelIndex) -> None:
        step = self.model.data(index, ObjectRole)
        if step is not None:
            self.step_activated.emit(step)

    @property
    def failed(self) -> bool:
        return bool(self.lane is not None and self.lane.failed_step is not None)

    def refresh(self) -> None:
        """Header, progress, current step and error from the core lane (cheap; once per frame)."""
        lane = self.lane
        color = self.color
        if lane is None:
            self.title.setText(f"<b style='color:{color}'>■</b> <b>Shared steps</b>")
            self.badge.setText("")
            self._badge_emulated = None
            steps = self.model.steps
            running = [s for s in steps if s.state is StepState.RUNNING]
            self.current.setText(running[-1].label if running else "")
            self.state_label.setText(f"{len(steps)} steps")
            self._set_failed(any(s.state is StepState.ERROR for s in steps), "")
            return
        self.title.setText(f"<b style='color:{color}'>■</b> <b>{escape(str(lane.platform))}</b>")
        emulated = self.emulated()
        if emulated != self._badge_emulated:
            self._badge_emulated = emulated
            on = f" on node {self.node}" if self.node else ""
            if emulated:
                self.badge.setText("QEMU" + on)
                self.badge.setToolTip(f"Runs under QEMU user emulation on {self._where()} (slower)")
                self.badge.setStyleSheet(
                    "background:#fefcbf; color:#744210; border-radius:3px; padding:0 4px;"
                )
            else:
                self.badge.setText("native" + on)
                self.badge.setToolTip(f"Runs natively on {self._where()}")
                self.badge.setStyleSheet(
                    "background:#e6fffa; color:#234e52; border-radius:3px; padding:0 4px;"
                )
        failed_step = lane.failed_step
        state = shown_state(lane, self.outcome)
        self.state_label.setText(f"{STATE_TEXT[state]} · {lane.progress * 100:.0f}%")
        duration = lane.duration_s
        self.duration.setText(format_duration(duration) if duration is not None else "")
        took = f" in {format_duration(duration)}" if duration is not None else ""
        if state is not self._label_state:
            self._label_state = state
            _set_text_color(self.state_label, STATE_COLORS[state])
        self.bar.set_value(lane.progress)
        step = lane.current_step
        if failed_step is not None:
            self.current.setText(f"failed at {failed_step.label}")
        elif state is StepState.CANCELED:  # its duration is in the header, right
            self.current.setText(stop_reason(self.outcome))
        elif step is not None and step.state is StepState.RUNNING:
            self.current.setText(f"▶ {step.label}")
            self._follow(step)
        elif state is StepState.RUNNING:  # between steps: none runs right now
            queued = next((s for s in lane.steps if s.state is StepState.QUEUED), None)
            self.current.setText(f"next: {queued.label}" if queued is not None else "waiting…")
        elif step is not None and state in (StepState.DONE, StepState.CACHED):
            self.current.setText(f"finished {len(lane.steps)} steps{took}")
        else:
            self.current.setText(step.label if step is not None else "waiting…")
        self._set_failed(failed_step is not None, failed_step.error if failed_step else "")
        self._set_bar_color(state)

    def select_step(self, step: Step) -> None:
        """Select ``step``'s row and scroll to it (a failed step after the build)."""
        row = self.model.row_of(step)
        if row >= 0:
            index = self.model.index(row, 0)
            self.view.setCurrentIndex(index)
            self.view.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)

    def step_lines(self, row: int) -> tuple[str, ...]:
        """The lines step ``row``'s name is shown as at the lane's current width."""
        return self.steps_delegate.lines(self.model.index(row, StepsModel.COL_STEP))

    def _step_column_resized(self, column: int, _old: int, _new: int) -> None:
        if column == StepsModel.COL_STEP:
            # rows rewrap at the new width: one relayout per event-loop turn, not per pixel
            self.view.scheduleDelayedItemsLayout()

    def selected_step(self) -> Step | None:
        step = self.model.data(self.view.currentIndex(), ObjectRole)
        return step if isinstance(step, Step) else None

    def _follow(self, step: Step) -> None:
        """Keep the running step in sight (once per step, so the user can still scroll)."""
        if step is self._followed:
            return
        self._followed = step
        row = self.model.row_of(step)
        if row >= 0:
            self.view.scrollTo(self.model.index(row, 0), QAbstractItemView.ScrollHint.EnsureVisible)

    def _set_bar_color(self, state: StepState) -> None:
        if state is StepState.QUEUED:
            state = StepState.RUNNING
        if state is StepState.CACHED:
            state = StepState.DONE
        if state == self._bar_state:
            return
        self._bar_state = state
        self.bar.set_color("#3182ce" if state is StepState.RUNNING else STATE_COLORS[state])

    def _set_failed(self, failed: bool, error: str) -> None:
        if failed:
            self.error.setText(error if len(error) <= 140 else "…" + error[-140:])
            self.error.setToolTip(error)
            self.error.setVisible(bool(error))
        else:
            self.error.hide()
        if failed == self._failed:
            return
        self._failed = failed
        self.update()  # the frame is painted by paintEvent (no style sheet: they slow children)

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self._failed:
            pen = QPen(QColor(ERROR_BORDER), 2)
            painter.setBrush(QColor(ERROR_BG))
            rect = QRectF(self.rect()).adjusted(1, 1, -1, -1)
        else:
            pen = QPen(QColor("#cbd5e0"), 1)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            rect = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        painter.setPen(pen)
        painter.drawRoundedRect(rect, 6, 6)
        painter.end()


def lane_nodes(widgets: Iterable[LaneWidget]) -> dict[Platform, tuple[str, bool | None]]:
    """Each shown platform lane's node and native answer (for the emulation insight)."""
    return {w.lane.platform: (w.node, w.node_native) for w in widgets if w.lane is not None}


def place(widget: LaneWidget, plan: BuildPlan | None) -> None:
    """Name the node ``plan`` routes the widget's platform to (nothing when unknown)."""
    lane = widget.lane
    where = plan.lanes.get(lane.platform) if plan is not None and lane is not None else None
    if where is not None:
        widget.set_node(where.node, where.native)

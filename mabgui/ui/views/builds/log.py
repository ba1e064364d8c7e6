"""The build log: every line of every platform, virtualised, filterable by platform and step.

:class:`LogModel` is a list model over the core's compact :class:`~mabgui.core.progress.LogStore`
(no per-line Python objects are kept here): unfiltered, row ``i`` *is* log line ``i``; filtered,
an ``array`` of matching line indexes maps rows to lines. New lines are announced in one
``beginInsertRows`` per :meth:`LogModel.sync` (the view calls it once per frame), so 100k+ lines
scroll and grow without the event loop stalling.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable, Sequence
from itertools import chain
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt, QTimer
from PySide6.QtGui import QColor, QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from mabgui.core.platform import Platform
from mabgui.core.progress import STDERR, BuildProgress, LogStore, Step
from mabgui.ui.models.table import ObjectRole
from mabgui.ui.views.builds.style import (
    SHARED_COLOR,
    STDERR_COLOR,
    color_icon,
    lane_color,
    short_platform,
)

StreamRole = Qt.ItemDataRole.UserRole + 2

_Index = QModelIndex | QPersistentModelIndex
SCAN_LIMIT = 4096  # above this many new lines, filter by merging per-step index arrays
FILTER_SLICE = 20_000  # lines a filter examines per event-loop turn


class _Shared:
    """Filter value meaning "steps of no platform" (``[internal] …``, exporting)."""

    def __repr__(self) -> str:
        return "SHARED"


SHARED = _Shared()
PlatformFilter = Platform | _Shared | None  # None = every platform


class LogModel(QAbstractListModel):
    """Rows are log lines (global order), optionally filtered by platform, step and text."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._log: LogStore | None = None
        self._progress: BuildProgress | None = None
        self._seen = 0  # lines of the store the model has announced/scanned
        self._rows: array[int] | None = None  # None: unfiltered (row == line index)
        self._platform: PlatformFilter = None
        self._step: Step | None = None
        self._text = ""
        self._colors: dict[Platform | None, str] = {}
        self._tags: dict[Step, str] = {}
        self._stderr = QColor(STDERR_COLOR)

    # --- source -------------------------------------------------------------------------------
    def set_progress(self, progress: BuildProgress | None) -> None:
        """Show the log of ``progress`` (None: empty), keeping the current filter."""
        self.beginResetModel()
        self._log = progress.log if progress is not None else None
        self._progress = progress
        self._colors = {}
        if progress is not None:
            for i, platform in enumerate(progress.lanes):
                self._colors[platform] = lane_color(i)
        self._tags = {}
        self._seen = 0
        self._rows = None if self._unfiltered() else array("I")
        self._scan_to_end()
        self.endResetModel()

    def add_platform_color(self, platform: Platform, color: str) -> None:
        self._colors[platform] = color

    def sync(self, max_lines: int | None = None) -> int:
        """Announce the lines added to the store since the last call; returns how many rows.

        Filtered, at most ``max_lines`` new lines are examined per call (the pane calls again
        until :meth:`pending` is 0, so filtering 100k lines never blocks the event loop).
        """
        log = self._log
        if log is None:
            return 0
        total = len(log)
        if total <= self._seen:
            return 0
        if self._rows is None:
            first = self._seen
            self.beginInsertRows(QModelIndex(), first, total - 1)
            self._seen = total
            self.endInsertRows()
            return total - first
        end = total if max_lines is None else min(total, self._seen + max_lines)
        matches = self._matching(self._seen, end)
        self._seen = end
        if not matches:
            return 0
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(matches) - 1)
        self._rows.extend(matches)
        self.endInsertRows()
        return len(matches)

    # --- filter -------------------------------------------------------------------------------
    def set_filter(
        self,
        platform: PlatformFilter = None,
        step: Step | None = None,
        text: str = "",
        *,
        incremental: bool = False,
    ) -> None:
        """Filter the rows; ``incremental``: scan nothing now, let :meth:`sync` catch up."""
        self.beginResetModel()
        self._platform = platform
        self._step = step
        self._text = text.strip().lower()
        self._seen = 0
        self._rows = None if self._unfiltered() else array("I")
        if self._rows is None or not incremental:
            self._scan_to_end()
        self.endResetModel()

    def stored_count(self) -> int:
        """Lines in the build's log store, shown or filtered out."""
        return len(self._log) if self._log is not None else 0

    def pending(self) -> int:
        """Lines of the store not examined by the filter yet."""
        return len(self._log) - self._seen if self._log is not None else 0

    @property
    def filter(self) -> tuple[PlatformFilter, Step | None, str]:
        return self._platform, self._step, self._text

    def _unfiltered(self) -> bool:
        return self._platform is None and self._step is None and not self._text

    def _scan_to_end(self) -> None:
        log = self._log
        if log is None:
            return
        total = len(log)
        if self._rows is not None:
            self._rows = self._matching(0, total)
        self._seen = total

    def _candidates(self, start: int, end: int) -> Sequence[int]:
        """Line indexes in ``[start, end)`` of the filtered platform/step, ascending."""
        log = self._log
        assert log is not None
        step = self._step
        if step is not None:
            indexes = step.log_indexes
            return indexes[bisect_left(indexes, start) : bisect_left(indexes, end)]
        platform = self._platform
        if platform is None:
            return range(start, end)
        progress = self._progress
        if end - start > SCAN_LIMIT and progress is not None:
            # Many lines: merge the index arrays of the platform's steps (C-speed sort)
            # instead of looking at every line's step.
            if platform is SHARED:
                steps: list[Step] = list(progress.shared)
            else:
                lane = progress.lanes.get(platform) if isinstance(platform, Platform) else None
                steps = list(lane.steps) if lane is not None else []
            merged = sorted(chain.from_iterable(s.log_indexes for s in steps))
            return merged[bisect_left(merged, start) : bisect_left(merged, end)]
        step_of = log.step
        if platform is SHARED:
            return [i for i in range(start, end) if step_of(i).platform is None]
        return [i for i in range(start, end) if step_of(i).platform == platform]

    def _matching(self, start: int, end: int) -> array[int]:
        log = self._log
        assert log is not None
        candidates = self._candidates(start, end)
        text = self._text
        if text:
            line = log.text
            return array("I", [i for i in candidates if text in line(i).lower()])
        return array("I", candidates)

    # --- Qt model API -------------------------------------------------------------------------
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt API
        if parent.isValid() or self._log is None:
            return 0
        return self._seen if self._rows is None else len(self._rows)

    def line_index(self, row: int) -> int:
        return row if self._rows is None else self._rows[row]

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        log = self._log
        if log is None or not index.isValid() or index.column() != 0:
            return None
        row = index.row()
        if not 0 <= row < self.rowCount():
            return None
        line = self.line_index(row)
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{self._tag(log.step(line))}{log.text(line)}"
        if role == Qt.ItemDataRole.ForegroundRole:
            return self._stderr if log.stream(line) == STDERR else None
        if role == Qt.ItemDataRole.DecorationRole:
            platform = log.step(line).platform
            return color_icon(self._colors.get(platform, SHARED_COLOR))
        if role == Qt.ItemDataRole.ToolTipRole:
            step = log.step(line)
            stream = "stderr" if log.stream(line) == STDERR else "stdout"
            return f"{short_platform(step.platform)} · {step.label} · {stream}"
        if role == StreamRole:
            return log.stream(line)
        if role == ObjectRole:
            return log[line]
        return None

    def forget_tags(self, steps: Iterable[Step]) -> None:
        """Drop cached line prefixes of ``steps`` (a step named late gets its real label)."""
        for step in steps:
            self._tags.pop(step, None)

    def _tag(self, step: Step) -> str:
        tag = self._tags.get(step)
        if tag is None:
            where = f"{step.index}/{step.total}" if step.index is not None else ""
            if step.stage and step.stage != "internal":
                where = f"{step.stage} {where}".strip()
            tag = f"{short_platform(step.platform):<8} {where:<6} │ "
            self._tags[step] = tag
        return tag


class LogPane(QWidget):
    """The log list with its filters (platform, step, text) and a follow-the-end toggle."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = LogModel(self)
        self._progress: BuildProgress | None = None
        self._platform_items: list[PlatformFilter] = []  # what the combos hold (no itemData)
        self._step_items: list[Step] = []

        self.platform_filter = QComboBox()
        self.platform_filter.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.step_filter = QComboBox()
        self.step_filter.setMinimumContentsLength(6)
        self.step_filter.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.text_filter = QLineEdit()
        self.text_filter.setPlaceholderText("Find in log…")
        self.text_filter.setClearButtonEnabled(True)
        self.text_filter.setMinimumWidth(80)
        self.follow = QCheckBox("Follow")
        self.follow.setChecked(True)
        self.count = QLabel("0 lines")

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        # No text labels: "All platforms" / "All steps" say what the boxes filter, and the
        # bar stays narrow enough for a 1024-px window.
        self.platform_filter.setAccessibleName("Platform filter")
        self.step_filter.setAccessibleName("Step filter")
        self.text_filter.setAccessibleName("Find in log")
        bar.addWidget(self.platform_filter)
        bar.addWidget(self.step_filter, 1)
        bar.addWidget(self.text_filter, 1)
        bar.addWidget(self.follow)
        bar.addWidget(self.count)

        # A table with fixed-height rows: its header maps rows to pixels arithmetically, so
        # appending or scrolling 100k+ rows costs no per-row work (a QListView lays every row).
        self.view = QTableView()
        self.view.setObjectName("buildLog")
        self.view.setModel(self.model)
        self.view.setShowGrid(False)
        self.view.setTabKeyNavigation(False)  # Tab leaves the log (arrows move within it)
        self.view.setWordWrap(False)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.view.horizontalHeader().hide()
        self.view.horizontalHeader().setStretchLastSection(True)
        rows = self.view.verticalHeader()
        rows.hide()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(self.view.fontMetrics().height() + 2)
        rows.setMinimumSectionSize(1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addWidget(self.view, 1)

        self._catch_up_timer = QTimer(self)
        self._catch_up_timer.setSingleShot(True)
        self._catch_up_timer.setInterval(0)
        self._catch_up_timer.timeout.connect(self._catch_up)
        self._text_timer = QTimer(self)
        self._text_timer.setSingleShot(True)
        self._text_timer.setInterval(250)
        self._text_timer.timeout.connect(self._apply_filter)
        self.text_filter.textChanged.connect(lambda _t: self._text_timer.start())
        self.platform_filter.currentIndexChanged.connect(self._platform_changed)
        self.step_filter.currentIndexChanged.connect(lambda _i: self._apply_filter())
        # A step's name is often longer than its box: the tooltip holds all of it.
        for combo in (self.platform_filter, self.step_filter):
            combo.currentTextChanged.connect(combo.setToolTip)
            combo.setToolTip(combo.currentText())
        self._fill_platforms()

    # --- feeding ------------------------------------------------------------------------------
    def set_progress(self, progress: BuildProgress | None) -> None:
        self._progress = progress
        self.model.set_progress(progress)
        self._fill_platforms()
        self._update_count()
        if self.follow.isChecked():
            self.view.scrollToBottom()

    def sync(self, steps_added: bool = False) -> None:
        """Called once per frame: show new lines (and new platforms/steps in the filters)."""
        if steps_added:
            self._fill_platforms()
        self._catch_up()

    def _catch_up(self) -> None:
        """Examine the next slice of lines (filtered); reschedule while some are left."""
        pending = self.model.pending()
        if self.model.sync(max_lines=FILTER_SLICE) or pending:
            self._update_count()
            if self.follow.isChecked():
                self.view.scrollToBottom()
        if self.model.pending() and not self._catch_up_timer.isActive():
            self._catch_up_timer.start()

    def show_step(self, step: Step) -> None:
        """Filter the log to one step (a click on a step in a lane)."""
        target: PlatformFilter = step.platform if step.platform is not None else SHARED
        for i in range(self.platform_filter.count()):
            if self.platform_filter.itemData(i) == target:
                self.platform_filter.setCurrentIndex(i)
                break
        self._fill_steps()
        for i in range(self.step_filter.count()):
            if self.step_filter.itemData(i) is step:
                self.step_filter.setCurrentIndex(i)
                break

    # --- filters ------------------------------------------------------------------------------
    def _fill_platforms(self) -> None:
        current = self.platform_filter.currentData()
        items: list[tuple[str, PlatformFilter, str | None]] = [("All platforms", None, None)]
        if self._progress is not None:
            for i, platform in enumerate(self._progress.lanes):
                items.append((str(platform), platform, lane_color(i)))
            if self._progress.shared:
                items.append(("shared steps", SHARED, SHARED_COLOR))
        values = [value for _label, value, _c in items]
        if values == self._platform_items:
            self._fill_steps()
            return
        self._platform_items = values
        self.platform_filter.blockSignals(True)
        self.platform_filter.clear()
        selected = 0
        for row, (label, value, color) in enumerate(items):
            if color is None:
                self.platform_filter.addItem(label, value)
            else:
                self.platform_filter.addItem(color_icon(color), label, value)
            if value is not None and value == current:
                selected = row
        self.platform_filter.setCurrentIndex(selected)
        self.platform_filter.blockSignals(False)
        self.platform_filter.setToolTip(self.platform_filter.currentText())
        self._fill_steps()
        if self.platform_filter.currentData() != current:
            self._apply_filter()

    def _steps_for(self, platform: PlatformFilter) -> list[Step]:
        progress = self._progress
        if progress is None:
            return []
        if platform is SHARED:
            return list(progress.shared)
        if isinstance(platform, Platform):
            lane = progress.lanes.get(platform)
            return list(lane.steps) if lane is not None else []
        steps = list(progress.shared)
        for lane in progress.lanes.values():
            steps.extend(lane.steps)
        return steps

    def _fill_steps(self) -> None:
        platform = self.platform_filter.currentData()
        steps = self._steps_for(platform)
        existing = self._step_items
        if (
            self.step_filter.count()
            and len(existing) == len(steps)
            and all(a is b for a, b in zip(existing, steps, strict=True))
        ):
            return
        self._step_items = steps
        current = self.step_filter.currentData()
        self.step_filter.blockSignals(True)
        self.step_filter.clear()
        self.step_filter.addItem("All steps", None)
        selected = 0
        for row, step in enumerate(steps, start=1):
            prefix = "" if platform is not None else f"{short_platform(step.platform)}: "
            self.step_filter.addItem(f"{prefix}{step.label}", step)
            if step is current:
                selected = row
        self.step_filter.setCurrentIndex(selected)
        self.step_filter.blockSignals(False)
        self.step_filter.setToolTip(self.step_filter.currentText())
        if current is not None and selected == 0:
            self._apply_filter()

    def _platform_changed(self, _index: int) -> None:
        self._fill_steps()
        self._apply_filter()

    def _apply_filter(self) -> None:
        platform = self.platform_filter.currentData()
        step = self.step_filter.currentData()
        text = self.text_filter.text()
        if (platform, step, text.strip().lower()) == self.model.filter:
            return
        self.model.set_filter(platform, step, text, incremental=True)
        self._update_count()
        self._catch_up()

    def _update_count(self) -> None:
        shown = self.model.rowCount()
        total = len(self._progress.log) if self._progress is not None else 0
        if self.model.pending():
            self.count.setText(f"{shown:,} of {total:,} lines (filtering…)")
        elif shown == total:
            self.count.setText(f"{total:,} lines")
        else:
            self.count.setText(f"{shown:,} of {total:,} lines")

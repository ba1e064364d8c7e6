"""The Builds area: a build spec form, live per-platform lanes, log, timeline, emulation insight.

Every source of progress — a live ``docker buildx build``, a recorded rawjson file, a build
from the history — goes through the same path: the core's :class:`~mabgui.core.progress.
ProgressParser` folds the stream and returns events; :meth:`BuildsView.on_events` only queues
them, and a timer renders the queue once per frame (:data:`FRAME_MS`), so thousands of events
per second cost one repaint per frame and the event loop never stalls.
"""

from __future__ import annotations

import asyncio
import gzip
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import (
    QGuiApplication,
    QKeySequence,
    QShortcut,
    QShowEvent,
    QTextDocumentFragment,
)
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mabgui.core import preflight
from mabgui.core.build import BuildError, BuildRun, BuildSpec, OutputKind, history
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
    ProgressParser,
    Step,
    StepAdded,
    StepChanged,
    StepLogs,
    StepState,
    StepStatus,
    WarningAdded,
)
from mabgui.ui import settings as saved
from mabgui.ui.tasks import TaskFailure, TaskManager
from mabgui.ui.views.builds.bkhistory_panel import BkHistoryPanel
from mabgui.ui.views.builds.form import BuildForm
from mabgui.ui.views.builds.history import HistoryPanel, entry_image
from mabgui.ui.views.builds.insight import InsightPanel
from mabgui.ui.views.builds.lanes import LaneWidget, shown_state
from mabgui.ui.views.builds.log import LogPane
from mabgui.ui.views.builds.perplatform import show_result as show_per_platform
from mabgui.ui.views.builds.style import (
    ERROR_BG,
    ERROR_BORDER,
    SHARED_COLOR,
    STATE_COLORS,
    STATE_TEXT,
    escape,
    format_duration,
    lane_color,
)
from mabgui.ui.widgets.elided import ElidedLabel

if TYPE_CHECKING:
    from mabgui.ui.views.builds.timeline import TimelineWidget

FRAME_MS = 75  # view updates are coalesced to one per frame
TIMELINE_MS = 300  # the timeline redraws at most this often while events pour in
INSIGHT_MS = 1000
REPLAY_CHUNK = 32 * 1024  # bytes fed to the parser between two yields to the event loop
SESSION = "session"
# (label, speed): 0 = all at once; else stream seconds per wall second
REPLAY_SPEEDS = (("at once", 0.0), ("real time", 1.0), ("4× speed", 4.0), ("16× speed", 16.0))
PACED_CHUNK = 4 * 1024  # a paced replay feeds smaller slices so the lanes move smoothly
MAX_IDLE_S = 2.0  # a paced replay skips quiet stretches longer than this


def read_recording(path: str | Path) -> bytes:
    """The bytes of a recorded rawjson stream, gunzipped when it is gzip-compressed."""
    data = Path(path).read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    return data


class BuildsView(QWidget):
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
        self._lanes: dict[Platform | None, LaneWidget] = {}
        self._pool: list[LaneWidget] = []  # platform lane widgets, reused between builds
        self._free: list[LaneWidget] = []
        self._last_timeline = 0.0
        self._last_insight = 0.0
        self._frames = 0
        self._run: BuildRun | PerPlatformRun | None = None
        self._run_done = True
        self._spec: BuildSpec | None = None
        self._paced: tuple[float, float, float] | None = None  # stream t0, wall t0, speed

        # --- header: what runs, its state, and its result ---------------------------------
        self.form_button = QToolButton()
        self.form_button.setText("Build form")
        self.form_button.setCheckable(True)
        self.form_button.setChecked(True)
        self.form_button.setShortcut(QKeySequence("Ctrl+Shift+F"))
        self.form_button.setToolTip(
            "Show or hide the build form and history (Ctrl+Shift+F); it folds away while a "
            "build runs so the run gets the width"
        )
        self.form_button.setAccessibleName("Show the build form")
        self.form_button.toggled.connect(self._show_side)
        self.title = ElidedLabel("No build yet", mode=Qt.TextElideMode.ElideRight)
        title_font = self.title.font()
        title_font.setBold(True)
        title_font.setPointSizeF(title_font.pointSizeF() * 1.1)
        self.title.setFont(title_font)
        self.state = QLabel()
        self.state.setTextFormat(Qt.TextFormat.RichText)
        self.state.setWordWrap(True)
        self.state.setMinimumWidth(120)
        self.open_button = QPushButton("Open recording…")
        self.open_button.setToolTip(
            "Show a stream recorded with docker buildx build --progress=rawjson 2> file "
            "(plain or .gz), e.g. from CI, exactly like a live build"
        )
        self.open_button.clicked.connect(self._choose_recording)
        self.replay_speed = QComboBox()
        self.replay_speed.setToolTip(
            "How fast a recording plays: at once, or paced by its own timestamps"
        )
        self.replay_speed.setAccessibleName("Replay speed")
        for speed_text, speed in REPLAY_SPEEDS:
            self.replay_speed.addItem(speed_text, speed)
        speed_label = QLabel("&Replay")
        speed_label.setBuddy(self.replay_speed)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.setToolTip("Stop the build (Esc)")
        self.cancel_button.clicked.connect(self.cancel)
        # The result: the pushed reference and digest, to copy or open in Manifests.
        self.result_label = QLabel("Pushed")
        self.result_ref_label = ElidedLabel(mode=Qt.TextElideMode.ElideMiddle)
        self.result_ref_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the pushed reference with its digest")
        self.copy_button.clicked.connect(self.copy_result)
        self.inspect_button = QPushButton("Open in Manifests")
        self.inspect_button.setEnabled(False)
        self.inspect_button.setToolTip("Open the pushed image in the Manifests view")
        self.inspect_button.clicked.connect(self._inspect)

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.form_button)
        top.addWidget(self.title, 1)
        top.addWidget(self.cancel_button)
        second = QHBoxLayout()
        second.setContentsMargins(0, 0, 0, 0)
        second.addWidget(self.state, 1)
        second.addWidget(speed_label)
        second.addWidget(self.replay_speed)
        second.addWidget(self.open_button)
        self.result_row = QWidget()
        result_layout = QHBoxLayout(self.result_row)
        result_layout.setContentsMargins(0, 0, 0, 0)
        result_layout.addWidget(self.result_label)
        result_layout.addWidget(self.result_ref_label, 1)
        result_layout.addWidget(self.copy_button)
        result_layout.addWidget(self.inspect_button)
        self.result_row.hide()
        header = QVBoxLayout()
        header.setContentsMargins(0, 0, 0, 0)
        header.setSpacing(2)
        header.addLayout(top)
        header.addLayout(second)
        header.addWidget(self.result_row)

        self.error = QLabel()
        self.error.setObjectName("buildError")
        self.error.setWordWrap(True)
        self.error.setTextFormat(Qt.TextFormat.RichText)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.setStyleSheet(
            f"#buildError {{ background:{ERROR_BG}; border:1px solid {ERROR_BORDER};"
            " border-radius:6px; padding:6px; color:#742a2a; }"
        )
        self.error.hide()

        # --- lanes ----------------------------------------------------------------------
        self.lanes_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.lanes_splitter.setChildrenCollapsible(False)
        self.lanes_placeholder = QLabel(
            "Fill in the build form and press Start, reopen a build from the history, "
            "or open a recorded rawjson stream. Each platform gets its own lane."
        )
        self.lanes_placeholder.setWordWrap(True)
        self.lanes_placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.lanes_placeholder.setStyleSheet("color:#718096;")
        self.lanes_splitter.addWidget(self.lanes_placeholder)
        self._shared_lane = LaneWidget(None, SHARED_COLOR, self._clock)
        self._shared_lane.step_activated.connect(self._step_activated)
        self._shared_lane.hide()
        self.lanes_splitter.addWidget(self._shared_lane)
        self.lanes_splitter.setStretchFactor(1, 1)

        # --- bottom tabs ----------------------------------------------------------------
        self.log_pane = LogPane()
        # The timeline (pyqtgraph) is created when its tab first shows: see ``timeline``.
        self._timeline: TimelineWidget | None = None
        self._timeline_placeholder = QWidget()
        self.insight = InsightPanel()
        self.messages = QListWidget()
        self.messages.setWordWrap(True)
        self.bottom = QTabWidget()
        self.bottom.addTab(self.log_pane, "Log")
        self.bottom.addTab(self._timeline_placeholder, "Timeline")
        self.bottom.addTab(self.insight, "Emulation insight")
        self.bottom.addTab(self.messages, "Messages")
        self.bottom.currentChanged.connect(self._bottom_changed)

        results = QSplitter(Qt.Orientation.Vertical)
        results.setChildrenCollapsible(False)
        # Many platforms scroll sideways instead of widening the window.
        lanes_scroll = QScrollArea()
        lanes_scroll.setWidgetResizable(True)
        lanes_scroll.setFrameShape(QFrame.Shape.NoFrame)
        lanes_scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        lanes_scroll.setWidget(self.lanes_splitter)
        results.addWidget(lanes_scroll)
        results.addWidget(self.bottom)
        results.setStretchFactor(0, 3)
        results.setStretchFactor(1, 2)
        results.setSizes([380, 340])

        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(4, 0, 0, 0)
        right_layout.addLayout(header)
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

    def _respec(self, entry: history.HistoryEntry) -> None:
        try:
            spec = BuildSpec.from_json(entry.spec)
        except (ValueError, KeyError, TypeError) as exc:
            self.show_error(f"The spec of build {escape(entry.id)} cannot be reused: {exc}")
            return
        self.form.set_spec(spec)
        self.side.setCurrentIndex(0)

    # --- live builds --------------------------------------------------------------------------
    def start_build(self, spec: BuildSpec) -> None:
        """Validate and run ``spec`` with buildx; lanes follow it live."""
        if self.building():
            self.form.show_problems(["a build is already running: cancel it first"])
            return
        self.tasks.start(SESSION, self._build(spec))

    async def _build(self, spec: BuildSpec) -> None:
        run: BuildRun | PerPlatformRun = (
            PerPlatformRun(spec, preflight=preflight.validate)  # the index of those that built
            if spec.per_platform
            else BuildRun(spec, preflight=preflight.validate)
        )
        self._run = run
        self._run_done = False
        self._spec = spec
        self.show_form(False)  # the run gets the width; "Build form" brings it back
        targets = ", ".join(str(p) for p in spec.platforms) or "the builder's platform"
        self.attach(
            run.progress, f"Build of <b>{escape(spec.context)}</b> for {escape(targets)}", True
        )
        self.form.set_running(True)
        self.state.setText("validating the build…")
        warned = False
        try:
            async for batch in run.events():
                if not warned and run.validation is not None:
                    warned = True
                    for warning in run.validation.warnings:
                        self._add_message(f"WARNING: {warning}", "warning")
                    self.form.show_problems([], run.validation.warnings)
                self.on_events(batch)
            if isinstance(run, PerPlatformRun):  # which platforms the pushed index holds
                self.flush()  # the final state of the lanes first, then what the index holds
                show_per_platform(self, run.result)
        except BuildError as exc:
            self.live = False
            self._tick_timer.stop()
            self.cancel_button.setEnabled(False)
            self.form.show_problems(exc.errors, exc.warnings)
            items = "".join(f"<li>{escape(e)}</li>" for e in exc.errors)
            self.show_error(f"<b>The build was refused before it started:</b><ul>{items}</ul>")
            self.state.setText("not started")
        finally:
            self._run_done = True
            self.form.set_running(False)
            self.flush()
            self.history.refresh()

    def cancel(self) -> None:
        """Stop the live build (SIGINT, then SIGKILL of buildx's group) or the replay."""
        run = self._run
        if run is not None and not self._run_done:
            self.cancel_button.setEnabled(False)
            self.state.setText("canceling…")
            self.tasks.start(None, run.cancel())
            return
        self.tasks.cancel(SESSION)
        self.cancel_button.setEnabled(False)

    def lane(self, platform: Platform | None) -> LaneWidget | None:
        """The lane of ``platform`` (None: the shared steps), if the build has one."""
        return self._lanes.get(platform)

    def lanes(self) -> dict[Platform | None, LaneWidget]:
        return dict(self._lanes)

    @property
    def build_run(self) -> BuildRun | PerPlatformRun | None:
        return self._run

    # --- history ------------------------------------------------------------------------------
    def reopen(self, entry: history.HistoryEntry) -> None:
        """Show a saved build as it ran (its stream is re-parsed in a worker thread)."""
        if self._refuse_while_building():
            return
        self.tasks.start(SESSION, self._reopen(entry))

    async def _reopen(self, entry: history.HistoryEntry) -> None:
        try:
            progress = await asyncio.to_thread(history.load, entry)
        except history.HistoryError as exc:
            self.show_error(escape(str(exc)))
            return
        try:
            self._spec = BuildSpec.from_json(entry.spec)
        except (ValueError, KeyError, TypeError):
            self._spec = None
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.started))
        self.show_progress(progress, f"Build of {when} · <b>{escape(entry_image(entry))}</b>")

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
        self.messages.clear()
        # Lane widgets are reused from one build to the next (creating them costs ~10 ms each).
        for widget in self._pool:
            widget.hide()
        self._free = list(self._pool)
        self._lanes = {None: self._shared_lane}
        self._shared_lane.set_lane(None, SHARED_COLOR)
        self._shared_lane.model.reset(progress.shared)
        self.lanes_placeholder.hide()
        for lane in progress.lanes.values():
            self._lane_widget(lane)
        self.log_pane.set_progress(progress)
        for message in progress.messages:
            self._add_message(message.text, message.level)
        for warning in progress.warnings:
            self._add_message(f"WARNING: {warning.short}", "warning")
        self._last_timeline = 0.0
        self._last_insight = 0.0
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

    async def replay_bytes(
        self,
        data: bytes,
        title: str = "Recorded build",
        platforms: Sequence[Platform] = (),
        native: Platform | None = None,
        chunk: int = REPLAY_CHUNK,
        speed: float = 0.0,
    ) -> BuildProgress:
        """Feed a recorded stream through the parser like a live build.

        ``speed`` 0 plays it at once (yielding to the event loop between slices); otherwise the
        stream's own timestamps pace it (1.0 = real time), running steps' clocks tick, and
        quiet stretches longer than :data:`MAX_IDLE_S` are skipped.
        """
        parser = ProgressParser(platforms, native)
        self._spec = None
        self.attach(parser.progress, title, live=False)
        self.cancel_button.setEnabled(True)
        if speed > 0:
            chunk = min(chunk, PACED_CHUNK)
            self._tick_timer.start()
        try:
            for start in range(0, len(data), chunk):
                events = parser.feed(data[start : start + chunk])
                self.on_events(events)
                if speed > 0:
                    await self._pace(events, speed)
                await asyncio.sleep(0)
            self.on_events(parser.close())
        except asyncio.CancelledError:
            # Stopped half-way: end the model there, so nothing is left "running".
            if self.progress is parser.progress:
                self.on_events(parser.close(canceled=True))
                self.flush()
            raise
        finally:
            self._paced = None
            self.cancel_button.setEnabled(False)
        self.flush()
        return parser.progress

    async def _pace(self, events: Sequence[ProgressEvent], speed: float) -> None:
        """Sleep until the wall clock catches up with the stream's latest timestamp."""
        latest = 0.0
        for event in events:
            if type(event) is StepChanged:
                assert isinstance(event, StepChanged)
                for start, end in event.step.intervals[-1:]:
                    latest = max(latest, end if end is not None else start)
        if not latest:
            return
        now = time.monotonic()
        if self._paced is None:
            self._paced = (latest, now, speed)
            return
        stream_t0, wall_t0, _speed = self._paced
        delay = (latest - stream_t0) / speed - (now - wall_t0)
        if delay > MAX_IDLE_S:  # skip the quiet part: shift the origin
            self._paced = (stream_t0, wall_t0 - (delay - MAX_IDLE_S), speed)
            delay = MAX_IDLE_S
        if delay > 0:
            await asyncio.sleep(delay)

    def open_recording(self, path: str | Path) -> None:
        """Read a rawjson recording (plain or .gz) in a worker thread and replay it."""
        if self._refuse_while_building():
            return
        self.tasks.start(SESSION, self._open_recording(Path(path)))

    async def _open_recording(self, path: Path) -> None:
        try:
            data = await asyncio.to_thread(read_recording, path)
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            self.show_error(f"Cannot read the recording {path}: {exc}")
            return
        if not data.strip():
            self.show_error(f"The recording {path} is empty.")
            return
        speed = float(self.replay_speed.currentData() or 0.0)
        self.show_form(False)
        await self.replay_bytes(data, title=f"Recording <b>{escape(path.name)}</b>", speed=speed)
        if self.progress is not None and not self.progress.steps:
            self.show_error(
                f"{path.name} holds no BuildKit progress: record it with "
                "<code>docker buildx build --progress=rawjson … 2&gt; file</code>."
            )

    def building(self) -> bool:
        """A live build is running (replays and reopened builds do not count)."""
        return self._run is not None and not self._run_done

    def _refuse_while_building(self) -> bool:
        if self.building():
            self.show_error(
                "<b>A build is running.</b> Cancel it (or wait for it to end) before opening "
                "another build."
            )
            return True
        return False

    def show_progress(self, progress: BuildProgress, title: str) -> None:
        """Show a finished build (history) as it ended."""
        self.attach(progress, title, live=False)

    def _choose_recording(self) -> None:
        settings = QSettings()
        start = saved.read_str(settings, "builds/recording_dir", str(Path.home()))
        path, _filter = QFileDialog.getOpenFileName(
            self,
            "Open a recorded rawjson stream",
            start,
            "BuildKit rawjson (*.rawjson *.json *.log *.txt *.gz);;All files (*)",
        )
        if path:
            settings.setValue("builds/recording_dir", str(Path(path).parent))
            self.open_recording(path)

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
        by_lane: dict[Platform | None, list[Step]] = {}
        for step in changed:
            by_lane.setdefault(step.platform, []).append(step)
        for platform, steps in by_lane.items():
            lane_widget = self._lanes.get(platform)
            if lane_widget is not None:
                lane_widget.model.changed(steps)
        self.log_pane.model.forget_tags(changed)
        self.log_pane.sync(steps_added)
        self._refresh_lanes()
        self._refresh_header()
        self._refresh_side_panels(force=result is not None)
        if result is not None:
            self._show_result(result)

    def _lane_widget(self, lane: Lane | None) -> LaneWidget:
        if lane is None:
            return self._shared_lane
        widget = self._lanes.get(lane.platform)
        if widget is not None:
            return widget
        # Lanes arrive in platform order and take pooled widgets in splitter order, so the
        # lanes read left to right in the requested order with the shared steps last.
        if self._free:
            widget = self._free.pop(0)
        else:
            widget = LaneWidget(None, SHARED_COLOR, self._clock)
            widget.step_activated.connect(self._step_activated)
            self._pool.append(widget)
            position = len(self._pool)  # after the placeholder and the earlier lanes
            self.lanes_splitter.insertWidget(position, widget)
            self.lanes_splitter.setStretchFactor(position, 3)
        index = list(self.progress.lanes).index(lane.platform) if self.progress else 0
        color = lane_color(index)
        widget.set_lane(lane, color)
        widget.set_builder(self._spec.builder if self._spec is not None else "")
        widget.show()
        self.log_pane.model.add_platform_color(lane.platform, color)
        self._lanes[lane.platform] = widget
        return widget

    def lane_widgets(self) -> list[LaneWidget]:
        """The lanes shown, left to right (platforms in order, then the shared steps)."""
        shown = set(map(id, self._lanes.values()))
        widgets = [self.lanes_splitter.widget(i) for i in range(self.lanes_splitter.count())]
        return [w for w in widgets if isinstance(w, LaneWidget) and id(w) in shown]

    def _refresh_lanes(self) -> None:
        for widget in self._lanes.values():
            widget.refresh()
        shared = self._lanes.get(None)
        if shared is not None:
            shared.setVisible(shared.model.rowCount() > 0 or not self.progress)

    @property
    def timeline(self) -> TimelineWidget:
        """The timeline tab's widget, created (pyqtgraph imported) on first use."""
        if self._timeline is None:
            from mabgui.ui.views.builds import timeline  # pyqtgraph: only when it shows

            self._timeline = timeline.TimelineWidget()
            index = self.bottom.indexOf(self._timeline_placeholder)
            current = self.bottom.currentIndex() == index
            self.bottom.blockSignals(True)
            self.bottom.insertTab(index, self._timeline, "Timeline")
            self.bottom.removeTab(index + 1)
            if current:
                self.bottom.setCurrentIndex(index)
            self.bottom.blockSignals(False)
            self._timeline_placeholder.deleteLater()
        return self._timeline

    def _bottom_changed(self, _index: int) -> None:
        if self.bottom.currentWidget() is self._timeline_placeholder:
            _ = self.timeline  # its first showing creates it
        self._refresh_side_panels(force=True)

    def _refresh_side_panels(self, force: bool = False) -> None:
        now = time.monotonic()
        current = self.bottom.currentWidget()
        due = force or now - self._last_timeline >= TIMELINE_MS / 1e3
        if self._timeline is not None and current is self._timeline and due:
            self._last_timeline = now
            self.timeline.update_from(self.progress, self._clock())
        if current is self.insight and (force or now - self._last_insight >= INSIGHT_MS / 1e3):
            self._last_insight = now
            self.insight.update_from(self.progress)

    def _refresh_header(self) -> None:
        progress = self.progress
        if progress is None:
            self.state.setText("")
            return
        lanes = list(progress.lanes.values())
        failed = [ln for ln in lanes if ln.failed_step is not None]
        finished = [ln for ln in lanes if ln.completed is not None and ln.steps]
        parts = []
        if progress.result is not None:
            result = progress.result
            if result.ok:
                word = f"<b style='color:{STATE_COLORS[StepState.DONE]}'>succeeded</b>"
            elif result.canceled:
                word = f"<b style='color:{STATE_COLORS[StepState.CANCELED]}'>canceled</b>"
            else:
                word = f"<b style='color:{STATE_COLORS[StepState.ERROR]}'>failed</b>"
            parts.append(word)
        elif progress.steps:
            parts.append(f"<b style='color:{STATE_COLORS[StepState.RUNNING]}'>running</b>")
        else:
            parts.append("starting…")
        duration = progress.duration_s
        if duration is None and progress.started is not None and self.live:
            duration = max(0.0, self._clock() - progress.started)
        if duration is not None:
            parts.append(format_duration(duration))
        if lanes and progress.result is not None:
            counts: dict[str, int] = {}
            for lane in lanes:
                word = STATE_TEXT[shown_state(lane, progress.result)]
                counts[word] = counts.get(word, 0) + 1
            parts.append(", ".join(f"{n} {word}" for word, n in counts.items()))
        elif lanes:
            parts.append(f"{len(finished)}/{len(lanes)} platforms finished")
        if failed:
            parts.append("failed: " + ", ".join(escape(str(ln.platform)) for ln in failed))
        parts.append(f"{len(progress.log):,} log lines")
        self.state.setText(" · ".join(parts))

    def _show_result(self, result: BuildResult) -> None:
        self._tick_timer.stop()
        self.live = False
        self.cancel_button.setEnabled(False)
        for widget in self._lanes.values():
            widget.set_outcome(result)
        self._refresh_lanes()
        self._refresh_header()
        self._refresh_side_panels(force=True)
        if not result.ok:
            self.show_error(self._failure_text(result))
            if not result.canceled:
                self.select_failed_step()
        else:
            self.error.hide()
        self.result_ref = self._result_reference(result)
        self.inspect_button.setEnabled(bool(self.result_ref))
        self.inspect_button.setToolTip(
            f"Open {self.result_ref} in the Manifests view"
            if self.result_ref
            else "Only a build pushed to a registry can be inspected"
        )
        self.result_ref_label.setText(self.result_ref)
        self.result_row.setVisible(bool(self.result_ref))
        self.finished.emit(result)

    def select_failed_step(self) -> Step | None:
        """Select the first failed platform's failed step in its lane and show its log."""
        progress = self.progress
        if progress is None:
            return None
        for platform, lane in progress.lanes.items():
            step = lane.failed_step
            widget = self._lanes.get(platform)
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

    def _failure_text(self, result: BuildResult) -> str:
        progress = self.progress
        if result.canceled:
            return "<b>Build canceled.</b>"
        lines = []
        if progress is not None:
            for lane in progress.lanes.values():
                step = lane.failed_step
                if step is not None:
                    lines.append(
                        f"<b>{escape(str(lane.platform))}</b> failed at "
                        f"<b>{escape(step.label)}</b>: {escape(step.error)}"
                    )
            for step in progress.shared:
                if step.state is StepState.ERROR:
                    lines.append(f"<b>{escape(step.label)}</b>: {escape(step.error)}")
        if not lines:
            lines.append(escape(result.error or "the build failed"))
        return "<b>Build failed.</b><br>" + "<br>".join(lines)

    def show_error(self, html: str) -> None:
        self.error.setText(html)
        self.error.show()

    def _add_message(self, text: str, level: str) -> None:
        item = QListWidgetItem(text)
        if level == "error":
            item.setForeground(Qt.GlobalColor.darkRed)
        elif level == "warning":
            item.setForeground(Qt.GlobalColor.darkYellow)
        self.messages.addItem(item)

    def _tick(self) -> None:
        for widget in self._lanes.values():
            widget.model.tick()
        self._refresh_lanes()
        self._refresh_header()
        self._refresh_side_panels()

    def _clock(self) -> float:
        if self.live:
            return time.time()
        if self._paced is not None:  # a paced replay: the stream's own time
            stream_t0, wall_t0, speed = self._paced
            return stream_t0 + (time.monotonic() - wall_t0) * speed
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

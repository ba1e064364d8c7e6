"""Where a Builds view's progress comes from: a live build it drives, a saved build it reopens,
a recording it replays.

:class:`BuildSources` is a mixin of :class:`~mabgui.ui.views.builds.view.BuildsView`: it owns
the :class:`~mabgui.core.build.BuildRun` of a live build (start, cancel, refusal before the
start) and feeds reopened and recorded streams through the same parser. Everything it shows
goes through the view's :meth:`attach` / :meth:`on_events` / :meth:`flush`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, cast

from mabgui.core.build import BuildError, BuildRun, BuildSpec, history
from mabgui.core.build.history import HistoryEntry
from mabgui.core.perplatform import PerPlatformRun
from mabgui.core.platform import Platform
from mabgui.core.progress import BuildProgress, ProgressEvent, ProgressParser
from mabgui.ui.views.builds.history import entry_image
from mabgui.ui.views.builds.lanes import place
from mabgui.ui.views.builds.perplatform import show_result as show_per_platform
from mabgui.ui.views.builds.replay import PACED_CHUNK, REPLAY_CHUNK, Pacer, choose_recording
from mabgui.ui.views.builds.style import escape

if TYPE_CHECKING:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QComboBox, QLabel, QPushButton, QTabWidget

    from mabgui.ui.tasks import TaskManager
    from mabgui.ui.views.builds.form import BuildForm
    from mabgui.ui.views.builds.history import HistoryPanel
    from mabgui.ui.views.builds.lanes import LaneWidget
    from mabgui.ui.views.builds.view import BuildsView

SESSION = "session"  # the task group of what the view shows: one at a time, latest wins


class BuildSources:
    """Live builds, reopened builds and replays of a :class:`BuildsView` (a mixin)."""

    if TYPE_CHECKING:  # provided by the view
        tasks: TaskManager
        form: BuildForm
        history: HistoryPanel
        side: QTabWidget
        state: QLabel
        cancel_button: QPushButton
        replay_speed: QComboBox
        progress: BuildProgress | None
        live: bool
        _run: BuildRun | PerPlatformRun | None
        _run_done: bool
        _spec: BuildSpec | None
        _pacer: Pacer
        _tick_timer: QTimer

        def attach(self, progress: BuildProgress, title: str, live: bool = False) -> None: ...
        def on_events(self, events: Sequence[ProgressEvent]) -> None: ...
        def flush(self) -> None: ...
        def show_error(self, html: str) -> None: ...
        def show_form(self, shown: bool = True) -> None: ...
        def _add_message(self, text: str, level: str) -> None: ...
        def lane_widgets(self) -> list[LaneWidget]: ...

    def _respec(self, entry: HistoryEntry) -> None:
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
        # the checks, plus the push refusal and the node of each platform (form.check.plan)
        run: BuildRun | PerPlatformRun = (
            PerPlatformRun(spec, preflight=self.form.check.preflight)  # the index of those built
            if spec.per_platform
            else BuildRun(spec, preflight=self.form.check.preflight)
        )
        self._run = run
        self._run_done = False
        self._spec = spec
        self.show_form(False)  # the run gets the width; "Build form" brings it back
        targets = ", ".join(str(p) for p in spec.platforms) or "the builder's platform"
        self.attach(
            run.progress,
            f"Build of <b>{escape(spec.context)}</b> for {escape(targets)}",
            True,
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
                    for widget in self.lane_widgets():  # the nodes are known now
                        place(widget, self.form.check.plan)
                self.on_events(batch)
            if isinstance(run, PerPlatformRun):  # which platforms the pushed index holds
                self.flush()  # the final state of the lanes first, then what the index holds
                show_per_platform(cast("BuildsView", self), run.result)
        except BuildError as exc:
            self.live = False
            self._tick_timer.stop()
            self.cancel_button.setEnabled(False)
            self.form.show_problems(exc.errors, exc.warnings)
            items = "".join(f"<li>{escape(e)}</li>" for e in exc.errors)
            self.show_error(f"<b>The build was refused before it started:</b><ul>{items}</ul>")
            self.state.setText("not started")
            if self.form.check.offers_fix():
                self.show_form(True)  # the one-click fix is in the form
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
                    await self._pacer.pace(events, speed)
                await asyncio.sleep(0)
            self.on_events(parser.close())
        except asyncio.CancelledError:
            # Stopped half-way: end the model there, so nothing is left "running".
            if self.progress is parser.progress:
                self.on_events(parser.close(canceled=True))
                self.flush()
            raise
        finally:
            self._pacer.stop()
            self.cancel_button.setEnabled(False)
        self.flush()
        return parser.progress

    def open_recording(self, path: str | Path) -> None:
        """Read a rawjson recording (plain or .gz) in a worker thread and replay it."""
        if self._refuse_while_building():
            return
        self.tasks.start(SESSION, self._open_recording(Path(path)))

    async def _open_recording(self, path: Path) -> None:
        try:
            data = await asyncio.to_thread(history.read_recording, path)
        except history.HistoryError as exc:
            hint = f"<br><i>{escape(exc.hint)}</i>" if exc.hint else ""
            self.show_error(f"Cannot read the recording: {escape(exc.message)}{hint}")
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
        path = choose_recording(self)  # type: ignore[arg-type]  # the view is a QWidget
        if path:
            self.open_recording(path)

    # --- history ------------------------------------------------------------------------------
    def reopen(self, entry: HistoryEntry) -> None:
        """Show a saved build as it ran (its stream is re-parsed in a worker thread)."""
        if self._refuse_while_building():
            return
        self.tasks.start(SESSION, self._reopen(entry))

    async def _reopen(self, entry: HistoryEntry) -> None:
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

"""Builds view over recorded real rawjson streams (tests/fixtures/progress/, see its README)."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from mabgui.core import progress as P
from mabgui.core.build import BuildSpec, OutputKind
from mabgui.core.perplatform import PerPlatformRun
from mabgui.core.platform import Platform
from mabgui.ui.views.builds.insight import InsightModel
from mabgui.ui.views.builds.lanes import ObjectRole, StepsModel
from mabgui.ui.views.builds.log import SHARED, LogModel
from mabgui.ui.views.builds.view import BuildsView
from tests.conftest import FIXTURES
from tests.gui.conftest import run, run_until

STREAMS = FIXTURES / "progress"
ARM64 = Platform.parse("linux/arm64")
AMD64 = Platform.parse("linux/amd64")
ARMV7 = Platform.parse("linux/arm/v7")


def _data(name: str) -> bytes:
    return (STREAMS / name).read_bytes()


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Builds and their history go to a temporary data dir, never the user's."""
    monkeypatch.setenv("MABGUI_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


@pytest.fixture
def view(qtbot, qloop):  # type: ignore[no-untyped-def]
    widget = BuildsView(autoload=False)
    qtbot.addWidget(widget)
    widget.resize(1100, 760)
    widget.show()
    yield widget
    widget.tasks.cancel_all()
    widget.close()


def test_failed_build_marks_only_the_arm64_lane(view, qloop, qtmodeltester) -> None:  # type: ignore[no-untyped-def]
    finished = []
    view.finished.connect(finished.append)
    progress = run(qloop, view.replay_bytes(_data("fail-arm64.rawjson"), title="fail"))
    assert finished
    assert not finished[-1].ok
    lanes = view.lanes()
    assert set(lanes) == {AMD64, ARM64, ARMV7, None}
    assert lanes[ARM64].failed
    assert lanes[ARM64].error.isVisible()
    assert "RUN" in lanes[ARM64].current.full_text()
    assert "exit code: 1" in lanes[ARM64].error.text()
    assert not lanes[AMD64].failed
    assert not lanes[ARMV7].failed  # only canceled because arm64 failed
    assert "canceled" in lanes[ARMV7].state_label.text()
    assert "failed" in lanes[ARM64].state_label.text()
    assert view.error.isVisible()
    assert "linux/arm64" in view.error.text()
    assert "failed at" in view.error.text()
    assert "failed" in view.state.text()
    # the failed step row shows the error state and its log
    model = lanes[ARM64].model
    failed_rows = [
        r
        for r in range(model.rowCount())
        if model.data(model.index(r, 0), ObjectRole).state is P.StepState.ERROR
    ]
    assert len(failed_rows) == 1
    failed_step = model.data(model.index(failed_rows[0], 0), ObjectRole)
    assert failed_step is progress.lanes[ARM64].failed_step
    assert model.data(model.index(failed_rows[0], StepsModel.COL_TIME)).endswith("s")
    tooltip = model.data(model.index(failed_rows[0], 0), Qt.ItemDataRole.ToolTipRole)
    assert "exit code: 1" in tooltip
    for widget in lanes.values():
        qtmodeltester.check(widget.model)
    qtmodeltester.check(view.log_pane.model)
    assert view.messages.count() >= 1
    assert any("ERROR" in view.messages.item(i).text() for i in range(view.messages.count()))
    assert not view.cancel_button.isEnabled()
    assert not view.inspect_button.isEnabled()


def test_clicking_a_step_filters_the_log_to_it(view, qloop, qtbot) -> None:  # type: ignore[no-untyped-def]
    progress = run(qloop, view.replay_bytes(_data("fail-arm64.rawjson")))
    failed = progress.lanes[ARM64].failed_step
    assert failed is not None
    assert failed.log_line_count >= 1
    lane = view.lane(ARM64)
    row = lane.model.row_of(failed)
    rect = lane.view.visualRect(lane.model.index(row, 0))
    qtbot.mouseClick(lane.view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    log = view.log_pane
    assert view.bottom.currentWidget() is log
    assert log.platform_filter.currentData() == ARM64
    assert log.step_filter.currentData() is failed
    assert log.model.rowCount() == failed.log_line_count
    line = log.model.data(log.model.index(0, 0), ObjectRole)
    assert line.step is failed
    assert "aarch64" in log.model.data(log.model.index(0, 0))


def test_running_build_lanes_and_incremental_feed(view, qloop, qtmodeltester) -> None:  # type: ignore[no-untyped-def]
    """Half a stream shows running lanes; the rest in tiny chunks ends like a one-shot parse."""
    data = _data("multi-platform.rawjson")
    parser = P.ProgressParser([AMD64, ARM64, ARMV7])
    view.attach(parser.progress, "live", live=True)
    qtmodeltester.check(view.log_pane.model)
    half = len(data) // 2
    for start in range(0, half, 997):
        view.on_events(parser.feed(data[start : min(half, start + 997)]))
    view.flush()
    assert [w.lane.platform if w.lane else None for w in view.lane_widgets()] == [
        AMD64,
        ARM64,
        ARMV7,
        None,
    ]
    assert "running" in view.state.text()
    assert view.cancel_button.isEnabled()
    assert any(w.model.rowCount() for w in view.lanes().values())
    for start in range(half, len(data), 997):
        view.on_events(parser.feed(data[start : start + 997]))
    view.on_events(parser.close(0))
    run_until(
        qloop, lambda: parser.progress.result is not None and "succeeded" in view.state.text()
    )
    reference = P.parse_bytes(data, [AMD64, ARM64, ARMV7], exit_code=0)
    assert view.log_pane.model.stored_count() == len(reference.log)
    assert view.log_pane.model.rowCount() == len(reference.log)
    for platform, lane in reference.lanes.items():
        widget = view.lane(platform)
        assert widget.model.rowCount() == len(lane.steps)
        labels = [widget.model.data(widget.model.index(r, 0)) for r in range(len(lane.steps))]
        assert labels == [s.label for s in lane.steps]
        assert not widget.failed
        assert "done" in widget.state_label.text()
    assert not view.error.isVisible()
    assert not view.cancel_button.isEnabled()


def test_log_filters_by_platform_step_and_text(view, qloop, qtmodeltester) -> None:  # type: ignore[no-untyped-def]
    progress = run(qloop, view.replay_bytes(_data("multi-platform.rawjson")))
    model: LogModel = view.log_pane.model
    total = len(progress.log)
    assert model.rowCount() == total > 0
    stderr_rows = [
        r for r in range(total) if model.data(model.index(r, 0), Qt.ItemDataRole.ForegroundRole)
    ]
    assert stderr_rows
    assert all(progress.log.stream(model.line_index(r)) == P.STDERR for r in stderr_rows)
    model.set_filter(ARM64)
    qtmodeltester.check(model)
    arm_rows = model.rowCount()
    assert 0 < arm_rows < total
    assert all(
        model.data(model.index(r, 0), ObjectRole).step.platform == ARM64 for r in range(arm_rows)
    )
    step = next(s for s in progress.lanes[ARM64].steps if s.log_line_count)
    model.set_filter(ARM64, step)
    assert model.rowCount() == step.log_line_count
    model.set_filter(None, None, "LINE 2")
    assert model.rowCount() == 3  # "line 2" once per platform
    model.set_filter(SHARED)
    assert model.rowCount() == sum(s.log_line_count for s in progress.shared)
    model.set_filter()
    assert model.rowCount() == total


def test_log_model_appends_in_batches_while_filtered(qloop, qtmodeltester) -> None:  # type: ignore[no-untyped-def]
    data = _data("multi-platform.rawjson")
    parser = P.ProgressParser()
    model = LogModel()
    model.set_progress(parser.progress)
    model.set_filter(AMD64)
    qtmodeltester.check(model)
    inserted = []
    model.rowsInserted.connect(lambda _p, first, last: inserted.append((first, last)))
    for start in range(0, len(data), 4096):
        parser.feed(data[start : start + 4096])
        model.sync()
    parser.close()
    model.sync()
    expected = [
        i for i in range(len(parser.progress.log)) if parser.progress.log.step(i).platform == AMD64
    ]
    assert [model.line_index(r) for r in range(model.rowCount())] == expected
    assert sum(last - first + 1 for first, last in inserted) == len(expected)


def test_timeline_rows_bars_and_hover(view, qloop) -> None:  # type: ignore[no-untyped-def]
    progress = run(qloop, view.replay_bytes(_data("fail-arm64.rawjson")))
    view.bottom.setCurrentWidget(view.timeline)
    timeline = view.timeline
    assert timeline.rows[0] == "shared"
    assert any("linux/arm64" in r and "QEMU" in r for r in timeline.rows)
    assert any(r == "linux/amd64" for r in timeline.rows)
    assert len(timeline.emulated_rows) == 2
    runs = sum(len(s.intervals) for s in progress.steps.values())
    assert len(timeline.bars) == runs
    failed = progress.lanes[ARM64].failed_step
    bar = next(b for b in timeline.bars if b.step is failed)
    hit = timeline.bar_at((bar.x0 + bar.x1) / 2, bar.row)
    assert hit is not None
    assert hit.step is failed
    text = timeline.describe(hit)
    assert "linux/arm64" in text
    assert "failed" in text
    assert failed.name[:10] in text
    assert timeline.bar_at(-50.0, 0.0) is None
    # the real hover path: a mouse move over the bar in scene coordinates
    from PySide6.QtCore import QPointF

    box = timeline.plot.getPlotItem().getViewBox()
    scene_pos = box.mapViewToScene(QPointF((bar.x0 + bar.x1) / 2, bar.row))
    timeline.plot.scene().sigMouseMoved.emit(scene_pos)
    assert "linux/arm64" in timeline.plot.toolTip()
    assert "failed" in timeline.plot.toolTip()


def test_emulation_insight_lists_slowdowns(view, qloop, qtmodeltester) -> None:  # type: ignore[no-untyped-def]
    progress = run(qloop, view.replay_bytes(_data("multi-platform.rawjson")))
    view.bottom.setCurrentWidget(view.insight)
    model = view.insight.model
    qtmodeltester.check(model)
    costs = P.emulation_insight(progress)
    assert model.rowCount() == len(costs) > 0
    assert model.data(model.index(0, InsightModel.COL_RATIO)).endswith("×")
    assert "slower" in view.insight.summary.text()


def test_insight_suggests_cross_compiling_when_it_pays(qapp) -> None:  # type: ignore[no-untyped-def]
    from mabgui.ui.views.builds.insight import InsightPanel

    progress = P.parse_bytes(_data("multi-platform.rawjson"))
    panel = InsightPanel()
    # Stretch the emulated RUN steps: a 10x slowdown must bring the suggestion.
    for lane in progress.lanes.values():
        if lane.emulated:
            for step in lane.steps:
                if step.name.startswith("RUN") and step.intervals:
                    start, end = step.intervals[0]
                    assert end is not None
                    step.intervals[0] = (start, start + 10 * max(end - start, 0.2))
    panel.update_from(progress)
    assert not panel.hint.isHidden()
    assert "--platform=$BUILDPLATFORM" in panel.hint.text()
    panel.close()


def test_open_recording_plain_gz_and_bad_files(view, qloop, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    gz = tmp_path / "ci-build.rawjson.gz"
    gz.write_bytes(gzip.compress(_data("fail-arm64.rawjson")))
    results = []
    view.finished.connect(results.append)
    view.open_recording(gz)
    run_until(qloop, lambda: bool(results))
    assert "ci-build.rawjson.gz" in view.title.text()
    assert view.lane(ARM64).failed

    missing = tmp_path / "nope.rawjson"
    view.open_recording(missing)
    run_until(qloop, lambda: "Cannot read the recording" in view.error.text())
    assert view.error.isVisible()

    junk = tmp_path / "junk.txt"
    junk.write_text("just some text\nnot json at all\n")
    view.open_recording(junk)
    run_until(qloop, lambda: "holds no BuildKit progress" in view.error.text())
    assert view.messages.count() == 2


def test_cached_rebuild_and_cross_stage(view, qloop) -> None:  # type: ignore[no-untyped-def]
    progress = run(qloop, view.replay_bytes(_data("cached-rebuild.rawjson")))
    assert all(not w.failed for w in view.lanes().values())
    amd = view.lane(AMD64).model
    assert "cached" in [amd.data(amd.index(r, StepsModel.COL_TIME)) for r in range(amd.rowCount())]
    assert progress.result is not None
    assert progress.result.ok
    progress = run(qloop, view.replay_bytes(_data("cross-stage.rawjson")))
    cross = [s for s in progress.steps.values() if s.build_platform is not None]
    assert cross
    lane = view.lane(ARM64).model
    tips = [
        lane.data(lane.index(r, 0), Qt.ItemDataRole.ToolTipRole) for r in range(lane.rowCount())
    ]
    assert any("cross stage" in t for t in tips)


def test_big_log_filters_match_a_plain_scan(qloop, qtbot, qtmodeltester) -> None:  # type: ignore[no-untyped-def]
    """100k+ lines: index-merge and sliced (incremental) filtering give the plain-scan rows."""
    from mabgui.ui.views.builds.log import LogPane

    bench = Path(__file__).resolve().parents[2] / "bench" / "data"
    data = gzip.decompress((bench / "progress-3x30x200.rawjson.gz").read_bytes())
    parser = P.ProgressParser()
    for _ in range(6):  # the stream folded 6x into one model: 108k lines
        parser.feed(data)
    parser.close()
    progress = parser.progress
    log = progress.log
    assert len(log) > 100_000
    pane = LogPane()
    qtbot.addWidget(pane)
    pane.set_progress(progress)
    model = pane.model
    assert model.rowCount() == len(log)
    arm64 = next(p for p in progress.lanes if p.architecture == "arm64")
    expected = [i for i in range(len(log)) if log.step(i).platform == arm64]
    model.set_filter(arm64)  # synchronous, merged from the steps' index arrays
    assert [model.line_index(r) for r in range(model.rowCount())] == expected
    qtmodeltester.check(model)
    # through the pane (all platforms): sliced, the event loop keeps turning meanwhile
    pane.text_filter.setText("line 199:")
    run_until(qloop, lambda: model.filter[2] == "line 199:" and not model.pending())
    wanted = [i for i in range(len(log)) if "line 199:" in log.text(i)]
    assert [model.line_index(r) for r in range(model.rowCount())] == wanted
    assert pane.count.text() == f"{len(wanted):,} of {len(log):,} lines"
    pane.close()


def test_paced_replay_moves_like_a_live_build(view, qloop) -> None:  # type: ignore[no-untyped-def]
    """At 16× a recording plays over its own timeline: lanes are seen running, then done."""
    data = _data("multi-platform.rawjson")
    reference = P.parse_bytes(data)
    assert reference.duration_s is not None
    seen_running = []
    view.replay_speed.setCurrentIndex(view.replay_speed.findData(16.0))
    view.open_recording(STREAMS / "multi-platform.rawjson")

    def done() -> bool:
        if view.progress is not None and view.progress.steps and not view.progress.finished:
            seen_running.append("running" in view.state.text())
        return view.progress is not None and view.progress.finished

    t0 = time.monotonic()
    run_until(qloop, done, timeout=60)
    elapsed = time.monotonic() - t0
    assert any(seen_running)
    assert elapsed >= min(reference.duration_s / 16 * 0.5, 2.0) * 0.5
    assert "succeeded" in view.state.text()


def test_cancel_a_paced_replay_ends_it_as_canceled(view, qloop) -> None:  # type: ignore[no-untyped-def]
    view.replay_speed.setCurrentIndex(view.replay_speed.findData(1.0))
    view.open_recording(STREAMS / "multi-platform.rawjson")
    run_until(qloop, lambda: view.progress is not None and bool(view.progress.steps))
    assert view.cancel_button.isEnabled()
    view.cancel_button.click()
    run_until(qloop, lambda: view.progress is not None and view.progress.finished)
    assert view.progress.result is not None
    assert view.progress.result.canceled
    assert "canceled" in view.state.text()
    assert not any(s.state is P.StepState.RUNNING for s in view.progress.steps.values())
    assert not view.cancel_button.isEnabled()


def test_a_cancelled_build_shows_every_lane_cancelled(view, qloop) -> None:  # type: ignore[no-untyped-def]
    """Cut where amd64 has run 6 of its steps and its later ones never started: after the
    user's cancel no lane reads running, no step runs, and the lanes say the user stopped it."""
    lines = _data("multi-platform.rawjson").splitlines(keepends=True)
    parser = P.ProgressParser()
    parser.feed(b"".join(lines[: int(len(lines) * 0.2)]))
    parser.close(canceled=True)
    progress = parser.progress
    assert str(progress.lanes[AMD64].state) == "running"  # the core's own reading
    view.show_progress(progress, "cancelled")
    for platform in (AMD64, ARM64, ARMV7):
        lane = view.lane(platform)
        assert lane is not None
        assert lane.state_label.text().startswith("canceled"), platform
        assert "because you cancelled" in lane.current.full_text(), platform
        assert "another step failed" not in lane.current.full_text()
        assert "▶" not in lane.current.full_text()
    assert "running" not in view.state.text()
    assert "3 canceled" in view.state.text()
    assert not any(s.state is P.StepState.RUNNING for s in progress.steps.values())


def test_a_failure_selects_the_failed_step_and_its_log(view, qloop) -> None:  # type: ignore[no-untyped-def]
    progress = run(qloop, view.replay_bytes(_data("fail-arm64.rawjson"), title="fail"))
    failed = progress.lanes[ARM64].failed_step
    assert failed is not None
    lane = view.lane(ARM64)
    assert lane is not None
    assert lane.selected_step() is failed
    assert view.bottom.currentWidget() is view.log_pane
    assert view.log_pane.step_filter.currentData() is failed
    assert view.log_pane.model.rowCount() > 0
    bar = view.log_pane.view.verticalScrollBar()
    assert bar.value() == bar.maximum()  # the error is the last lines of the step


def test_a_started_build_folds_the_form_away(view, qloop) -> None:  # type: ignore[no-untyped-def]
    assert view.side.isVisible()
    view.start_build(_spec())  # refused (no such context), but it was started
    run_until(qloop, lambda: not view.building())
    assert not view.side.isVisible()
    assert not view.form_button.isChecked()
    view.form_button.click()
    assert view.side.isVisible()


def test_a_per_platform_spec_runs_as_a_per_platform_build(view, qloop) -> None:  # type: ignore[no-untyped-def]
    spec = BuildSpec(
        context="/nonexistent/mabgui-ui-test", platforms=[AMD64, ARM64],
        tags=["127.0.0.1:5000/x:1"], output=OutputKind.PUSH, per_platform=True,
    )  # fmt: skip
    view.start_build(spec)
    run_until(qloop, lambda: not view.building())
    assert isinstance(view.build_run, PerPlatformRun)  # refused before anything started
    assert "/nonexistent/mabgui-ui-test" in view.form.problems.text()


def _spec() -> BuildSpec:
    return BuildSpec(context="/nonexistent/mabgui-ui-test", platforms=[AMD64])

"""Step names read in full in the lanes: rows wrap and grow, steps that differ only at their end
look different as displayed, at the sizes people use (issue 14)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import qasync
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontMetrics, QImage
from pytestqt.qtbot import QtBot

from mabgui.core.platform import Platform
from mabgui.core.progress import Lane, Step, parse_step_name
from mabgui.ui.main_window import MainWindow
from mabgui.ui.views.builds.lanes import LaneWidget, StepsModel
from mabgui.ui.views.builds.step_delegate import MAX_LINES, shown_name
from mabgui.ui.views.builds.view import BuildsView
from tests.gui import tour
from tests.gui.conftest import run

ARM64 = Platform.parse("linux/arm64")
PREFIX = '[linux/arm64 3/4] RUN echo "checking that the generated configuration for'
ENDS = (' the release build is complete"', ' the debug build is complete"')


def _step(raw_name: str, order: int) -> Step:
    parsed = parse_step_name(raw_name)
    return Step(
        digest=f"sha256:{order:064x}",
        raw_name=raw_name,
        name=parsed.name,
        platform=ARM64,
        stage=parsed.stage,
        index=parsed.index,
        total=parsed.total,
        order=order,
    )


def _lane(names: list[str]) -> Lane:
    return Lane(platform=ARM64, emulated=True, steps=[_step(n, i) for i, n in enumerate(names)])


def _row_image(widget: LaneWidget, row: int) -> QImage:
    """The Step cell of ``row`` as painted."""
    view = widget.view
    rect = view.visualRect(widget.model.index(row, StepsModel.COL_STEP))
    return view.viewport().grab(rect).toImage()


def _shown(widget: LaneWidget, qtbot: QtBot, width: int) -> None:
    widget.resize(width, 420)
    widget.show()
    qtbot.waitExposed(widget)
    column = widget.view.header()
    # the rows are laid out again once the column has its width (one relayout per turn)
    qtbot.waitUntil(lambda: column.sectionSize(StepsModel.COL_STEP) < widget.width() - 40)
    qtbot.wait(20)


@pytest.mark.parametrize("width", [205, 260])
def test_steps_differing_only_at_their_end_are_told_apart(qtbot: QtBot, width: int) -> None:
    """205 px is a platform lane at 1024×700 with 3 platforms and the shared lane."""
    widget = LaneWidget(_lane([PREFIX + end for end in ENDS]), "#805ad5")
    qtbot.addWidget(widget)
    widget.view.setAlternatingRowColors(False)  # both rows on the same background
    _shown(widget, qtbot, width)

    spacing = QFontMetrics(widget.view.font()).lineSpacing()
    shown = []
    for row, end in enumerate(ENDS):
        lines = widget.step_lines(row)
        text = "".join(lines)
        assert 1 < len(lines) <= MAX_LINES
        # the distinguishing end is shown whole (a name cut to fit loses its middle only)
        assert text.replace(" ", "").endswith(end.replace(" ", "").removeprefix("the")), lines
        # the row grew to hold every line (nothing clipped below the cell)
        rect = widget.view.visualRect(widget.model.index(row, StepsModel.COL_STEP))
        assert rect.height() >= len(lines) * spacing, (rect, lines)
        shown.append(text)
    assert shown[0] != shown[1]
    assert _row_image(widget, 0) != _row_image(widget, 1)  # and they look different


def test_rows_rewrap_when_the_lane_widens(qtbot: QtBot) -> None:
    widget = LaneWidget(_lane([PREFIX + ENDS[0]]), "#805ad5")
    qtbot.addWidget(widget)
    _shown(widget, qtbot, 180)
    index = widget.model.index(0, StepsModel.COL_STEP)
    narrow = widget.view.visualRect(index).height()
    narrow_lines = len(widget.step_lines(0))
    widget.resize(900, 420)
    qtbot.waitUntil(lambda: widget.view.visualRect(index).height() < narrow)
    assert len(widget.step_lines(0)) < narrow_lines


def test_a_very_long_name_keeps_its_start_and_its_end(qtbot: QtBot) -> None:
    middle = " && ".join(f"make target-{i}" for i in range(40))
    name = f"[linux/arm64 2/4] RUN {middle} && echo the-very-end"
    widget = LaneWidget(_lane([name]), "#805ad5")
    qtbot.addWidget(widget)
    _shown(widget, qtbot, 205)
    lines = widget.step_lines(0)
    assert len(lines) == MAX_LINES
    assert " ".join(lines[: MAX_LINES // 2]).startswith("[2/4] RUN make target-0")
    assert lines[MAX_LINES // 2].startswith("…")
    assert " ".join(lines[MAX_LINES // 2 :]).endswith("echo the-very-end")
    tooltip = widget.model.index(0, StepsModel.COL_STEP).data(Qt.ItemDataRole.ToolTipRole)
    assert "make target-20 &amp;&amp;" in tooltip  # the tooltip has all of it


def test_digests_are_shortened_for_display_only() -> None:
    label = "[1/4] FROM docker.io/library/busybox:latest@sha256:" + "0123456789ab" + "c" * 52
    assert shown_name(label) == "[1/4] FROM docker.io/library/busybox:latest@sha256:0123456789ab…"
    assert shown_name("[2/4] COPY a /a") == "[2/4] COPY a /a"


@pytest.fixture
def window(
    qtbot: QtBot, qloop: qasync.QEventLoop, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MainWindow]:
    monkeypatch.setenv("MABGUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MABGUI_CACHE_DIR", str(tmp_path / "cache"))
    win = MainWindow()
    win.show()
    yield win
    run(qloop, win.shutdown())
    win.close()
    win.deleteLater()


@pytest.mark.parametrize("size", [(1024, 700), (1200, 760)])
def test_every_step_of_the_finished_build_reads_in_full(
    window: MainWindow, qloop: qasync.QEventLoop, qtbot: QtBot, size: tuple[int, int]
) -> None:
    """The real window with 3 platform lanes and the shared lane: each row shows its whole
    name (digests shortened) on rows tall enough for it, and no two steps look alike."""
    run(qloop, tour.STATES["build-finished"](window))
    window.resize(*size)
    qtbot.waitUntil(lambda: window.width() == size[0])
    qtbot.wait(50)
    view = window.views["Builds"]
    assert isinstance(view, BuildsView)
    lanes = view.lane_widgets()
    assert len(lanes) == 4
    for widget in lanes:
        spacing = QFontMetrics(widget.view.font()).lineSpacing()
        texts = []
        for row, step in enumerate(widget.model.steps):
            lines = widget.step_lines(row)
            text = "".join(lines)
            assert len(lines) <= MAX_LINES
            if len(lines) == MAX_LINES and lines[MAX_LINES // 2].startswith("…"):
                # cut in the middle: its start and its end stay
                assert shown_name(step.label).endswith(lines[-1])
            else:
                assert text == shown_name(step.label)
            rect = widget.view.visualRect(widget.model.index(row, StepsModel.COL_STEP))
            assert rect.height() >= len(lines) * spacing
            texts.append(text)
        assert len(set(texts)) == len(texts)

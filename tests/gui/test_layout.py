"""Every area at the sizes people use: no text cut without an ellipsis and tooltip, no overlap.

The window goes through the picture tour's states (tests/gui/tour.py) at 1024×700, 1200×760 and
1600×1000, and the walk (tests/gui/layout_walk.py) judges every visible label, button, tab and
header. The window's minimum width is at most 1000 px.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import qasync
from pytestqt.qtbot import QtBot

from mabgui.ui.main_window import MainWindow
from tests.gui import tour
from tests.gui.conftest import run
from tests.gui.layout_walk import problems

SIZES = ((1024, 700), (1200, 760), (1600, 1000))


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MABGUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MABGUI_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "data"


@pytest.fixture
def window(qtbot: QtBot, qloop: qasync.QEventLoop) -> Iterator[MainWindow]:
    win = MainWindow()
    win.show()
    yield win
    run(qloop, win.shutdown())
    win.close()
    win.deleteLater()


def test_the_window_fits_a_1024_px_screen(window: MainWindow) -> None:
    assert window.minimumSizeHint().width() <= 1000
    assert window.minimumSizeHint().height() <= 700


@pytest.mark.parametrize("state", list(tour.STATES))
def test_nothing_cut_or_overlapping(
    window: MainWindow, qloop: qasync.QEventLoop, qtbot: QtBot, state: str
) -> None:
    run(qloop, tour.STATES[state](window))
    found: dict[str, list[str]] = {}
    for width, height in SIZES:
        window.resize(width, height)
        qtbot.waitUntil(lambda: window.width() == width)  # noqa: B023 - waited for here
        qtbot.wait(30)
        issues = problems(window)
        if issues:
            found[f"{width}×{height}"] = issues
    assert not found, "\n".join(f"{size}: {p}" for size, ps in found.items() for p in ps)


def test_the_walk_sees_cut_texts_and_overlaps(qtbot: QtBot) -> None:
    """The walk itself: a label too narrow, a button squeezed, two widgets on each other."""
    from PySide6.QtWidgets import QLabel, QPushButton, QWidget

    from mabgui.ui.widgets.elided import ElidedLabel

    host = QWidget()
    qtbot.addWidget(host)
    host.resize(400, 200)
    cut = QLabel("linux/arm/v7 runs under QEMU", host)
    cut.setGeometry(0, 0, 60, 20)
    elided = ElidedLabel("linux/arm/v7 runs under QEMU", host)
    elided.setGeometry(0, 30, 60, 20)
    squeezed = QPushButton("Open in Manifests", host)
    squeezed.setGeometry(0, 60, 40, 24)
    on_top = QPushButton("Copy", host)
    on_top.setGeometry(20, 60, 80, 24)
    host.show()
    qtbot.waitExposed(host)
    found = "\n".join(problems(host))
    assert "linux/arm/v7 runs" in found  # the plain label
    assert found.count("linux/arm/v7") == 1  # the elided one (ellipsis + tooltip) is fine
    assert "narrower than its text" in found
    assert "overlaps" in found

"""The main window offscreen: four areas, engine status, diagnosis banner, remembered geometry."""

from __future__ import annotations

import qasync
from PySide6.QtCore import QSettings
from pytestqt.qtbot import QtBot

from mabgui.core import doctor
from mabgui.ui.main_window import AREAS, MainWindow
from tests.conftest import Engine
from tests.gui.conftest import run


def _window(qtbot: QtBot) -> MainWindow:
    window = MainWindow()
    qtbot.addWidget(window)
    return window


def _close(loop: qasync.QEventLoop, window: MainWindow) -> None:
    """Close as the app does: the window, then every view's work in flight."""
    window.close()
    run(loop, window.shutdown())
    assert not any(r.running_count() for r in window.task_runners())


def test_four_areas_and_navigation(qtbot: QtBot, qloop: qasync.QEventLoop) -> None:
    window = _window(qtbot)
    window.show()
    assert [window.nav.item(i).text() for i in range(window.nav.count())] == list(AREAS)
    assert window.stack.count() == 4
    window.nav.setCurrentRow(3)
    assert window.stack.currentWidget() is window.views["Manifests"]
    assert "mabgui" in window.about_text()
    _close(qloop, window)


def test_engine_status_shows_the_real_engine(
    qtbot: QtBot, qloop: qasync.QEventLoop, engine: Engine
) -> None:
    window = _window(qtbot)
    window.show()
    window.check_engine()
    run(qloop, window.tasks.wait_all())
    text = window.engine_status.label.text()
    assert "context default" in text
    assert "buildx 0.13.1" in text
    assert not window.engine_status.retry.isVisible()
    assert window.banner.isHidden()
    _close(qloop, window)


def test_unreachable_daemon_shows_retry_and_banner(
    qtbot: QtBot, qloop: qasync.QEventLoop, monkeypatch: object, tmp_path: object
) -> None:
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing.sock")
    window = _window(qtbot)
    window.show()
    window.check_engine()
    run(qloop, window.tasks.wait_all())
    assert window.engine_status.label.text().startswith("Docker is not reachable")
    assert window.engine_status.retry.isVisible()
    assert window.banner.isVisible()
    assert "Multi-platform builds cannot run yet" in window.banner.text.text()
    assert window.diagnosis is not None
    assert not window.diagnosis.multiplatform_ready
    _close(qloop, window)


def test_geometry_is_remembered(qtbot: QtBot, qloop: qasync.QEventLoop) -> None:
    window = _window(qtbot)
    window.show()
    # The offscreen screen is 800x600 and restoring clamps the width to it: compare heights.
    window.resize(window.width(), 450)
    window.nav.setCurrentRow(2)
    _close(qloop, window)
    again = _window(qtbot)
    assert again.height() == 450
    assert again.nav.currentRow() == 2
    assert QSettings().value("window/area") in (2, "2")


def test_banner_lists_fixes(qtbot: QtBot) -> None:
    window = _window(qtbot)
    diagnosis = doctor.Diagnosis(
        [
            doctor.Check(
                "binfmt", "QEMU emulators", doctor.Status.FAIL, "not mounted", "mount it <now>"
            )
        ]
    )
    window.banner.show_diagnosis(diagnosis)
    assert "mount it &lt;now&gt;" in window.banner.text.text()

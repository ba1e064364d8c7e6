"""The main window offscreen: four areas, engine status, diagnosis banner, remembered geometry."""

from __future__ import annotations

from pathlib import Path

import pytest
import qasync
from PySide6.QtCore import QByteArray, QObject, QSettings, QUrl, Slot
from PySide6.QtGui import QDesktopServices
from pytestqt.qtbot import QtBot

from mabgui.core import doctor, log
from mabgui.ui.main_window import AREAS, MainWindow
from tests.gui.conftest import run


def make_window(qtbot: QtBot) -> MainWindow:
    window = MainWindow()
    qtbot.addWidget(window)
    return window


def close_window(loop: qasync.QEventLoop, window: MainWindow) -> None:
    """Close as the app does: the window, then every view's work in flight."""
    window.close()
    run(loop, window.shutdown())
    assert not any(r.running_count() for r in window.task_runners())


def test_four_areas_and_navigation(qtbot: QtBot, qloop: qasync.QEventLoop) -> None:
    window = make_window(qtbot)
    window.show()
    assert [window.nav.item(i).text() for i in range(window.nav.count())] == list(AREAS)
    assert window.stack.count() == 4
    window.nav.setCurrentRow(3)
    assert window.stack.currentWidget() is window.views["Manifests"]
    assert "mabgui" in window.about_text()
    close_window(qloop, window)


def test_unreachable_daemon_shows_retry_and_banner(
    qtbot: QtBot, qloop: qasync.QEventLoop, monkeypatch: object, tmp_path: object
) -> None:
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing.sock")
    window = make_window(qtbot)
    window.show()
    window.check_engine()
    run(qloop, window.tasks.wait_all())
    assert window.engine_status.label.text().startswith("Docker is not reachable")
    assert window.engine_status.retry.isVisible()
    assert window.banner.isVisible()
    assert "Multi-platform builds cannot run yet" in window.banner.text.text()
    assert window.diagnosis is not None
    assert not window.diagnosis.multiplatform_ready
    close_window(qloop, window)


def test_geometry_is_remembered(qtbot: QtBot, qloop: qasync.QEventLoop) -> None:
    window = make_window(qtbot)
    window.show()
    # The offscreen screen is 800x600 and restoring clamps the width to it: compare heights.
    window.resize(window.width(), 450)
    window.nav.setCurrentRow(2)
    close_window(qloop, window)
    again = make_window(qtbot)
    assert again.height() == 450
    assert again.nav.currentRow() == 2
    assert QSettings().value("window/area") in (2, "2")


def test_banner_lists_fixes(qtbot: QtBot) -> None:
    window = make_window(qtbot)
    diagnosis = doctor.Diagnosis(
        [
            doctor.Check(
                "binfmt", "QEMU emulators", doctor.Status.FAIL, "not mounted", "mount it <now>"
            )
        ]
    )
    window.banner.show_diagnosis(diagnosis)
    assert "mount it &lt;now&gt;" in window.banner.text.text()


_CORRUPT = [
    ("builds/last_spec", "[1]"),
    ("builds/last_spec", "{not json"),
    ("builds/last_spec", '{"build_args": [1], "platforms": 5}'),
    ("builds/last_spec", '{"platforms": ["not a platform!"], "output": "nonsense"}'),
    ("builds/last_spec", QByteArray(b"\xff\x00")),
    ("window/geometry", "garbage"),
    ("window/geometry", QByteArray(b"\x00\x01 not a geometry")),
    ("window/state", 5),
    ("window/area", "abc"),
    ("window/area", ["1", "2"]),
    ("manifests/history", 42),
    ("emulators/backend", 7),
    ("builds/recording_dir", ["x"]),
]


@pytest.mark.parametrize(("key", "value"), _CORRUPT)
def test_a_corrupt_setting_never_stops_the_window(
    qtbot: QtBot, qloop: qasync.QEventLoop, key: str, value: object
) -> None:
    settings = QSettings()
    settings.setValue(key, value)
    settings.sync()
    window = make_window(qtbot)
    window.show()
    assert window.stack.count() == len(AREAS)
    for name in AREAS:  # every area is created when it first shows
        window.show_area(AREAS.index(name))
    if key == "builds/last_spec":
        # the spec could not be used: it is forgotten, the form keeps its defaults
        assert QSettings().value(key) is None
    close_window(qloop, window)


@pytest.mark.qt_log_ignore("QVariant::load")
def test_an_unreadable_settings_file_never_stops_the_window(
    qtbot: QtBot, qloop: qasync.QEventLoop
) -> None:
    path = Path(QSettings().fileName())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        b"[builds]\nlast_spec=@Variant(\\0\\0\\0\\x7f\\0\\0\\0\\xffgarbage)\n"
        b"[window]\ngeometry=@ByteArray(\\x1\\x2)\nstate=@Rect(1 2)\narea=@Size(\n"
        b"\xff\xfe not even text\n"
    )
    window = make_window(qtbot)
    window.show()
    assert window.stack.count() == len(AREAS)
    close_window(qloop, window)


def test_help_shows_the_log_folder(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(log, "log_dir", lambda: tmp_path / "logs")
    opened: list[QUrl] = []

    class Catcher(QObject):
        @Slot(QUrl)
        def open(self, url: QUrl) -> None:
            opened.append(url)

    catcher = Catcher()
    QDesktopServices.setUrlHandler("file", catcher, "open")
    try:
        window = make_window(qtbot)
        help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
        assert window.show_log_action in help_menu.actions()
        window.show_log_action.trigger()
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert [u.toLocalFile() for u in opened] == [str(tmp_path / "logs")]
    assert (tmp_path / "logs").is_dir()

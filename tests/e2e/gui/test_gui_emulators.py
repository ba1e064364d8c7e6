"""The Emulators view on this host's binfmt_misc and the real Docker daemon."""

from __future__ import annotations

import subprocess

import pytest
import qasync
from pytestqt.qtbot import QtBot

from mabgui.core.binfmt import LocalBinfmt
from mabgui.core.binfmt.daemon import DaemonBinfmt
from mabgui.core.platform import Platform
from mabgui.ui.main_window import MainWindow
from mabgui.ui.models.emulators import COL_BUILDERS, COL_NAME
from mabgui.ui.views.emulators.view import EmulatorsView
from tests.conftest import Engine
from tests.gui.conftest import run, run_until
from tests.gui.test_emulators_view import recorded_builders, row_of

pytestmark = pytest.mark.engine


def test_real_host_and_daemon_errors(
    qtbot: QtBot, qloop: qasync.QEventLoop, engine: Engine
) -> None:
    view = EmulatorsView(backend=LocalBinfmt())
    qtbot.addWidget(view)
    view.show()
    view.refresh()
    run_until(qloop, lambda: view.builders is not None, timeout=60)
    run(qloop, view.tasks.wait_all())
    row = row_of(view, "qemu-s390x")
    assert view.model.index(row, COL_NAME).data() == "qemu-s390x"
    assert "default" in view.model.index(row, COL_BUILDERS).data()
    view.close()

    missing = f"{engine.registry}/mabgui-emulators-test-missing:none"
    view = EmulatorsView(backend=DaemonBinfmt(missing), list_builders=recorded_builders)
    qtbot.addWidget(view)
    view.show()
    view.refresh()
    run(qloop, view.tasks.wait_all())
    assert f"the helper image {missing} is not on the Docker daemon" in view.message.text()
    assert "is a setting" in view.message.text()
    assert view.images.isVisible()
    view.close()


def test_the_window_passes_the_daemons_platform_down(
    qtbot: QtBot, qloop: qasync.QEventLoop, engine: Engine
) -> None:
    reported = subprocess.run(
        [engine.docker, "info", "--format", "{{.OSType}}/{{.Architecture}}"],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout.strip()  # fmt: skip
    window = MainWindow()
    qtbot.addWidget(window)
    emulators = window.views["Emulators"]
    assert isinstance(emulators, EmulatorsView)
    assert emulators.native is None
    window.check_engine()
    run(qloop, window.tasks.wait_all())
    assert emulators.native == Platform.parse(reported)
    window.close()
    run(qloop, window.shutdown())

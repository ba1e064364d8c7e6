"""The main window's engine status against the real engine."""

from __future__ import annotations

import re

import pytest
import qasync
from pytestqt.qtbot import QtBot

from tests.conftest import Engine
from tests.gui.conftest import run
from tests.gui.test_main_window import close_window, make_window

pytestmark = pytest.mark.engine


def test_engine_status_shows_the_real_engine(
    qtbot: QtBot, qloop: qasync.QEventLoop, engine: Engine
) -> None:
    window = make_window(qtbot)
    window.show()
    window.check_engine()
    run(qloop, window.tasks.wait_all())
    text = window.engine_status.label.text()
    assert "context default" in text
    assert re.search(r"buildx \d+\.\d+\.\d+", text)
    assert not window.engine_status.retry.isVisible()
    assert window.banner.isHidden()
    close_window(qloop, window)

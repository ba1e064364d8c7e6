"""The UI's task manager: latest wins per group, owned by a widget, one error path, bounded
close."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import time

import pytest
import qasync
import shiboken6
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from mabgui.core.errors import MabguiError
from mabgui.ui import tasks
from mabgui.ui.main_window import MainWindow
from mabgui.ui.tasks import SHUTDOWN_BOUND_S, TaskFailure, TaskManager
from tests.gui.conftest import run, run_until


class _Unreachable(MabguiError):
    kind = "unreachable"


async def _forever() -> None:
    await asyncio.Event().wait()


async def _stubborn(seconds: float, started: asyncio.Event, release: asyncio.Event) -> None:
    """Ignores its cancellation for ``seconds`` (a misbehaving task the close must not wait for),
    or until the test ``release`` s it."""
    started.set()
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        end = time.monotonic() + seconds
        while time.monotonic() < end and not release.is_set():
            try:
                await asyncio.wait_for(release.wait(), end - time.monotonic())
            except (asyncio.CancelledError, TimeoutError):
                continue
        raise


def _owner(qtbot: QtBot) -> QWidget:
    widget = QWidget()
    qtbot.addWidget(widget)
    return widget


def test_latest_wins_per_group(qtbot: QtBot, qloop: qasync.QEventLoop) -> None:
    manager = TaskManager(_owner(qtbot))
    first = manager.start("refresh", _forever())
    other = manager.start("details", _forever())
    second = manager.start("refresh", _forever())
    run_until(qloop, first.done)
    assert first.cancelled()
    assert manager.task("refresh") is second
    assert manager.running("refresh")
    assert manager.running("details")
    assert manager.running_count() == 2
    manager.cancel("refresh")
    manager.cancel("details")
    assert run(qloop, manager.wait_all(timeout=5))
    assert second.cancelled()
    assert other.cancelled()
    assert not manager.running("refresh")
    assert manager.task("refresh") is None


def test_ungrouped_tasks_run_side_by_side(qtbot: QtBot, qloop: qasync.QEventLoop) -> None:
    manager = TaskManager(_owner(qtbot))
    results: list[int] = []

    async def put(value: int) -> None:
        await asyncio.sleep(0)
        results.append(value)

    manager.start(None, put(1))
    manager.start(None, put(2))
    assert run(qloop, manager.wait_all(timeout=5))
    assert sorted(results) == [1, 2]


def test_tasks_are_cancelled_when_the_owner_is_destroyed(
    qtbot: QtBot, qloop: qasync.QEventLoop
) -> None:
    owner = QWidget()
    manager = TaskManager(owner)
    task = manager.start("refresh", _forever())
    destroyed: list[bool] = []
    owner.destroyed.connect(lambda *_: destroyed.append(True))
    shiboken6.delete(owner)  # as Qt deletes a view with its window
    assert destroyed
    run_until(qloop, task.done, timeout=5)
    assert task.cancelled()


def test_mabgui_error_is_shown_with_its_hint(
    qtbot: QtBot, qloop: qasync.QEventLoop, caplog: pytest.LogCaptureFixture
) -> None:
    failures: list[TaskFailure] = []
    manager = TaskManager(_owner(qtbot), on_failure=failures.append)

    async def fail() -> None:
        raise _Unreachable("Docker is not reachable", "start dockerd")

    manager.start("refresh", fail())
    run_until(qloop, lambda: bool(failures), timeout=5)
    (failure,) = failures
    assert failure == TaskFailure(
        "Docker is not reachable", "start dockerd", False, "unreachable", "refresh"
    )
    assert failure.text == "Docker is not reachable\nstart dockerd"
    # an expected error is logged without a traceback
    records = [r for r in caplog.records if r.name == "mabgui.ui"]
    assert records
    assert all(not r.exc_info and not r.exc_text for r in records)


def test_unexpected_exception_is_logged_with_traceback_and_shown_as_internal(
    qtbot: QtBot, qloop: qasync.QEventLoop, caplog: pytest.LogCaptureFixture
) -> None:
    failures: list[TaskFailure] = []
    manager = TaskManager(_owner(qtbot), on_failure=failures.append)

    async def broken() -> None:
        {}["missing"]

    with caplog.at_level(logging.ERROR, logger="mabgui.ui"):
        manager.start("refresh", broken())
        run_until(qloop, lambda: bool(failures), timeout=5)
    (failure,) = failures
    assert failure.internal
    assert failure.message == "Internal error: KeyError: 'missing'"
    assert "log folder" in failure.hint
    (record,) = [r for r in caplog.records if r.name == "mabgui.ui"]
    assert record.levelno == logging.ERROR
    text = caplog.text
    assert "Traceback" in text
    assert "in broken" in text


def test_a_handler_method_does_not_keep_its_view_alive(
    qtbot: QtBot, qloop: qasync.QEventLoop
) -> None:
    class View(QWidget):
        def __init__(self) -> None:
            super().__init__()
            self.tasks = TaskManager(self, on_failure=self.failed)
            self.seen: list[TaskFailure] = []

        def failed(self, failure: TaskFailure) -> None:
            self.seen.append(failure)

    view = View()

    async def fail() -> None:
        raise MabguiError("nope")

    view.tasks.start("x", fail())
    run_until(qloop, lambda: bool(view.seen), timeout=5)
    assert view.seen[0].message == "nope"


def test_wait_all_does_not_swallow_the_callers_cancellation(
    qtbot: QtBot, qloop: qasync.QEventLoop
) -> None:
    manager = TaskManager(_owner(qtbot))
    manager.start("hang", _forever())

    async def waiter() -> str:
        inner = asyncio.ensure_future(manager.wait_all())
        await asyncio.sleep(0)
        inner.cancel()
        try:
            await inner
        except asyncio.CancelledError:
            return "cancelled"
        return "swallowed"

    assert run(qloop, waiter()) == "cancelled"
    assert manager.running("hang")
    manager.cancel_all()
    assert run(qloop, manager.wait_all(timeout=5))


def test_shutdown_is_bounded_for_a_task_that_ignores_cancel(
    qtbot: QtBot, qloop: qasync.QEventLoop
) -> None:
    manager = TaskManager(_owner(qtbot))
    started, release = asyncio.Event(), asyncio.Event()
    stubborn = manager.start("stubborn", _stubborn(10, started, release))
    run_until(qloop, started.is_set, timeout=5)
    begin = time.monotonic()
    left = run(qloop, tasks.shutdown([manager], timeout=0.3))
    assert time.monotonic() - begin < 2
    assert left == {stubborn}
    assert not stubborn.done()
    release.set()
    run_until(qloop, stubborn.done, timeout=5)


def test_window_close_is_bounded_by_a_slow_task(qtbot: QtBot, qloop: qasync.QEventLoop) -> None:
    """A task that ignores its cancellation for 10 s holds the window's close at most 2 s."""
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    views = window.views["Builds"]
    manager = TaskManager(views)  # a panel's work deep inside the window
    started, release = asyncio.Event(), asyncio.Event()
    slow = manager.start("slow", _stubborn(10, started, release))
    window.tasks.start("hang", _forever())
    run_until(qloop, started.is_set, timeout=5)
    assert manager in window.task_managers()
    begin = time.monotonic()
    window.close()
    ended_in_time = run(qloop, window.shutdown())
    elapsed = time.monotonic() - begin
    assert SHUTDOWN_BOUND_S == 2.0
    assert elapsed < SHUTDOWN_BOUND_S + 0.5, f"the close took {elapsed:.1f} s"
    assert not ended_in_time
    assert not slow.done()  # left behind, not waited for
    assert not window.tasks.running("hang")
    release.set()
    run_until(qloop, slow.done, timeout=5)


_APP_END = """
import asyncio, sys, time
import qasync
from PySide6.QtWidgets import QApplication
from mabgui.ui import app

qapp = QApplication([])
loop = qasync.QEventLoop(qapp)
asyncio.set_event_loop(loop)

async def never_ends() -> None:
    while True:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            pass

async def main() -> int:
    asyncio.get_running_loop().create_task(never_ends())
    await asyncio.sleep(0)
    return 7

begin = time.monotonic()
code = app.run_bounded(loop, main())
print(code, time.monotonic() - begin, flush=True)
"""


def test_the_app_ends_within_the_bound_despite_a_task_that_never_ends() -> None:
    """What the window's close leaves behind cannot hold the process either."""
    begin = time.monotonic()
    res = subprocess.run(
        [sys.executable, "-c", _APP_END], capture_output=True, text=True, timeout=30
    )
    assert res.returncode == 0, res.stderr
    code, elapsed = res.stdout.split()
    assert code == "7"
    assert float(elapsed) < SHUTDOWN_BOUND_S + 1
    assert time.monotonic() - begin < 15

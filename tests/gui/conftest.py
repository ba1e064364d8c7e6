"""GUI test set-up: an offscreen QApplication with a qasync loop, isolated settings, no leaks."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest
import qasync
from PySide6.QtCore import QEventLoop, QSettings
from PySide6.QtWidgets import QApplication

T = TypeVar("T")


TEARDOWN_S = 30.0


class RunningQtLoop(qasync.QEventLoop):  # type: ignore[misc]
    """A qasync loop that counts as running for the whole test, as it does in the app.

    In the app Qt's event loop never stops, so asyncio callbacks always run inside a running loop.
    A loop that only runs inside ``run_until_complete`` would let Qt event processing elsewhere
    (``qtbot.wait``, dialogs) step tasks with no running loop ("no running event loop"). Here
    ``run_until_complete`` spins a nested Qt event loop until the future is done instead.
    """

    def __init__(self, app: QApplication) -> None:
        super().__init__(app, already_running=True)

    def run_until_complete(self, future: Any) -> Any:
        fut = asyncio.ensure_future(future, loop=self)
        waiter = QEventLoop()
        fut.add_done_callback(lambda _: waiter.quit())
        while not fut.done():
            # exec() also returns when a modal dialog's loop or QApplication.exit() ends the
            # loops of this thread: enter again until the future is really done.
            waiter.exec()
        return fut.result()

    def shutdown(self) -> None:
        pending = [t for t in asyncio.all_tasks(self) if not t.done()]
        for task in pending:
            task.cancel()
        if pending:  # bounded: a task that ignores its cancel fails the test instead of hanging
            self.run_until_complete(asyncio.wait(pending, timeout=TEARDOWN_S))
            stuck = [t for t in pending if not t.done()]
            if stuck:
                names = ", ".join(repr(t.get_coro()) for t in stuck[:5])
                raise AssertionError(
                    f"{len(stuck)} task(s) survived cancel for {TEARDOWN_S} s: {names}"
                )
        # Not self.stop(): it calls QApplication.exit(), which leaves Qt's "quit now" flag set
        # and makes every later QEventLoop.exec() of the session return at once.
        self._QEventLoop__is_running = False
        asyncio.events._set_running_loop(None)
        self._after_run_forever()
        self.close()


@pytest.fixture
def qloop(qapp: QApplication) -> Iterator[qasync.QEventLoop]:
    """A running qasync loop on the test's QApplication; drive it with ``run``/``run_until``."""
    loop = RunningQtLoop(qapp)
    asyncio.set_event_loop(loop)
    yield loop
    loop.shutdown()
    asyncio.set_event_loop(None)
    # qasync's executor threads (asyncio.to_thread) end up in reference cycles; collect them here,
    # on the GUI thread, before a later collection destroys their Qt timers from another thread.
    gc.collect()


def run(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
    """Run ``coro`` on the Qt+asyncio loop (Qt events are processed meanwhile)."""
    return loop.run_until_complete(asyncio.wait_for(coro, timeout))


def run_until(
    loop: asyncio.AbstractEventLoop, predicate: Callable[[], bool], timeout: float = 60
) -> None:
    """Spin the loop until ``predicate()`` holds; fail after ``timeout`` seconds."""

    async def wait() -> None:
        while not predicate():  # noqa: ASYNC110 - polling widget state, there is no event to await
            await asyncio.sleep(0.02)

    try:
        run(loop, wait(), timeout)
    except TimeoutError:
        pytest.fail(f"condition not met within {timeout} s")


@pytest.fixture(autouse=True)
def isolated_settings(
    tmp_path_factory: pytest.TempPathFactory, qapp: QApplication
) -> Iterator[None]:
    """Keep window geometry and history of tests out of the user's real settings."""
    path = tmp_path_factory.mktemp("settings")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(path))
    qapp.setOrganizationName("mabgui-tests")
    qapp.setApplicationName("mabgui-tests")
    yield
    QSettings().clear()


@pytest.fixture(autouse=True)
def no_leaked_windows(qapp: QApplication) -> Iterator[None]:
    """Fail a test that leaves a visible top-level window behind (napari's check)."""
    before = {id(w) for w in qapp.topLevelWidgets() if w.isVisible()}
    yield
    leaked = [w for w in qapp.topLevelWidgets() if w.isVisible() and id(w) not in before]
    for w in leaked:
        w.close()
    assert not leaked, f"test leaked top-level windows: {[type(w).__name__ for w in leaked]}"

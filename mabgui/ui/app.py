"""Start the window on a qasync event loop: asyncio and Qt share one loop on the GUI thread.

Logging is set up first (the rotating file in ``log.log_dir()``, Help → Show log folder). The
end of the run is bounded: closing the window cancels every task and waits at most
``tasks.SHUTDOWN_BOUND_S``; a task that ignores its cancellation is left behind (logged) instead
of holding the process, which is why the loop is driven here rather than by ``asyncio.Runner``
(whose close waits for every task without limit).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

import mabgui
from mabgui import APP_ID, APP_NAME

if TYPE_CHECKING:
    import asyncio

    from mabgui.ui.main_window import MainWindow


def _make_app() -> object:
    from PySide6.QtWidgets import QApplication

    from mabgui.ui.resources import app_icon

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    app.setDesktopFileName(APP_ID)
    app.setWindowIcon(app_icon())
    return app


def open_window(bound_s: float = 2.0) -> MainWindow:
    """Show the main window and return once it has been painted (at most ``bound_s``).

    This runs before the event loop (asyncio, qasync) is even imported: the window appears
    first, its first area and the engine check follow (:func:`_run_window`).
    """
    from PySide6.QtCore import QCoreApplication, QElapsedTimer, QEvent, QEventLoop, QObject

    from mabgui.ui.main_window import MainWindow

    painted: list[bool] = []

    class _Watch(QObject):
        def eventFilter(self, _obj: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint:
                painted.append(True)
            return False

    window = MainWindow(defer_area=True)
    watch = _Watch()
    window.installEventFilter(watch)
    window.show()
    timer = QElapsedTimer()
    timer.start()
    while not painted and timer.elapsed() < bound_s * 1000:
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
    window.removeEventFilter(watch)
    return window


async def _run_window(self_test: bool, window: MainWindow | None = None) -> int:
    """Run the window (made here, or already shown by :func:`open_window`) until it closes."""
    import asyncio

    from PySide6.QtWidgets import QApplication

    from mabgui.ui.main_window import MainWindow

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    # The window's close ends the run below, which first stops every task in flight: letting Qt
    # quit on its own would stop the loop under tasks that still wait for their processes.
    app.setQuitOnLastWindowClosed(False)
    closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def _closed() -> None:
        if not closed.done():
            closed.set_result(None)

    app.aboutToQuit.connect(_closed)
    if window is None:
        window = MainWindow()
        window.show()
    window.closed.connect(_closed)
    if self_test:
        code = await _self_test(window)
    else:
        from mabgui.core import log

        app.setApplicationVersion(mabgui.__version__)
        log.get("ui").info("mabgui %s", mabgui.__version__)
        if not window.isVisible():  # closed before the loop started
            _closed()
        # The first area and the engine check (docker info, buildx ls…) come after the
        # first paint: the window shows at once and says "checking" meanwhile.
        window.create_current_area()
        window.check_engine()
        await closed
        code = 0
    await window.shutdown()
    return code


def run_bounded(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, int]) -> int:
    """Run ``coro`` to its end, then stop what is left within the shutdown bound, and close."""
    import asyncio

    from mabgui.ui import tasks

    main_task = loop.create_task(coro)
    # Ctrl+C cancels the run as asyncio.Runner does: the window then shuts down its work.
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(
            signal.SIGINT, lambda *_: loop.call_soon_threadsafe(main_task.cancel)
        )
    try:
        return loop.run_until_complete(main_task)
    except (asyncio.CancelledError, KeyboardInterrupt):
        return 0
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        leftover = [t for t in asyncio.all_tasks(loop) if not t.done()]
        for task in leftover:
            task.cancel()
        if leftover:
            loop.run_until_complete(tasks.wait_bounded(leftover))
        with contextlib.suppress(TimeoutError):
            loop.run_until_complete(
                asyncio.wait_for(loop.shutdown_asyncgens(), tasks.SHUTDOWN_BOUND_S)
            )
        loop.close()


async def _self_test(window: object) -> int:
    """Checks the frozen/installed app can: Qt platform and image plugins, resources, window."""
    import asyncio

    from PySide6.QtGui import QGuiApplication, QImageReader

    from mabgui.ui.main_window import AREAS, MainWindow
    from mabgui.ui.resources import app_icon

    assert isinstance(window, MainWindow)
    problems = []
    if app_icon().isNull():
        problems.append("the app icon did not load")
    formats = {bytes(f.data()).decode() for f in QImageReader.supportedImageFormats()}
    if "svg" not in formats:
        problems.append(f"no SVG image plugin (formats: {sorted(formats)})")
    if window.stack.count() != len(AREAS):
        problems.append("the main window does not have its four areas")
    await asyncio.sleep(0.1)
    await window.shutdown()
    window.close()
    platform = QGuiApplication.platformName()
    for p in problems:
        print(f"self-test: FAIL {p}", file=sys.stderr)
    if not problems:
        print(
            f"self-test: ok (mabgui {mabgui.__version__}, Qt platform {platform}, "
            f"{len(formats)} image formats)"
        )
    return 1 if problems else 0


def main(self_test: bool = False) -> int:
    """Open the main window (the ``mabgui-gui`` launcher, and ``mabgui`` with no subcommand)."""
    from PySide6.QtCore import QSettings

    from mabgui.core import log

    log_file = log.setup()
    log.get("ui").info("mabgui starting (log file %s)", log_file)
    if not self_test:
        from mabgui.ui.display import display_problem

        problem = display_problem()
        if problem is not None:  # Qt would abort (SIGABRT) with a vaguer message
            log.get("ui").error("no window: %s", problem)
            print(problem, file=sys.stderr)
            return 1
    with contextlib.ExitStack() as stack:
        if self_test:
            import tempfile

            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
            # Throwaway settings: a self-test must not leave its window geometry to the user.
            scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="mabgui-self-test-"))
            QSettings.setDefaultFormat(QSettings.Format.IniFormat)
            QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, scratch)
        _make_app()
        # The window is painted before asyncio and qasync are imported (~35 ms).
        window = None if self_test else open_window()
        import asyncio

        import qasync

        loop = qasync.QEventLoop()
        asyncio.set_event_loop(loop)
        try:
            return run_bounded(loop, _run_window(self_test, window))
        finally:
            asyncio.set_event_loop(None)


if __name__ == "__main__":
    raise SystemExit(main())

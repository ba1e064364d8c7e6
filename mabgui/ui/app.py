"""Start the window on a qasync event loop: asyncio and Qt share one loop on the GUI thread."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import tempfile

from mabgui import APP_ID, APP_NAME, __version__


def _make_app() -> object:
    from PySide6.QtWidgets import QApplication

    from mabgui.ui.resources import app_icon

    existing = QApplication.instance()
    app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName(APP_ID)
    app.setWindowIcon(app_icon())
    return app


async def _run_window(self_test: bool) -> int:
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
    window = MainWindow()
    window.closed.connect(_closed)
    window.show()
    if self_test:
        code = await _self_test(window)
    else:
        window.check_engine()
        await closed
        code = 0
    await window.shutdown()
    return code


async def _self_test(window: object) -> int:
    """Checks the frozen/installed app can: Qt platform and image plugins, resources, window."""
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
            f"self-test: ok (mabgui {__version__}, Qt platform {platform}, "
            f"{len(formats)} image formats)"
        )
    return 1 if problems else 0


def main(self_test: bool = False) -> int:
    """Open the main window (the ``mabgui-gui`` launcher, and ``mabgui`` with no subcommand)."""
    import qasync
    from PySide6.QtCore import QSettings

    with contextlib.ExitStack() as stack:
        if self_test:
            os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
            # Throwaway settings: a self-test must not leave its window geometry to the user.
            scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="mabgui-self-test-"))
            QSettings.setDefaultFormat(QSettings.Format.IniFormat)
            QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, scratch)
        _make_app()
        with asyncio.Runner(loop_factory=qasync.QEventLoop) as runner:
            try:
                return runner.run(_run_window(self_test))
            except asyncio.CancelledError:
                return 0


if __name__ == "__main__":
    raise SystemExit(main())

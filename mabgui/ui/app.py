"""Start the window on a qasync event loop: asyncio and Qt share one loop on the GUI thread."""

from __future__ import annotations

import asyncio
import os
import sys

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
    assert app is not None
    closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def _quit() -> None:
        if not closed.done():
            closed.set_result(None)

    app.aboutToQuit.connect(_quit)
    window = MainWindow()
    window.show()
    if self_test:
        return await _self_test(window)
    window.check_engine()
    await closed
    return 0


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
    if self_test:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import qasync

    _make_app()
    with asyncio.Runner(loop_factory=qasync.QEventLoop) as runner:
        try:
            return runner.run(_run_window(self_test))
        except asyncio.CancelledError:
            return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Screenshot the real window as a user sees it: run under Xvfb (``xvfb-run -a -s '-screen 0
1400x900x24' python scripts/screenshot.py OUT.png [AREA]``). Opens the main window, lets it check
the engine and load the area, then grabs the whole screen."""

from __future__ import annotations

import asyncio
import sys

import qasync
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from mabgui.ui.main_window import AREAS, MainWindow


async def main(out: str, area: str, delay: float) -> None:
    window = MainWindow()
    window.show()
    window.nav.setCurrentRow(AREAS.index(area))
    window.check_engine()
    await asyncio.sleep(delay)
    screen = QGuiApplication.primaryScreen()
    screen.grabWindow(0).save(out)
    window.close()


if __name__ == "__main__":
    app = QApplication(sys.argv[:1])
    out = sys.argv[1] if len(sys.argv) > 1 else "mabgui.png"
    area = sys.argv[2] if len(sys.argv) > 2 else "Builders"
    delay = float(sys.argv[3]) if len(sys.argv) > 3 else 4.0
    with asyncio.Runner(loop_factory=qasync.QEventLoop) as runner:
        runner.run(main(out, area, delay))

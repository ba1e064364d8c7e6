"""The picture tour: render the real main window in its main states into docs/screenshots/.

    PYTHONPATH=. QT_QPA_PLATFORM=offscreen python scripts/screenshots.py [--sizes 1200x760,1024x700]

The states come from recorded data (tests/gui/tour.py: a two-node builder, a live and a
finished 3-platform build, a failed build, the timeline, a manifest tree with attestations);
the Emulators area and the builders list read this machine. Settings, history and caches go
to a temporary folder. Each state is written as ``<state>-<width>x<height>.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"


async def tour(sizes: list[tuple[int, int]], out: Path, only: list[str]) -> list[Path]:
    from mabgui.ui.main_window import MainWindow
    from tests.gui import tour as states

    written = []
    for name, state in states.STATES.items():
        if only and name not in only:
            continue
        window = MainWindow()
        window.show()
        try:
            window.check_engine()  # the status bar shows this machine's engine
            await state(window)
            for width, height in sizes:
                window.resize(width, height)
                for _ in range(5):
                    await asyncio.sleep(0.05)
                path = out / f"{name}-{width}x{height}.png"
                window.grab().save(str(path))
                written.append(path)
        finally:
            await window.shutdown()
            window.close()
            window.deleteLater()
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1200x760,1024x700")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("states", nargs="*", help="only these states (default: all)")
    args = parser.parse_args()
    sizes = [tuple(int(n) for n in s.split("x")) for s in args.sizes.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory(prefix="mabgui-screenshots-") as scratch:
        os.environ["MABGUI_DATA_DIR"] = str(Path(scratch) / "data")
        os.environ["MABGUI_CACHE_DIR"] = str(Path(scratch) / "cache")
        os.environ["MABGUI_LOG_DIR"] = str(Path(scratch) / "log")
        import qasync
        from PySide6.QtCore import QSettings
        from PySide6.QtWidgets import QApplication

        QSettings.setDefaultFormat(QSettings.Format.IniFormat)
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, scratch)
        app = QApplication(sys.argv[:1])
        app.setApplicationName("mabgui-screenshots")
        loop = qasync.QEventLoop(app)
        asyncio.set_event_loop(loop)
        written = loop.run_until_complete(tour(sizes, args.out, args.states))  # type: ignore[arg-type]
    for path in written:
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Bench: time from process start to the first painted window, mabgui vs a bare PySide6 window.

Each run starts a fresh Python process and measures, from the parent, the wall time between
spawning it and reading the line the child prints when its window got its first paint event:

* bare:   ``QApplication`` + a 1200×760 ``QWidget`` shown,
* mabgui: what ``mabgui`` (no subcommand) does before its first paint: logging set up, the
          application (icon, names), the qasync loop, ``MainWindow`` shown (settings in a fresh
          temporary folder, so it opens on its default area, Builders).

Runs alternate bare / mabgui so load changes on the shared machine hit both alike. The engine
check starts only after the first paint, so it is not in the mabgui figure (as intended).

Target (issue 14): median mabgui / bare ≤ 1.5.

    python bench/bench_startup.py [--runs 9] [--platform xcb|offscreen] [--record]

With ``--platform xcb`` and no DISPLAY, run it under ``xvfb-run -a``. ``--record`` appends
the result to bench/RESULTS.md with the command.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
TARGET = 1.5

_PAINT_WATCH = """
from PySide6.QtCore import QEvent, QObject, QTimer
def then():
    app.quit()
class _Watch(QObject):
    done = False
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and not self.done:
            self.done = True
            import time
            print("painted", time.process_time(), flush=True)
            QTimer.singleShot(0, then)
        return False
"""


BARE = (
    "import sys\n"
    "from PySide6.QtWidgets import QApplication, QWidget\n"
    "app = QApplication(sys.argv[:1])\n" + _PAINT_WATCH + "w = QWidget()\n"
    "w.resize(1200, 760)\n"
    "watch = _Watch(); w.installEventFilter(watch)\n"
    "w.show()\n"
    "app.exec()\n"
)

# What ``mabgui`` does up to its first paint (mabgui.ui.app.main): logging, the application,
# the window shown and painted; then, as the app does, its first area (Builders) is created.
MABGUI = (
    "import sys\n"
    "from mabgui.core import log\n"
    "from mabgui.ui import app as mapp\n"
    "log.setup()\n"
    "app = mapp._make_app()\n"
    "w = mapp.open_window()\n"
    "import time\n"
    "print('painted', time.process_time(), flush=True)\n"
    "w.create_current_area()\n"
    "w.repaint()\n"
    "print('area', flush=True)\n"
)


def one_run(code: str, env: dict[str, str]) -> tuple[float, float, float]:
    """Wall seconds from spawn to the child's "painted" line, to its "area" line (the same
    for a child that prints none), and the child's CPU seconds up to its first paint (what
    the shared machine's load hardly changes)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - started
    area = proc.stdout.readline()
    area_elapsed = time.perf_counter() - started if area.strip() == "area" else elapsed
    proc.wait(timeout=30)
    word, _, cpu = line.strip().partition(" ")
    if word != "painted":
        raise SystemExit(f"the child did not paint (exit {proc.returncode})")
    return elapsed, area_elapsed, float(cpu)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--platform", default=os.environ.get("QT_QPA_PLATFORM", "xcb"))
    parser.add_argument("--record", action="store_true")
    args = parser.parse_args()
    bare: list[float] = []
    mabgui: list[float] = []
    area: list[float] = []
    bare_cpu: list[float] = []
    mabgui_cpu: list[float] = []
    with tempfile.TemporaryDirectory(prefix="mabgui-bench-startup-") as scratch:
        env = dict(os.environ)
        env["QT_QPA_PLATFORM"] = args.platform
        env["PYTHONPATH"] = str(ROOT)
        env["XDG_CONFIG_HOME"] = str(Path(scratch) / "config")  # default window, no history
        env["MABGUI_DATA_DIR"] = str(Path(scratch) / "data")
        env["MABGUI_LOG_DIR"] = str(Path(scratch) / "log")
        one_run(BARE, env)  # warm the file cache for both
        one_run(MABGUI, env)
        for _ in range(args.runs):
            wall, _same, cpu = one_run(BARE, env)
            bare.append(wall)
            bare_cpu.append(cpu)
            painted, filled, cpu = one_run(MABGUI, env)
            mabgui.append(painted)
            area.append(filled)
            mabgui_cpu.append(cpu)
    b = statistics.median(bare)
    m = statistics.median(mabgui)
    a = statistics.median(area)
    bc = statistics.median(bare_cpu)
    mc = statistics.median(mabgui_cpu)
    ratio = m / b
    load = os.getloadavg()[0]
    lines = [
        f"bare PySide6 window: median {b:.3f} s (min {min(bare):.3f}, max {max(bare):.3f})",
        f"mabgui main window: median {m:.3f} s (min {min(mabgui):.3f}, max {max(mabgui):.3f})",
        f"mabgui with its first area (Builders) filled in: median {a:.3f} s ({a / b:.2f}×)",
        f"CPU time to the first paint: bare {bc:.3f} s, mabgui {mc:.3f} s ({mc / bc:.2f}×)",
        f"ratio {ratio:.2f}× (target ≤ {TARGET}×: {'met' if ratio <= TARGET else 'NOT met'})",
    ]
    print("\n".join(lines))
    if args.record:
        command = " ".join(["python", "bench/bench_startup.py", *sys.argv[1:]])
        with RESULTS.open("a", encoding="utf-8") as out:
            out.write(
                f"\n## start-up to the first painted window ({time.strftime('%Y-%m-%d')})\n\n"
                f"`{command}` — Qt platform {args.platform}, {args.runs} alternating runs, "
                f"load average {load:.1f}, Python {platform.python_version()}.\n\n"
                "| what | median | min | max |\n|---|---|---|---|\n"
                f"| bare PySide6 `QWidget` 1200×760 | {b:.3f} s | {min(bare):.3f} s | "
                f"{max(bare):.3f} s |\n"
                f"| mabgui `MainWindow` (logging, app, window; the event loop comes after) | "
                f"{m:.3f} s | "
                f"{min(mabgui):.3f} s | {max(mabgui):.3f} s |\n"
                f"| mabgui, its first area (Builders) created and painted | {a:.3f} s | "
                f"{min(area):.3f} s | {max(area):.3f} s |\n"
                f"| CPU time to the first paint: bare / mabgui | {bc:.3f} s / {mc:.3f} s "
                f"({mc / bc:.2f}×) | | |\n\n"
                f"Ratio **{ratio:.2f}×** (target ≤ {TARGET}×).\n"
            )
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())

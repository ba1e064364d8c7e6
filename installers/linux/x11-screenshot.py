#!/usr/bin/env python3
"""Wait for a window on the X display $DISPLAY and save a screenshot of the whole screen.

    python installers/linux/x11-screenshot.py OUT.png [--title TEXT] [--timeout S] [--settle S]

Used by installers/ci-smoke.sh to look at the installed app under Xvfb. Finds the window with
``xwininfo -root -tree`` (x11-utils), then grabs the root window with Qt (PySide6, already a
dependency of mabgui) and checks the picture is not blank. Exit 1 when no window shows up.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time


def window_geometry(title: str) -> tuple[int, int, int, int] | None:
    """x, y, width, height of the largest mapped top-level window whose name contains title."""
    out = subprocess.run(
        ["xwininfo", "-root", "-tree"], capture_output=True, text=True, check=False
    ).stdout
    best = None
    # e.g.  0x200007 "mabgui — multi-arch builds": ("mabgui" "mabgui")  1200x760+0+0  +0+0
    line = re.compile(r'0x[0-9a-f]+ "([^"]*)".*?\s(\d+)x(\d+)\+-?\d+\+-?\d+\s+\+(-?\d+)\+(-?\d+)')
    for m in line.finditer(out):
        name, w, h, x, y = m.group(1), *map(int, m.groups()[1:])
        if title in name and w > 100 and h > 100 and (best is None or w * h > best[2] * best[3]):
            best = (x, y, w, h)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--title", default="mabgui")
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--settle", type=float, default=2.0, help="seconds to let it paint")
    args = parser.parse_args()
    if not os.environ.get("DISPLAY"):
        print("x11-screenshot: DISPLAY is not set", file=sys.stderr)
        return 2
    deadline = time.monotonic() + args.timeout
    geometry = None
    while geometry is None and time.monotonic() < deadline:
        geometry = window_geometry(args.title)
        if geometry is None:
            time.sleep(0.25)
    if geometry is None:
        print(f"x11-screenshot: no window named *{args.title}* within {args.timeout:.0f} s",
              file=sys.stderr)  # fmt: skip
        return 1
    time.sleep(args.settle)
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication([sys.argv[0]])
    screen = app.primaryScreen()
    image = screen.grabWindow(0).toImage()
    colours = {
        image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)
    }
    if len(colours) < 20:
        print(f"x11-screenshot: the screen looks blank ({len(colours)} colours)", file=sys.stderr)
        return 1
    if not image.save(args.out):
        print(f"x11-screenshot: cannot write {args.out}", file=sys.stderr)
        return 1
    x, y, w, h = geometry
    print(f"x11-screenshot: window {w}x{h}+{x}+{y}, {len(colours)} colours sampled → {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

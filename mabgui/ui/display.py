"""Can a Qt platform plugin start here? Asked before the QApplication exists.

When none can, Qt prints a generic message (it names libxcb-cursor0 whatever is missing) and
aborts the process (SIGABRT). mabgui checks first, cheaply on the happy path (the xcb plugin is
loaded the way Qt would load it anyway, the X server is asked for one connection), and on a
problem says which system libraries are missing and how to install them, or that the CLI works
without a display, and exits 1.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Mapping
from pathlib import Path

CLI_HINT = "Everything mabgui does also works from the command line: mabgui --help"


def display_problem(
    environ: Mapping[str, str] | None = None, plugin: Path | None = None
) -> str | None:
    """Why no window can open (a message for the user), or None when it can.

    Only X11 on Linux is checked: another platform plugin asked for by ``QT_QPA_PLATFORM``
    (offscreen, wayland, vnc…) or a Wayland session is left to Qt.
    """
    env = os.environ if environ is None else environ
    if not sys.platform.startswith("linux"):
        return None
    wanted = env.get("QT_QPA_PLATFORM", "")
    if wanted and not wanted.startswith("xcb"):
        return None
    if not wanted and env.get("WAYLAND_DISPLAY"):
        return None
    display = env.get("DISPLAY", "")
    if not display:
        return (
            "mabgui cannot open its window: there is no display (DISPLAY and WAYLAND_DISPLAY "
            f"are not set).\n{CLI_HINT}"
        )
    plugin = plugin or _xcb_plugin()
    if plugin is None:
        return None  # a Qt laid out differently (frozen app): let Qt try
    missing: list[str] = []
    try:
        ctypes.CDLL(str(plugin))
    except OSError:
        from mabgui.core import doctor  # only now: ldd names every missing library

        missing = doctor.missing_display_libraries(plugin) or [plugin.name]
    if not missing:
        try:
            ctypes.CDLL("libxcb-cursor.so.0")
        except OSError:
            missing = ["libxcb-cursor.so.0"]
    if missing:
        from mabgui.core import doctor

        packages = doctor.display_packages(missing)
        install = (
            f"Install them: sudo apt-get install {' '.join(packages)}"
            if packages
            else "Reinstall mabgui (its Qt libraries are incomplete)."
        )
        return (
            "mabgui cannot open its window: Qt's X11 (xcb) platform plugin needs system "
            f"libraries that are missing: {', '.join(missing)}.\n{install}\n{CLI_HINT}"
        )
    if not _x_server_answers(display):
        return (
            f"mabgui cannot open its window: the X server of display {display!r} does not "
            f"answer (is DISPLAY right, is the server running?).\n{CLI_HINT}"
        )
    return None


def _xcb_plugin() -> Path | None:
    from PySide6.QtCore import QLibraryInfo  # QtCore only: no application object yet

    plugins = QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)
    plugin = Path(plugins) / "platforms" / "libqxcb.so"
    return plugin if plugin.is_file() else None


def _x_server_answers(display: str) -> bool:
    """One xcb connection to ``display`` (closed at once); True when it could not be asked."""
    try:
        xcb = ctypes.CDLL("libxcb.so.1")
    except OSError:
        return True  # the plugin loaded, so this cannot really happen: let Qt report
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    connection = xcb.xcb_connect(display.encode(), None)
    try:
        return bool(connection) and xcb.xcb_connection_has_error(connection) == 0
    finally:
        if connection:
            xcb.xcb_disconnect(connection)

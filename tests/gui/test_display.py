"""No usable display: a clear message and exit 1, never Qt's abort (SIGABRT)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mabgui.core import doctor
from mabgui.ui.display import display_problem

ROOT = Path(__file__).resolve().parents[2]

LDD = """\
\tlinux-vdso.so.1 (0x00007ffc)
\tlibQt6XcbQpa.so.6 => /x/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f3)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-icccm.so.4 => not found
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f2)
"""


def test_ldd_output_names_each_missing_library_once() -> None:
    missing = doctor.parse_ldd_missing(LDD)
    assert missing == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    assert doctor.display_packages(missing) == ["libxcb-icccm4", "libxcb-keysyms1"]


def test_no_display_at_all_says_use_the_cli() -> None:
    problem = display_problem({})
    assert problem is not None
    assert "no display" in problem
    assert "mabgui --help" in problem


def test_other_platform_plugins_are_left_to_qt() -> None:
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}) is None
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}) is None


@pytest.mark.skipif(doctor.xcb_plugin() is None, reason="PySide6 without its xcb plugin")
def test_a_forced_missing_library_is_named(tmp_path: Path) -> None:
    """A copy of the xcb plugin away from Qt's lib folder cannot find libQt6XcbQpa (its
    RUNPATH is relative): the message names what is missing, as it would a system library."""
    plugin = doctor.xcb_plugin()
    assert plugin is not None
    copy = tmp_path / "platforms" / "libqxcb.so"
    copy.parent.mkdir()
    shutil.copy(plugin, copy)
    problem = display_problem({"DISPLAY": ":0"}, plugin=copy)
    assert problem is not None
    assert "missing" in problem
    assert "libQt6XcbQpa.so.6" in problem or "libxcb" in problem
    assert "mabgui --help" in problem


def test_the_app_exits_1_with_the_message_instead_of_aborting(tmp_path: Path) -> None:
    env = dict(os.environ)
    env.pop("QT_QPA_PLATFORM", None)
    env.pop("WAYLAND_DISPLAY", None)
    env["DISPLAY"] = ":7391"  # no such X server (or the plugin's libraries are missing)
    env["PYTHONPATH"] = str(ROOT)
    env["MABGUI_LOG_DIR"] = str(tmp_path / "log")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    done = subprocess.run(
        [sys.executable, "-m", "mabgui"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1, done.stderr
    assert "mabgui cannot open its window" in done.stderr
    assert "mabgui --help" in done.stderr
    if doctor.missing_display_libraries():  # this machine lacks some: they are named
        assert "sudo apt-get install" in done.stderr


def test_doctor_reports_the_window_libraries() -> None:
    """`mabgui doctor` has a check for them: ok, or a warning naming what to install."""
    check = doctor.check_display_libraries()
    if check is None:  # not Linux, or no PySide6 xcb plugin
        pytest.skip("no xcb plugin here")
    assert check.id == "display-libraries"
    missing = doctor.missing_display_libraries()
    if missing:
        assert check.status is doctor.Status.WARN
        assert check.fix.startswith("sudo apt-get install")
        assert check.data["missing"] == missing
    else:
        assert check.status is doctor.Status.OK

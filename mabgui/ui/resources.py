"""Access to the bundled icons and styles.

Installed, they are the ``mabgui.resources`` package (pyproject maps the top-level ``resources/``
folder to it); in a source checkout whose ``mabgui`` shadows the installed one they are read from
``resources/`` beside the package.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from PySide6.QtGui import QFont, QIcon


@cache
def _root() -> Path:
    # A folder next to the code first (source tree, frozen app): importlib.resources costs
    # ~20 ms at start-up, before the first window.
    here = Path(__file__).resolve()
    for candidate in (here.parents[1] / "resources", here.parents[2] / "resources"):
        if (candidate / "mabgui.svg").is_file():
            return candidate

    import importlib.resources as package_data

    try:
        return Path(str(package_data.files("mabgui.resources")))
    except ModuleNotFoundError:
        return here.parents[2] / "resources"


def resource_path(name: str) -> str:
    return str(_root() / name)


def app_icon() -> QIcon:
    return QIcon(resource_path("mabgui.svg"))


def monospace_font() -> QFont:
    """The font for digests, raw JSON and command output."""
    font = QFont("monospace")
    font.setStyleHint(QFont.StyleHint.Monospace)
    return font

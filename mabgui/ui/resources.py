"""Access to the bundled icons and styles (installed as the ``mabgui.resources`` package)."""

from __future__ import annotations

from importlib import resources

from PySide6.QtGui import QIcon


def resource_path(name: str) -> str:
    return str(resources.files("mabgui.resources").joinpath(name))


def app_icon() -> QIcon:
    return QIcon(resource_path("mabgui.svg"))

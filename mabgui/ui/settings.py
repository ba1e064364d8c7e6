"""Reading QSettings defensively: a corrupt or foreign value never stops the GUI from starting.

The settings file is user-editable and outlives versions of mabgui: a value may have another type
than expected (an INI edited by hand, an older format) or not decode at all. Every read here
falls back to the default, and :func:`apply` runs the code that *uses* a value (restoring a build
spec, a geometry) so that whatever it raises is logged and the bad key forgotten.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from mabgui.core import log

_log = log.get("ui")


def raw(settings: QSettings, key: str) -> Any:
    """The stored value of ``key`` or None (also when it does not decode)."""
    try:
        return settings.value(key)
    except Exception as exc:  # a value Qt cannot deserialize: treat as absent
        _log.warning("ignoring the unreadable setting %s: %s", key, exc)
        return None


def forget(settings: QSettings, key: str, reason: object) -> None:
    _log.warning("ignoring and removing the corrupt setting %s: %s", key, reason)
    try:
        settings.remove(key)
    except Exception as exc:  # a read-only settings file: nothing more to do
        _log.warning("could not remove the setting %s: %s", key, exc)


def read_str(settings: QSettings, key: str, default: str = "") -> str:
    value = raw(settings, key)
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return default


def read_int(settings: QSettings, key: str, default: int = 0) -> int:
    value = raw(settings, key)
    if isinstance(value, bool):
        return default
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return default
    return default


def read_bytes(settings: QSettings, key: str) -> QByteArray | None:
    """A saved geometry or state blob, or None when absent, empty or not bytes."""
    value = raw(settings, key)
    if isinstance(value, QByteArray) and not value.isEmpty():
        return value
    if isinstance(value, bytes) and value:
        return QByteArray(value)
    return None


def read_str_list(settings: QSettings, key: str) -> list[str]:
    """A list of strings (INI stores one item as a plain string)."""
    value = raw(settings, key)
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list | tuple):
        return [str(v) for v in value if isinstance(v, str | int | float)]
    return []


def apply(settings: QSettings, key: str, use: Callable[[Any], object]) -> bool:
    """Call ``use(value)`` when ``key`` is set; if it raises, log, forget the key, return False.

    The one place where any exception is caught on purpose: a corrupt setting must cost the user
    that setting, not the application.
    """
    value = raw(settings, key)
    if value is None or value == "":
        return False
    try:
        use(value)
    except Exception as exc:
        forget(settings, key, f"{type(exc).__name__}: {exc}")
        return False
    return True

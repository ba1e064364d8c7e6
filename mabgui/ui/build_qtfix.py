"""A guard against PySide6 6.12.0's refcount leak on ``True`` (CPython < 3.12).

PySide6 6.12.0 returns the bool result of every Python-side ``SignalInstance.emit()`` without
a new reference, so each emit — ours, pyqtgraph's, any view's — releases a reference to
``True`` that nobody owned. After a few thousand emits the interpreter aborts with
``Fatal Python error: bool_dealloc`` (see /work/helpers/pyside6-emit-bug.md; 6.11.3 is fine).

:func:`protect_bools` measures the leak once with a probe signal and, when it is there, gives
``True`` and ``False`` the same effectively-infinite refcount CPython 3.12 gives them
(immortal objects), so the leak can never reach zero. It changes nothing on fixed versions or
on Python ≥ 3.12. Importing the Builds view applies it.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

from PySide6.QtCore import QObject, Signal

_IMMORTAL = 1 << 40
_leak: int | None = None


class _Probe(QObject):
    ping = Signal()


def leak_per_emit() -> int:
    """References to ``True`` one Python-side emit loses in this PySide6 (0 when fixed)."""
    global _leak
    if _leak is None:
        _leak = 0
        if sys.version_info < (3, 12) and sys.implementation.name == "cpython":
            probe = _Probe()
            before = sys.getrefcount(True)
            for _ in range(8):
                probe.ping.emit()
            lost = before - sys.getrefcount(True)
            for _ in range(max(0, lost)):  # give back what the probe itself cost
                ctypes.pythonapi.Py_IncRef(ctypes.py_object(True))
            _leak = max(0, lost) // 8
    return _leak


def protect_bools() -> bool:
    """Make ``True``/``False`` immortal when this PySide6 leaks them; True if it did."""
    if not leak_per_emit():
        return False
    for value in (True, False):
        refcount = ctypes.c_ssize_t.from_address(id(value))  # ob_refcnt is the first field
        if refcount.value < _IMMORTAL:
            refcount.value += _IMMORTAL
    return True


def emit(signal: Any, *args: Any) -> None:
    """Emit ``signal`` (the Builds widgets emit through here; see :func:`protect_bools`)."""
    signal.emit(*args)


protect_bools()

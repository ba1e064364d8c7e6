"""Guard against PySide6 6.12.0 refcount leaks on None/True/False (CPython < 3.12).

The PySide6 6.12.0 abi3 wheels return ``None`` from every void method (``widget.update()``,
``painter.drawRect()``…) and the bool of every Python-side ``Signal.emit()`` without a new
reference — fine on Python ≥ 3.12 where these objects are immortal, but on 3.11 each call
releases a reference nobody owned. After enough calls (pyqtgraph repaints make thousands) the
interpreter aborts with ``Fatal Python error: none_dealloc`` / ``bool_dealloc``
(see /work/helpers/pyside6-emit-bug.md; 6.11.3 is fine).

:func:`protect_singletons` measures the leaks once with a probe and, when they are there, gives
``None``, ``True`` and ``False`` the effectively-infinite refcount CPython 3.12 gives them
(immortal objects), so the leaks can never reach zero. It changes nothing on fixed versions or
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


def none_leak_per_call() -> int:
    """References to ``None`` one void PySide6 call loses (0 when fixed)."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return 0
    probe = _Probe()
    before = sys.getrefcount(None)
    for _ in range(8):
        probe.setObjectName("probe")
    lost = before - sys.getrefcount(None)
    for _ in range(max(0, lost)):
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(None))
    return max(0, lost) // 8


def protect_singletons() -> bool:
    """Make ``None``/``True``/``False`` immortal when this PySide6 leaks them; True if so."""
    if not leak_per_emit() and not none_leak_per_call():
        return False
    for value in (None, True, False):
        refcount = ctypes.c_ssize_t.from_address(id(value))  # ob_refcnt is the first field
        if refcount.value < _IMMORTAL:
            refcount.value += _IMMORTAL
    return True


def emit(signal: Any, *args: Any) -> None:
    """Emit ``signal`` (the Builds widgets emit through here; see :func:`protect_singletons`)."""
    signal.emit(*args)


protect_singletons()

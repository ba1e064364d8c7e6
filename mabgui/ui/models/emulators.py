"""The table of binfmt_misc handlers: one row per handler, the enabled column a toggle."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor

from mabgui.core.binfmt import BinfmtState, Handler
from mabgui.core.overview import BuilderPlatforms, StaleBuilder, listing_builders
from mabgui.ui.models.table import ObjectRole, RowsTableModel

COL_NAME = 0
COL_PLATFORMS = 1
COL_ENABLED = 2
COL_INTERPRETER = 3
COL_FLAGS = 4
COL_BUILDERS = 5
COL_WARNING = 6
HEADERS = ("Handler", "Platforms", "Enabled", "Interpreter", "Flags", "Builders", "Warnings")

_Index = QModelIndex | QPersistentModelIndex
_WARN = QBrush(QColor("#b7791f"))
_MUTED = QBrush(QColor("#718096"))


class EmulatorsModel(RowsTableModel):
    """Rows are :class:`~mabgui.core.binfmt.Handler`; checking "Enabled" only *asks* for the
    change (``toggle_requested``): the row changes when the kernel says it did."""

    toggle_requested = Signal(str, bool)
    HEADERS = HEADERS

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._handlers: list[Handler] = []
        self._builders: list[BuilderPlatforms] | None = None
        self._stale: dict[str, list[StaleBuilder]] = {}
        self._pending: set[str] = set()
        self.writable = True

    # --- updates --------------------------------------------------------------------------
    def set_state(self, state: BinfmtState) -> None:
        """New handlers: rows that kept their name are updated in place, otherwise a reset."""
        self.writable = state.writable
        if [h.name for h in state.handlers] != [h.name for h in self._handlers]:
            self.beginResetModel()
            self._handlers = list(state.handlers)
            self._pending &= {h.name for h in self._handlers}
            self.endResetModel()
            return
        for row, handler in enumerate(state.handlers):
            if handler != self._handlers[row]:
                self._handlers[row] = handler
                self._row_changed(row)

    def update_handler(self, handler: Handler) -> None:
        row = self.row_of(handler.name)
        if row is None:
            return
        self._handlers[row] = handler
        self._pending.discard(handler.name)
        self._row_changed(row)

    def set_builders(
        self, builders: Sequence[BuilderPlatforms] | None, stale: Sequence[StaleBuilder] = ()
    ) -> None:
        self._builders = list(builders) if builders is not None else None
        self._stale = {}
        for s in stale:
            self._stale.setdefault(s.handler.name, []).append(s)
        if self._handlers:
            self.dataChanged.emit(
                self.index(0, COL_BUILDERS), self.index(len(self._handlers) - 1, COL_WARNING)
            )

    def set_pending(self, name: str, pending: bool) -> None:
        if pending:
            self._pending.add(name)
        else:
            self._pending.discard(name)
        row = self.row_of(name)
        if row is not None:
            self.dataChanged.emit(self.index(row, COL_ENABLED), self.index(row, COL_ENABLED))

    def _row_changed(self, row: int) -> None:
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(HEADERS) - 1))

    # --- look-ups -------------------------------------------------------------------------
    def row_of(self, name: str) -> int | None:
        return next((i for i, h in enumerate(self._handlers) if h.name == name), None)

    def handler(self, row: int) -> Handler:
        return self._handlers[row]

    def handlers(self) -> list[Handler]:
        return list(self._handlers)

    def builders_for(self, handler: Handler) -> list[str] | None:
        if self._builders is None:
            return None
        return listing_builders(handler, self._builders)

    def warnings_for(self, handler: Handler) -> list[str]:
        return handler.warnings() + [s.message for s in self._stale.get(handler.name, [])]

    # --- Qt model API ---------------------------------------------------------------------
    def row_objects(self) -> Sequence[Any]:
        return self._handlers

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() == COL_ENABLED:
            base |= Qt.ItemFlag.ItemIsUserCheckable
        return base

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        h = self.row_object(index)
        if h is None:
            return None
        col = index.column()
        if role == ObjectRole:
            return h
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(h, col)
        if role == Qt.ItemDataRole.CheckStateRole and col == COL_ENABLED:
            return Qt.CheckState.Checked if h.enabled else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(h, col)
        if role == Qt.ItemDataRole.ForegroundRole:
            if col == COL_WARNING and self.warnings_for(h):
                return _WARN
            if not h.enabled or (col == COL_PLATFORMS and not h.platforms):
                return _MUTED
        return None

    def _display(self, h: Handler, col: int) -> str:
        if col == COL_NAME:
            return h.name
        if col == COL_PLATFORMS:
            if h.platforms:
                return ", ".join(str(p) for p in h.platforms)
            return f"— ({h.kind} {h.match})"
        if col == COL_ENABLED:
            if h.name in self._pending:
                return "changing…"
            return "enabled" if h.enabled else "disabled"
        if col == COL_INTERPRETER:
            return h.interpreter
        if col == COL_FLAGS:
            return h.flags or "—"
        if col == COL_BUILDERS:
            names = self.builders_for(h)
            if names is None:
                return "…"
            return ", ".join(names) if names else ("none" if h.platforms else "")
        if col == COL_WARNING:
            warnings = self.warnings_for(h)
            if not warnings:
                return ""
            short = []
            if h.is_qemu and not h.fix_binary:
                short.append("⚠ no F flag")
            if h.name in self._stale:
                stale = self._stale[h.name]
                short.append(
                    f"⚠ restart {stale[0].builder.name}"
                    if len(stale) == 1
                    else f"⚠ restart {len(stale)} builders"
                )
            return "; ".join(short) or "⚠"
        return ""

    def _tooltip(self, h: Handler, col: int) -> str | None:
        if col == COL_WARNING:
            return "\n".join(self.warnings_for(h)) or None
        if col == COL_FLAGS:
            meaning = {
                "P": "preserve argv[0]",
                "O": "open binary",
                "C": "credentials",
                "F": "fix binary: interpreter opened at registration (works in containers)",
            }
            return "\n".join(f"{f}: {meaning.get(f, '?')}" for f in h.flags) or "no flags"
        if col == COL_PLATFORMS:
            if h.extension:
                return f"extension handler: runs files ending in {h.extension}"
            return f"magic {h.magic}\nmask {h.mask or '(none)'}\noffset {h.offset}"
        if col in (COL_INTERPRETER, COL_BUILDERS):
            return self._display(h, col) or None
        if col == COL_ENABLED and not self.writable:
            return "read-only: changing binfmt_misc needs root"
        return None

    def setData(self, index: _Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if (
            not index.isValid()
            or index.column() != COL_ENABLED
            or role != Qt.ItemDataRole.CheckStateRole
        ):
            return False
        h = self._handlers[index.row()]
        if h.name in self._pending:
            return False
        checked = value in (Qt.CheckState.Checked, Qt.CheckState.Checked.value, 2, True)
        if checked != h.enabled:
            self.toggle_requested.emit(h.name, checked)
        return False

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
from mabgui.ui.models.table import Column, RowsTableModel

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
_FLAG_MEANING = {
    "P": "preserve argv[0]",
    "O": "open binary",
    "C": "credentials",
    "F": "fix binary: interpreter opened at registration (works in containers)",
}


def _muted_if_disabled(h: Handler) -> QBrush | None:
    return None if h.enabled else _MUTED


def _platforms_text(h: Handler) -> str:
    if h.platforms:
        return ", ".join(str(p) for p in h.platforms)
    return f"— ({h.kind} {h.match})"


def _platforms_tooltip(h: Handler) -> str:
    if h.extension:
        return f"extension handler: runs files ending in {h.extension}"
    return f"magic {h.magic}\nmask {h.mask or '(none)'}\noffset {h.offset}"


def _flags_tooltip(h: Handler) -> str:
    return "\n".join(f"{f}: {_FLAG_MEANING.get(f, '?')}" for f in h.flags) or "no flags"


class EmulatorsModel(RowsTableModel[Handler]):
    """Rows are :class:`~mabgui.core.binfmt.Handler`; checking "Enabled" only *asks* for the
    change (``toggle_requested``): the row changes when the kernel says it did."""

    toggle_requested = Signal(str, bool)
    HEADERS = HEADERS

    def __init__(self, parent: Any = None) -> None:
        super().__init__(
            (
                Column(HEADERS[COL_NAME], lambda h: h.name, foreground=_muted_if_disabled),
                Column(
                    HEADERS[COL_PLATFORMS],
                    _platforms_text,
                    tooltip=_platforms_tooltip,
                    foreground=lambda h: _MUTED if not h.enabled or not h.platforms else None,
                ),
                Column(
                    HEADERS[COL_ENABLED],
                    self._enabled_text,
                    tooltip=lambda _h: (
                        None if self.writable else "read-only: changing binfmt_misc needs root"
                    ),
                    foreground=_muted_if_disabled,
                    checked=lambda h: h.enabled,
                ),
                Column(
                    HEADERS[COL_INTERPRETER],
                    lambda h: h.interpreter,
                    tooltip=lambda h: h.interpreter or None,
                    foreground=_muted_if_disabled,
                ),
                Column(
                    HEADERS[COL_FLAGS],
                    lambda h: h.flags or "—",
                    tooltip=_flags_tooltip,
                    foreground=_muted_if_disabled,
                ),
                Column(
                    HEADERS[COL_BUILDERS],
                    self._builders_text,
                    tooltip=lambda h: self._builders_text(h) or None,
                    foreground=_muted_if_disabled,
                ),
                Column(
                    HEADERS[COL_WARNING],
                    self._warning_text,
                    tooltip=lambda h: "\n".join(self.warnings_for(h)) or None,
                    foreground=lambda h: _WARN if self.warnings_for(h) else _muted_if_disabled(h),
                ),
            ),
            parent,
        )
        self._builders: list[BuilderPlatforms] | None = None
        self._stale: dict[str, list[StaleBuilder]] = {}
        self._pending: set[str] = set()
        self.writable = True

    # --- updates --------------------------------------------------------------------------
    def set_state(self, state: BinfmtState) -> None:
        """New handlers: rows that kept their name are updated in place, otherwise a reset."""
        self.writable = state.writable
        current = self.row_objects()
        if [h.name for h in state.handlers] != [h.name for h in current]:
            self._pending &= {h.name for h in state.handlers}
            self.set_rows(state.handlers)
            return
        for row, handler in enumerate(state.handlers):
            if handler != current[row]:
                self.replace_row(row, handler)

    def update_handler(self, handler: Handler) -> None:
        row = self.row_of(handler.name)
        if row is None:
            return
        self._pending.discard(handler.name)
        self.replace_row(row, handler)

    def set_builders(
        self, builders: Sequence[BuilderPlatforms] | None, stale: Sequence[StaleBuilder] = ()
    ) -> None:
        self._builders = list(builders) if builders is not None else None
        self._stale = {}
        for s in stale:
            self._stale.setdefault(s.handler.name, []).append(s)
        self.column_changed(COL_BUILDERS, COL_WARNING)

    def set_pending(self, name: str, pending: bool) -> None:
        if pending:
            self._pending.add(name)
        else:
            self._pending.discard(name)
        row = self.row_of(name)
        if row is not None:
            self.row_changed(row, COL_ENABLED, COL_ENABLED)

    # --- look-ups -------------------------------------------------------------------------
    def row_of(self, name: str) -> int | None:
        return next((i for i, h in enumerate(self.row_objects()) if h.name == name), None)

    def handler(self, row: int) -> Handler:
        return self.row_objects()[row]

    def handlers(self) -> list[Handler]:
        return self.rows()

    def builders_for(self, handler: Handler) -> list[str] | None:
        if self._builders is None:
            return None
        return listing_builders(handler, self._builders)

    def warnings_for(self, handler: Handler) -> list[str]:
        return handler.warnings() + [s.message for s in self._stale.get(handler.name, [])]

    # --- column texts ---------------------------------------------------------------------
    def _enabled_text(self, h: Handler) -> str:
        if h.name in self._pending:
            return "changing…"
        return "enabled" if h.enabled else "disabled"

    def _builders_text(self, h: Handler) -> str:
        names = self.builders_for(h)
        if names is None:
            return "…"
        return ", ".join(names) if names else ("none" if h.platforms else "")

    def _warning_text(self, h: Handler) -> str:
        if not self.warnings_for(h):
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

    # --- Qt model API ---------------------------------------------------------------------
    def setData(self, index: _Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if (
            not index.isValid()
            or index.column() != COL_ENABLED
            or role != Qt.ItemDataRole.CheckStateRole
        ):
            return False
        h = self.row_object(index)
        if h is None or h.name in self._pending:
            return False
        checked = value in (Qt.CheckState.Checked, Qt.CheckState.Checked.value, 2, True)
        if checked != h.enabled:
            self.toggle_requested.emit(h.name, checked)
        return False

"""The builders tree: builders at the top level, their nodes below, platforms as chips.

A hand-written two-level :class:`QAbstractItemModel`. Refreshes are applied as targeted
changes (rows removed, moved, inserted; ``dataChanged`` for rows that changed), never a reset,
so the selection and the expanded state survive a refresh.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont

from mabgui.core.buildx import Builder, Node
from mabgui.core.overview import Chip, Overview
from mabgui.ui.models.table import ObjectRole as ObjectRole  # re-exported for views

COL_NAME = 0
COL_DRIVER = 1
COL_ENDPOINT = 2
COL_STATUS = 3
COL_BUILDKIT = 4
COL_PLATFORMS = 5
HEADERS = ("Name", "Driver", "Endpoint", "Status", "BuildKit", "Platforms")
ChipsRole = Qt.ItemDataRole.UserRole + 2
CurrentRole = Qt.ItemDataRole.UserRole + 3

_Index = QModelIndex | QPersistentModelIndex
STATUS_COLORS = {
    "running": "#2f855a",
    "error": "#c53030",
    "partial": "#b7791f",
    "inactive": "#718096",
    "stopped": "#718096",
}
CURRENT_BACKGROUND = QColor("#e6f0ff")
_KIND_RANK = {"native": 0, "emulated": 1, "unknown": 2, "unlisted": 3}
KIND_WORDS = {
    "native": "native",
    "emulated": "emulated (QEMU)",
    "unknown": "native platform of this node unknown (not started yet)",
    "unlisted": "an emulator is registered, but the node does not list it",
}


@dataclass
class _Row:
    builder: Builder
    node_chips: list[list[Chip]] = field(default_factory=list)
    chips: list[Chip] = field(default_factory=list)


def _builder_chips(node_chips: list[list[Chip]]) -> list[Chip]:
    """The union of a builder's node chips; a platform native on any node counts as native."""
    best: dict[Any, Chip] = {}
    for chips in node_chips:
        for chip in chips:
            old = best.get(chip.platform)
            if old is None or _KIND_RANK[chip.kind] < _KIND_RANK[old.kind]:
                best[chip.platform] = chip
    return list(best.values())


class BuildersModel(QAbstractItemModel):
    """Builders → nodes. ``ObjectRole`` gives the :class:`Builder` or :class:`Node` back."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[_Row] = []
        # Child indexes carry their builder's key (stable across row moves) as internalId.
        self._keys: dict[str, int] = {}
        self._next_key = 1

    # --- updates --------------------------------------------------------------------------
    def set_overview(self, ov: Overview) -> None:
        """Show ``ov.builders``, changing only what changed."""
        new_rows = []
        for b in ov.builders:
            node_chips = [ov.chips(n) for n in b.nodes]
            new_rows.append(_Row(b, node_chips, _builder_chips(node_chips)))
        names = [r.builder.name for r in new_rows]
        for row in range(len(self._rows) - 1, -1, -1):
            if self._rows[row].builder.name not in names:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._rows[row]
                self.endRemoveRows()
        for i, new in enumerate(new_rows):
            current = [r.builder.name for r in self._rows]
            name = new.builder.name
            if i < len(current) and current[i] == name:
                self._update_row(i, new)
            elif name in current:
                j = current.index(name)
                self.beginMoveRows(QModelIndex(), j, j, QModelIndex(), i)
                self._rows.insert(i, self._rows.pop(j))
                self.endMoveRows()
                self._update_row(i, new)
            else:
                self._key(name)
                self.beginInsertRows(QModelIndex(), i, i)
                self._rows.insert(i, new)
                self.endInsertRows()
        for name in list(self._keys):
            if name not in names:
                del self._keys[name]

    def _update_row(self, row: int, new: _Row) -> None:
        old = self._rows[row]
        parent = self.index(row, 0)
        old_nodes = [n.name for n in old.builder.nodes]
        new_nodes = [n.name for n in new.builder.nodes]
        if old_nodes != new_nodes:
            if old_nodes:
                self.beginRemoveRows(parent, 0, len(old_nodes) - 1)
                old.builder = Builder(old.builder.name, old.builder.driver)
                old.node_chips = []
                self.endRemoveRows()
            if new_nodes:
                self.beginInsertRows(parent, 0, len(new_nodes) - 1)
                self._rows[row] = new
                self.endInsertRows()
            self._rows[row] = new
            self._emit_row(QModelIndex(), row)
            return
        changed_nodes = [
            i
            for i, (a, b) in enumerate(zip(old.builder.nodes, new.builder.nodes, strict=True))
            if a != b or old.node_chips[i] != new.node_chips[i]
        ]
        builder_changed = (
            _without_nodes(old.builder) != _without_nodes(new.builder) or old.chips != new.chips
        )
        self._rows[row] = new
        if builder_changed:
            self._emit_row(QModelIndex(), row)
        for i in changed_nodes:
            self._emit_row(parent, i)

    def _emit_row(self, parent: QModelIndex, row: int) -> None:
        self.dataChanged.emit(self.index(row, 0, parent), self.index(row, len(HEADERS) - 1, parent))

    def _key(self, name: str) -> int:
        if name not in self._keys:
            self._keys[name] = self._next_key
            self._next_key += 1
        return self._keys[name]

    # --- lookups ----------------------------------------------------------------------------
    def builders(self) -> list[Builder]:
        return [r.builder for r in self._rows]

    def builder_row(self, name: str) -> int | None:
        return next((i for i, r in enumerate(self._rows) if r.builder.name == name), None)

    def builder_index(self, name: str, column: int = 0) -> QModelIndex:
        row = self.builder_row(name)
        return QModelIndex() if row is None else self.index(row, column)

    def builder_of(self, index: _Index) -> Builder | None:
        """The builder of a builder row or of a node row."""
        if not index.isValid():
            return None
        if index.internalId() == 0:
            return self._rows[index.row()].builder
        row = self._row_of_key(index.internalId())
        return None if row is None else self._rows[row].builder

    def chips(self, index: _Index) -> list[Chip]:
        if not index.isValid():
            return []
        if index.internalId() == 0:
            return self._rows[index.row()].chips
        row = self._row_of_key(index.internalId())
        return [] if row is None else self._rows[row].node_chips[index.row()]

    def background(self, index: _Index) -> QBrush | None:
        """The row background (the current builder is highlighted), for the chips delegate."""
        builder = self.builder_of(index)
        if builder is not None and builder.current and index.internalId() == 0:
            return QBrush(CURRENT_BACKGROUND)
        return None

    def _row_of_key(self, key: int) -> int | None:
        for i, r in enumerate(self._rows):
            if self._keys.get(r.builder.name) == key:
                return i
        return None

    # --- Qt model API -----------------------------------------------------------------------
    def index(self, row: int, column: int, parent: _Index = QModelIndex()) -> QModelIndex:  # noqa: B008
        if not self.hasIndex(row, column, parent):
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, column, 0)
        if parent.internalId() != 0:
            return QModelIndex()
        key = self._key(self._rows[parent.row()].builder.name)
        return self.createIndex(row, column, key)

    def parent(self, child: _Index = QModelIndex()) -> QModelIndex:  # type: ignore[override]  # noqa: B008
        if not child.isValid() or child.internalId() == 0:
            return QModelIndex()
        row = self._row_of_key(child.internalId())
        return QModelIndex() if row is None else self.createIndex(row, 0, 0)

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        if not parent.isValid():
            return len(self._rows)
        if parent.internalId() != 0 or parent.column() != 0:
            return 0
        return len(self._rows[parent.row()].builder.nodes)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return len(HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section] if 0 <= section < len(HEADERS) else None
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        builder = self.builder_of(index)
        if builder is None:
            return None
        node = None if index.internalId() == 0 else builder.nodes[index.row()]
        col = index.column()
        if role == ObjectRole:
            return node if node is not None else builder
        if role == ChipsRole:
            return self.chips(index)
        if role == CurrentRole:
            return builder.current
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(builder, node, col, index)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(builder, node, col, index)
        if role == Qt.ItemDataRole.ForegroundRole and col == COL_STATUS:
            status = node.status if node is not None else builder.status
            color = STATUS_COLORS.get(status)
            return QBrush(QColor(color)) if color else None
        if role == Qt.ItemDataRole.FontRole and node is None and builder.current:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.BackgroundRole and builder.current and node is None:
            return QBrush(CURRENT_BACKGROUND)
        return None

    def _display(self, builder: Builder, node: Node | None, col: int, index: _Index) -> Any:
        if node is None:
            return {
                COL_NAME: builder.name + ("  (current)" if builder.current else ""),
                COL_DRIVER: builder.driver,
                COL_ENDPOINT: f"{len(builder.nodes)} nodes" if len(builder.nodes) > 1 else "",
                COL_STATUS: builder.status,
                COL_BUILDKIT: ", ".join(sorted({n.buildkit for n in builder.nodes if n.buildkit})),
                COL_PLATFORMS: ", ".join(str(c.platform) for c in self.chips(index)),
            }.get(col)
        return {
            COL_NAME: node.name,
            COL_DRIVER: "",
            COL_ENDPOINT: node.endpoint,
            COL_STATUS: node.status,
            COL_BUILDKIT: node.buildkit,
            COL_PLATFORMS: ", ".join(str(c.platform) for c in self.chips(index)),
        }.get(col)

    def _tooltip(self, builder: Builder, node: Node | None, col: int, index: _Index) -> Any:
        if col == COL_PLATFORMS:
            chips = self.chips(index)
            if not chips:
                return "No platform reported yet: the node has not started (Bootstrap)."
            pinned = " (pinned with --platform)"
            return "\n".join(
                f"{c.platform}: {KIND_WORDS[c.kind]}{pinned if c.pinned else ''}" for c in chips
            )
        error = node.error if node is not None else builder.error
        if col == COL_STATUS and error:
            return error
        if col == COL_ENDPOINT and node is not None and node.host and node.host != node.endpoint:
            return f"docker context {node.endpoint} → {node.host}"
        if col == COL_NAME and node is None and builder.current:
            return "The current builder: builds without --builder use it."
        return None


def _without_nodes(b: Builder) -> tuple[str, str, bool, str, str, str]:
    return (b.name, b.driver, b.current, b.error, b.last_activity, b.status)

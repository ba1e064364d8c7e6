"""What every flat table model of mabgui shares: headers, row count and the row object role."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

# Views and proxies read a row's object back through this role.
ObjectRole = Qt.ItemDataRole.UserRole + 1

Index = QModelIndex | QPersistentModelIndex


class RowsTableModel(QAbstractTableModel):
    """A table over a list of row objects: one row per object, one column per ``HEADERS`` entry.

    Subclasses return their list from :meth:`row_objects` and implement ``data``.
    """

    HEADERS: tuple[str, ...] = ()

    def row_objects(self) -> Sequence[Any]:
        raise NotImplementedError

    def row_object(self, index: Index) -> Any:
        """The object shown in ``index``'s row, or None for an invalid index."""
        rows = self.row_objects()
        if not index.isValid() or not 0 <= index.row() < len(rows):
            return None
        return rows[index.row()]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt API
        return 0 if parent.isValid() else len(self.row_objects())

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt API
        return 0 if parent.isValid() else len(self.HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
            and 0 <= section < len(self.HEADERS)
        ):
            return self.HEADERS[section]
        return None

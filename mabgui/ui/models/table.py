"""Typed flat table models: a list of row objects and a table of :class:`Column` s.

A model says *what* each column shows as small functions of the row object instead of a long
``data()`` chain per role::

    COLUMNS = (
        Column("Name", display=lambda h: h.name),
        Column("Size", display=lambda e: human_size(e.size), sort_key=lambda e: e.size,
               alignment=RIGHT),
    )

``ObjectRole`` (the one of mabgui: tree models use it too) gives the row object back, and
``SortRole`` a column's sort key for proxies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, Qt

# Views and proxies read a row's object back through this role (every model of mabgui).
ObjectRole = Qt.ItemDataRole.UserRole + 1
# A column's sort key (numbers for sizes and durations, not their display text).
SortRole = Qt.ItemDataRole.UserRole + 100

Index = QModelIndex | QPersistentModelIndex
T = TypeVar("T")

RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_ROLE = Qt.ItemDataRole


@dataclass(frozen=True)
class Column(Generic[T]):
    """One column: its header and what it shows of a row object, role by role.

    Every function takes the row object; None from one means "nothing for this role".
    ``checked`` makes the column user-checkable (the model's ``setData`` decides what a click
    does).
    """

    header: str
    display: Callable[[T], Any]
    tooltip: Callable[[T], str | None] | None = None
    sort_key: Callable[[T], Any] | None = None
    alignment: Qt.AlignmentFlag | None = None
    foreground: Callable[[T], Any] | None = None
    decoration: Callable[[T], Any] | None = None
    font: Callable[[T], Any] | None = None
    checked: Callable[[T], bool] | None = None
    header_tooltip: str = ""

    def value(self, row: T, role: int) -> Any:
        """What this column shows of ``row`` in ``role`` (None when nothing)."""
        if role == _ROLE.DisplayRole:
            return self.display(row)
        if role == _ROLE.ToolTipRole:
            return self.tooltip(row) if self.tooltip is not None else None
        if role == SortRole:
            return (self.sort_key or self.display)(row)
        if role == _ROLE.TextAlignmentRole:
            return int(self.alignment) if self.alignment is not None else None
        if role == _ROLE.ForegroundRole:
            return self.foreground(row) if self.foreground is not None else None
        if role == _ROLE.DecorationRole:
            return self.decoration(row) if self.decoration is not None else None
        if role == _ROLE.FontRole:
            return self.font(row) if self.font is not None else None
        if role == _ROLE.CheckStateRole and self.checked is not None:
            return Qt.CheckState.Checked if self.checked(row) else Qt.CheckState.Unchecked
        return None


class RowsTableModel(QAbstractTableModel, Generic[T]):
    """A table over a list of ``T``: one row per object, one column per :class:`Column`.

    Subclasses pass their columns (usually built in ``__init__`` so the functions may use the
    model's state) and update rows with :meth:`set_rows`, :meth:`replace_row`,
    :meth:`insert_row`; :meth:`rows_changed` repaints rows whose objects changed inside.
    """

    def __init__(self, columns: Sequence[Column[T]], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._columns: tuple[Column[T], ...] = tuple(columns)
        self._rows: list[T] = []

    # --- rows ---------------------------------------------------------------------------------
    @property
    def columns(self) -> tuple[Column[T], ...]:
        return self._columns

    def rows(self) -> list[T]:
        """A copy of the row objects, in display order."""
        return list(self._rows)

    def row_objects(self) -> Sequence[T]:
        """The row objects (not a copy: do not change it)."""
        return self._rows

    def row_object(self, index: Index) -> T | None:
        """The object shown in ``index``'s row, or None for an invalid index."""
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        return self._rows[index.row()]

    def set_rows(self, rows: Iterable[T]) -> None:
        """Replace every row (a model reset)."""
        self.beginResetModel()
        self._rows = list(rows)
        self.endResetModel()

    def update_rows(self, rows: Iterable[T], same: Callable[[T, T], bool]) -> None:
        """New rows: when ``same`` pairs every new row with the old one at its place, they are
        replaced in place (one repaint, selection kept); otherwise a reset."""
        new = list(rows)
        if len(new) == len(self._rows) and all(
            same(a, b) for a, b in zip(new, self._rows, strict=True)
        ):
            self._rows = new
            if new:
                last = self.index(len(new) - 1, len(self._columns) - 1)
                self.dataChanged.emit(self.index(0, 0), last)
            return
        self.set_rows(new)

    def replace_row(self, row: int, obj: T) -> None:
        self._rows[row] = obj
        self.row_changed(row)

    def insert_row(self, row: int, obj: T) -> None:
        row = max(0, min(row, len(self._rows)))
        self.beginInsertRows(QModelIndex(), row, row)
        self._rows.insert(row, obj)
        self.endInsertRows()

    def row_changed(self, row: int, first: int = 0, last: int | None = None) -> None:
        """Repaint columns ``first``…``last`` (default: all) of ``row``."""
        last = len(self._columns) - 1 if last is None else last
        self.dataChanged.emit(self.index(row, first), self.index(row, last))

    def column_changed(self, first: int, last: int | None = None) -> None:
        """Repaint columns ``first``…``last`` of every row."""
        if self._rows:
            last = first if last is None else last
            self.dataChanged.emit(self.index(0, first), self.index(len(self._rows) - 1, last))

    # --- Qt model API ---------------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt API
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt API
        return 0 if parent.isValid() else len(self._columns)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = _ROLE.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self._columns):
            return None
        column = self._columns[section]
        if role == _ROLE.DisplayRole:
            return column.header
        if role == _ROLE.ToolTipRole and column.header_tooltip:
            return column.header_tooltip
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if self._columns[index.column()].checked is not None:
            flags |= Qt.ItemFlag.ItemIsUserCheckable
        return flags

    def data(self, index: Index, role: int = _ROLE.DisplayRole) -> Any:
        row = self.row_object(index)
        if row is None or not 0 <= index.column() < len(self._columns):
            return None
        if role == ObjectRole:
            return row
        return self._columns[index.column()].value(row, role)

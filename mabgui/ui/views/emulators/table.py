"""The handlers table of the Emulators area: one row per handler, long columns capped."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

from mabgui.ui.models.emulators import (
    COL_BUILDERS,
    COL_ENABLED,
    COL_FLAGS,
    COL_INTERPRETER,
    COL_NAME,
    COL_PLATFORMS,
    COL_WARNING,
    EmulatorsModel,
)

# Long interpreters and builder lists get their width up to a cap (tooltips and resizing show
# the rest), so the warnings column stays readable.
_CAPS = ((COL_INTERPRETER, 280), (COL_BUILDERS, 180))


def handlers_table(model: EmulatorsModel) -> QTableView:
    """A single-selection table of ``model`` whose capped columns follow its changes."""
    table = QTableView()
    table.setModel(model)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.verticalHeader().hide()
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
    header = table.horizontalHeader()
    for col in (COL_NAME, COL_PLATFORMS, COL_ENABLED, COL_FLAGS):
        header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
    for col, _ in _CAPS:
        header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
    header.setSectionResizeMode(COL_WARNING, QHeaderView.ResizeMode.Stretch)

    def fit() -> None:
        for col, cap in _CAPS:
            table.resizeColumnToContents(col)
            table.setColumnWidth(col, min(table.columnWidth(col), cap))

    model.modelReset.connect(fit)
    model.dataChanged.connect(fit)
    return table

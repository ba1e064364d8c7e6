"""The base × target-platform matrix of a Dockerfile (issue 13), as a widget.

One row per ``FROM`` (stage, base reference, digest), one column per target platform: ✓ when
the base has it, ✗ when it lacks it (red), "build" for ``--platform=$BUILDPLATFORM`` stages
(which need only the build machine's platform), "—" for scratch and stages built from an
earlier stage. :meth:`BasesMatrix.check` resolves through the registry; the Builds form embeds
the widget and uses :attr:`BasesMatrix.warnings` to warn before a build starts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mabgui.core.platform import Platform, host_platform
from mabgui.core.registry import RegistryClient
from mabgui.core.registry.bases import BaseCoverage, Coverage, coverage, parse_stages
from mabgui.core.registry.model import short_digest

_MISSING = QColor("#c53030")
_OK = QColor("#2f855a")
FIXED_COLUMNS = ("Stage", "Base image", "Digest")


class BasesMatrix(QWidget):
    """Shows a :class:`~mabgui.core.registry.bases.Coverage` (see the module docstring)."""

    checked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.coverage: Coverage | None = None
        self.table = QTableWidget(0, len(FIXED_COLUMNS))
        self.table.setHorizontalHeaderLabels(list(FIXED_COLUMNS))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.summary)

    @property
    def warnings(self) -> list[str]:
        return self.coverage.warnings() if self.coverage is not None else []

    def cell(self, row: int, platform: str) -> str:
        """The text of ``row``'s cell for ``platform`` (tests and the form read it)."""
        if self.coverage is None:
            return ""
        column = len(FIXED_COLUMNS) + list(self.coverage.targets).index(platform)
        item = self.table.item(row, column)
        return item.text() if item is not None else ""

    async def check(
        self,
        dockerfile: str,
        targets: Sequence[Platform],
        build_args: Mapping[str, str] | None = None,
        *,
        insecure: Sequence[str] = (),
    ) -> Coverage:
        """Parse ``dockerfile``, resolve its bases and show the matrix."""
        stages = parse_stages(dockerfile, build_args)
        async with RegistryClient(insecure=insecure) as client:
            result = await coverage(client, stages, targets, host_platform())
        self.set_coverage(result)
        return result

    def set_coverage(self, result: Coverage) -> None:
        self.coverage = result
        headers = [*FIXED_COLUMNS, *result.targets]
        self.table.clear()
        self.table.setColumnCount(len(headers))
        self.table.setHorizontalHeaderLabels(headers)
        self.table.setRowCount(len(result.bases))
        for row, base in enumerate(result.bases):
            texts = [
                base.stage.label,
                base.reference,
                short_digest(base.digest) if base.digest else "",
            ]
            for col, text in enumerate(texts):
                item = QTableWidgetItem(text)
                tip = base.error or base.note or base.digest
                if tip:
                    item.setToolTip(tip)
                self.table.setItem(row, col, item)
            for offset, target in enumerate(result.targets):
                item = QTableWidgetItem(self._mark(base, target))
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                if target in base.missing or base.error:
                    item.setForeground(QBrush(_MISSING))
                    item.setToolTip(base.error or f"{base.reference} has no {target}")
                elif item.text() == "✓":
                    item.setForeground(QBrush(_OK))
                self.table.setItem(row, len(FIXED_COLUMNS) + offset, item)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        warnings = result.warnings()
        self.summary.setText(
            "Every base has every target platform." if not warnings
            else "⚠ " + "; ".join(warnings)
        )  # fmt: skip
        self.summary.setStyleSheet("" if not warnings else f"color: {_MISSING.name()}")
        self.checked.emit()

    @staticmethod
    def _mark(base: BaseCoverage, target: str) -> str:
        if base.error:
            return "?"
        if base.stage.scratch or base.stage.parent is not None:
            return "—"
        if target in base.missing:
            return "✗"
        if base.stage.build_platform:
            return "build"
        if target not in base.needed:
            return "—"
        return "✓"

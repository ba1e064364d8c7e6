"""Emulation insight: what QEMU cost this build, step by step, and where cross-compiling pays.

The core pairs each emulated step with its native twin (:func:`mabgui.core.progress.
emulation_insight`); this panel shows the slowdown ratios, the costliest steps first, and
suggests ``FROM --platform=$BUILDPLATFORM`` for RUN steps that lose real time under emulation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHeaderView,
    QLabel,
    QScrollArea,
    QSplitter,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from mabgui.core.progress import (
    BuildProgress,
    EmulationCost,
    LaneNodes,
    compared,
    emulation_insight,
    lane_emulated,
)
from mabgui.ui.models.table import RIGHT, Column, RowsTableModel
from mabgui.ui.views.builds.style import escape, format_duration, short_platform

_Index = QModelIndex | QPersistentModelIndex

# A cross-compile suggestion needs the step to lose at least this much to emulation.
HINT_MIN_EXTRA_S = 0.5
HINT_MIN_RATIO = 2.0
TOP_COSTS = 3


def _ratio_color(cost: EmulationCost) -> QColor | None:
    if cost.ratio >= 5:
        return QColor("#c53030")
    if cost.ratio >= 2:
        return QColor("#c05621")
    return None


def _cost_tooltip(cost: EmulationCost) -> str:
    return (
        f"{escape(cost.emulated.raw_name)}<br>native ({cost.native.platform}): "
        f"{format_duration(cost.native.duration_s)} · emulated: "
        f"{format_duration(cost.emulated.duration_s)} · {cost.ratio:.1f}× slower"
    )


class InsightModel(RowsTableModel[EmulationCost]):
    """Emulated steps and their native twins, most seconds lost first."""

    COL_STEP = 0
    COL_PLATFORM = 1
    COL_NATIVE = 2
    COL_EMULATED = 3
    COL_RATIO = 4
    COL_EXTRA = 5
    HEADERS = ("Step", "Platform", "Native", "QEMU", "Slowdown", "Lost")

    def __init__(self, parent: Any = None) -> None:
        bold = self._bold_if_top

        def seconds(
            text: Callable[[EmulationCost], str],
            key: Callable[[EmulationCost], Any],
            header: str,
            **extra: Any,
        ) -> Column[EmulationCost]:
            return Column(header, text, tooltip=_cost_tooltip, sort_key=key, alignment=RIGHT,
                          font=bold, **extra)  # fmt: skip

        super().__init__(
            (
                Column("Step", lambda c: c.label, tooltip=_cost_tooltip, font=bold),
                Column(
                    "Platform",
                    lambda c: short_platform(c.emulated.platform),
                    tooltip=_cost_tooltip,
                    font=bold,
                ),
                seconds(
                    lambda c: format_duration(c.native.duration_s),
                    lambda c: c.native.duration_s or 0.0,
                    "Native",
                ),
                seconds(
                    lambda c: format_duration(c.emulated.duration_s),
                    lambda c: c.emulated.duration_s or 0.0,
                    "QEMU",
                ),
                seconds(
                    lambda c: f"{c.ratio:.1f}×",
                    lambda c: c.ratio,
                    "Slowdown",
                    foreground=_ratio_color,
                ),
                seconds(lambda c: f"+{format_duration(c.extra_s)}", lambda c: c.extra_s, "Lost"),
            ),
            parent,
        )
        self._bold = QFont()
        self._bold.setBold(True)

    def _bold_if_top(self, cost: EmulationCost) -> QFont | None:
        """The costliest steps (the first rows) in bold."""
        if cost.extra_s <= 0:
            return None
        top = self.row_objects()[:TOP_COSTS]
        return self._bold if any(c is cost for c in top) else None

    @property
    def costs(self) -> list[EmulationCost]:
        return self.rows()

    def set_costs(self, costs: list[EmulationCost]) -> None:
        self.update_rows(costs, lambda new, old: new.emulated is old.emulated)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def cross_compile_candidates(costs: list[EmulationCost]) -> list[EmulationCost]:
    """The RUN steps where building on $BUILDPLATFORM would save real time."""
    return [
        c
        for c in costs
        if c.cross_compile_hint and c.extra_s >= HINT_MIN_EXTRA_S and c.ratio >= HINT_MIN_RATIO
    ]


class InsightPanel(QWidget):
    """Summary, the per-step table and the cross-compilation suggestion."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = InsightModel(self)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.view = QTreeView()
        self.view.setModel(self.model)
        self.view.setRootIsDecorated(False)
        self.view.setUniformRowHeights(True)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        head = self.view.header()
        head.setSectionResizeMode(InsightModel.COL_STEP, QHeaderView.ResizeMode.Stretch)
        head.setStretchLastSection(False)
        for col in range(1, len(InsightModel.HEADERS)):
            head.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.hint.setTextFormat(Qt.TextFormat.RichText)
        self.hint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.hint.setObjectName("crossCompileHint")
        self.hint.setStyleSheet(
            "#crossCompileHint { background:#ebf8ff; border:1px solid #90cdf4;"
            " border-radius:6px; padding:6px; }"
        )
        self.hint.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        hint_scroll = QScrollArea()
        hint_scroll.setWidgetResizable(True)
        hint_scroll.setFrameShape(QFrame.Shape.NoFrame)
        hint_scroll.setWidget(self.hint)
        hint_scroll.setMinimumWidth(380)
        hint_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._hint_box = hint_scroll
        body = QSplitter(Qt.Orientation.Horizontal)
        body.setChildrenCollapsible(False)
        body.addWidget(self.view)
        body.addWidget(hint_scroll)
        body.setStretchFactor(0, 3)
        body.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(body, 1)
        self.update_from(None)

    def _hide_hint(self) -> None:
        self.hint.hide()
        self._hint_box.hide()

    def _show_hint(self) -> None:
        self.hint.show()
        self._hint_box.show()

    def update_from(self, progress: BuildProgress | None, nodes: LaneNodes | None = None) -> None:
        """Compare the RUN steps of ``progress``; ``nodes``: each lane's node and whether it ran
        natively there (a multi-node builder decides that per node)."""
        if progress is None or not progress.lanes:
            self.model.set_costs([])
            self.summary.setText("Start a build or open a recording to see what emulation costs.")
            self._hide_hint()
            return
        emulated = [ln for ln in progress.lanes.values() if lane_emulated(ln, nodes)]
        native = [ln for ln in progress.lanes.values() if not lane_emulated(ln, nodes)]
        costs = emulation_insight(progress, nodes=nodes)
        self.model.set_costs(costs)
        if not emulated:
            self.summary.setText("Every platform of this build runs natively: no emulation cost.")
            self._hide_hint()
            return
        if not native:
            self.summary.setText(
                f"No platform of this build runs natively on this builder (native: "
                f"{progress.native}), so there is nothing to compare with: add "
                f"<code>{progress.native}</code> to the platforms to measure the QEMU slowdown."
            )
            self._hide_hint()
            return
        if not costs:
            self.summary.setText(
                "No emulated RUN step has a finished native twin yet (only RUN steps that ran "
                "both natively and under QEMU compare; cached and very short ones are left out)."
            )
            self._hide_hint()
            return
        lost = sum(max(0.0, c.extra_s) for c in costs)
        native_total = sum(c.native.duration_s or 0.0 for c in costs)
        emulated_total = sum(c.emulated.duration_s or 0.0 for c in costs)
        overall = emulated_total / native_total if native_total > 0 else 0.0
        worst = max(costs, key=lambda c: c.ratio)
        top = costs[0]
        self.summary.setText(
            f"Emulated steps ran <b>{overall:.1f}×</b> slower than their native twins "
            f"({len(costs)} compared, worst {worst.ratio:.1f}×); emulation cost "
            f"<b>{format_duration(lost)}</b> of step time. Costliest (bold below): "
            f"<b>{escape(_short(top.label))}</b> on {top.emulated.platform} "
            f"(+{format_duration(top.extra_s)}).<br>Compared RUN steps of "
            + "; ".join(escape(c) for c in compared(costs))
            + "."
        )
        candidates = cross_compile_candidates(costs)
        if not candidates:
            self._hide_hint()
            return
        names = sorted({c.label for c in candidates})
        saving = sum(c.extra_s for c in candidates)
        listed = "".join(f"<li>{escape(_short(n, 80))}</li>" for n in names[:6])
        more = f"<li>… and {len(names) - 6} more</li>" if len(names) > 6 else ""
        self.hint.setText(
            "<b>Cross-compile instead of emulating</b> — these RUN steps lose about "
            f"<b>{format_duration(saving)}</b> to QEMU:<ul style='margin:2px'>{listed}{more}</ul>"
            "Run that stage on the builder's native platform and build <i>for</i> the "
            "target:<pre style='margin:2px'>"
            "FROM --platform=$BUILDPLATFORM &lt;base&gt; AS build\n"
            "ARG TARGETOS TARGETARCH\n"
            "RUN GOOS=$TARGETOS GOARCH=$TARGETARCH \\\n"
            "    go build -o /out/app  # your toolchain\n"
            "FROM &lt;base&gt;\n"
            "COPY --from=build /out/app /app</pre>"
            "Only steps whose output does not depend on running target code can move."
        )
        self._show_hint()

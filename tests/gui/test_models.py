"""Typed table models: the column table, ObjectRole/SortRole, in-place updates (qtmodeltester)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QColor
from pytestqt.qtbot import QtBot

from mabgui.core import progress as P
from mabgui.core.build import history
from mabgui.ui.models import builders as builders_model
from mabgui.ui.models import manifests as manifests_model
from mabgui.ui.models.table import RIGHT, Column, ObjectRole, RowsTableModel, SortRole
from mabgui.ui.views.builds import log as log_model
from mabgui.ui.views.builds.history import HistoryModel
from mabgui.ui.views.builds.insight import InsightModel
from mabgui.ui.views.builds.lanes import StepsModel
from tests.conftest import FIXTURES

ROLE = Qt.ItemDataRole


@dataclass(frozen=True)
class Image:
    name: str
    size: int


def _images_model() -> RowsTableModel[Image]:
    return RowsTableModel(
        (
            Column(
                "Name",
                lambda i: i.name,
                tooltip=lambda i: f"image {i.name}",
                foreground=lambda i: QColor("red") if i.size > 100 else None,
                header_tooltip="the image name",
            ),
            Column("Size", lambda i: f"{i.size} B", sort_key=lambda i: i.size, alignment=RIGHT),
            Column("Small", lambda i: "", checked=lambda i: i.size < 100),
        )
    )


def test_columns_answer_role_by_role(qtmodeltester: Any) -> None:
    model = _images_model()
    model.set_rows([Image("busybox", 42), Image("debian", 1000)])
    qtmodeltester.check(model)
    name, size, small = (model.index(1, c) for c in range(3))
    assert model.headerData(0, Qt.Orientation.Horizontal) == "Name"
    assert model.headerData(0, Qt.Orientation.Horizontal, ROLE.ToolTipRole) == "the image name"
    assert model.headerData(1, Qt.Orientation.Vertical) is None
    assert name.data() == "debian"
    assert name.data(ROLE.ToolTipRole) == "image debian"
    assert name.data(ROLE.ForegroundRole) == QColor("red")
    assert model.index(0, 0).data(ROLE.ForegroundRole) is None
    assert size.data() == "1000 B"
    assert size.data(SortRole) == 1000
    assert name.data(SortRole) == "debian"  # no sort key: the display text
    assert size.data(ROLE.TextAlignmentRole) == int(RIGHT)
    assert name.data(ROLE.TextAlignmentRole) is None
    assert size.data(ObjectRole) == Image("debian", 1000)
    assert model.row_object(size) == Image("debian", 1000)
    assert model.row_object(QModelIndex()) is None
    assert small.data(ROLE.CheckStateRole) == Qt.CheckState.Unchecked
    assert model.index(0, 2).data(ROLE.CheckStateRole) == Qt.CheckState.Checked
    assert model.flags(small) & Qt.ItemFlag.ItemIsUserCheckable
    assert not model.flags(name) & Qt.ItemFlag.ItemIsUserCheckable


def test_updates_in_place_or_reset(qtbot: QtBot, qtmodeltester: Any) -> None:
    model = _images_model()
    qtmodeltester.check(model)
    model.set_rows([Image("a", 1), Image("b", 2)])
    resets: list[bool] = []
    model.modelReset.connect(lambda: resets.append(True))
    with qtbot.waitSignal(model.dataChanged, timeout=1000):
        model.update_rows([Image("a", 10), Image("b", 20)], lambda n, o: n.name == o.name)
    assert not resets
    assert model.rows() == [Image("a", 10), Image("b", 20)]
    model.update_rows([Image("c", 3)], lambda n, o: n.name == o.name)
    assert resets
    with qtbot.waitSignal(model.rowsInserted, timeout=1000):
        model.insert_row(99, Image("z", 9))  # clamped to the end
    assert [i.name for i in model.rows()] == ["c", "z"]
    with qtbot.waitSignal(model.dataChanged, timeout=1000):
        model.replace_row(0, Image("c", 4))
    assert model.rows()[0].size == 4


def _entry(tmp: Path, n: int, ok: bool, canceled: bool = False) -> history.HistoryEntry:
    return history.HistoryEntry(
        id=f"build-{n}",
        path=tmp / str(n),
        spec={"tags": [f"example/app:{n}"], "context": "."},
        started=1_700_000_000.0 + n,
        duration_s=12.5 * n,
        ok=ok,
        error="" if ok else "exit code 1 <RUN make>",
        digest="sha256:" + "a" * 64 if ok else "",
        exit_code=0 if ok else 1,
        canceled=canceled,
        platforms={"linux/amd64": "done", "linux/arm64": "error"},
    )


def test_history_model(tmp_path: Path, qtmodeltester: Any) -> None:
    model = HistoryModel()
    entries = [
        _entry(tmp_path, 1, True),
        _entry(tmp_path, 2, False),
        _entry(tmp_path, 3, False, True),
    ]
    model.set_entries(entries)
    qtmodeltester.check(model)
    assert model.entries == entries
    result = [model.index(r, HistoryModel.COL_RESULT).data() for r in range(3)]
    assert result == ["succeeded", "failed", "canceled"]
    assert model.index(0, HistoryModel.COL_PLATFORMS).data() == "amd64, arm64"
    assert model.index(1, HistoryModel.COL_IMAGE).data() == "example/app:2"
    assert model.index(1, HistoryModel.COL_DURATION).data(SortRole) == 25.0
    tip = model.index(1, HistoryModel.COL_WHEN).data(ROLE.ToolTipRole)
    assert "&lt;RUN make&gt;" in tip
    assert "build-2" in tip
    assert model.index(1, HistoryModel.COL_RESULT).data(ROLE.DecorationRole) is not None
    assert model.index(2, 0).data(ObjectRole) is entries[2]


def test_steps_and_insight_models(qtmodeltester: Any) -> None:
    progress = P.parse_bytes((FIXTURES / "progress" / "multi-platform.rawjson").read_bytes())
    lane = next(lane for lane in progress.lanes.values() if lane.steps)
    steps = StepsModel()
    steps.reset(lane.steps)
    qtmodeltester.check(steps)
    first = lane.steps[0]
    assert steps.index(0, StepsModel.COL_STEP).data() == first.label
    assert steps.index(0, StepsModel.COL_STEP).data(ObjectRole) is first
    assert steps.index(0, StepsModel.COL_TIME).data(ROLE.TextAlignmentRole) == int(RIGHT)
    assert steps.row_of(first) == 0

    insight = InsightModel()
    costs = P.emulation_insight(progress)
    insight.set_costs(costs)
    qtmodeltester.check(insight)
    assert insight.rowCount() == len(costs) > 0
    assert insight.index(0, InsightModel.COL_RATIO).data().endswith("×")
    assert insight.index(0, InsightModel.COL_RATIO).data(SortRole) == costs[0].ratio
    insight.set_costs(list(costs))  # same steps: updated in place
    assert insight.costs == costs


def test_one_object_role() -> None:
    """Tree and list models read their objects back through the same role as the tables."""
    assert builders_model.ObjectRole == ObjectRole
    assert manifests_model.ObjectRole == ObjectRole
    assert log_model.ObjectRole == ObjectRole
    assert SortRole != ObjectRole

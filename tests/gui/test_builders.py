"""Builders model and New-builder dialog (offscreen) over recorded data (the view on the real
engine: tests/e2e/gui/test_gui_builders.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import qasync
from PySide6.QtCore import QModelIndex, Qt
from pytestqt.qtbot import QtBot

from mabgui.core import buildx
from mabgui.core.engine import EngineFacts
from mabgui.core.overview import Overview
from mabgui.core.platform import Platform
from mabgui.ui.models.builders import (
    COL_ENDPOINT,
    COL_NAME,
    COL_PLATFORMS,
    COL_STATUS,
    BuildersModel,
    ChipsRole,
    ObjectRole,
)
from mabgui.ui.views.builders.chips import grouped
from mabgui.ui.views.builders.dialog import NewBuilderDialog
from tests.conftest import FIXTURES

FIX = FIXTURES / "buildx"
AMD64 = Platform.parse("linux/amd64")
EMULATABLE = frozenset(
    Platform.parse(p) for p in ("linux/arm64", "linux/arm/v7", "linux/arm/v6", "linux/s390x")
)
CONTEXTS = {"default": "unix:///var/run/docker.sock", "mabgui-e2e-second": "unix:///tmp/s.sock"}
FACTS = EngineFacts(
    context="default", endpoint=CONTEXTS["default"], os_type="linux", architecture="x86_64",
    image_store=True,
)  # fmt: skip


def overview(fixture: str) -> Overview:
    builders = buildx.parse_ls_json((FIX / fixture).read_text())
    return Overview(buildx.with_engine(buildx.resolve_hosts(builders, CONTEXTS), FACTS), FACTS,
                    EMULATABLE)  # fmt: skip


def names(model: BuildersModel, parent: QModelIndex | None = None) -> list[str]:
    parent = parent or QModelIndex()
    return [
        model.index(r, COL_NAME, parent).data(ObjectRole).name
        for r in range(model.rowCount(parent))
    ]


@pytest.fixture(autouse=True)
def private_docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Builders and contexts made here stay in a DOCKER_CONFIG of the test's own."""
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))


# --- the model ------------------------------------------------------------------------------------


def test_model_shows_builders_nodes_and_chips(qtmodeltester: object) -> None:
    model = BuildersModel()
    model.set_overview(overview("ls-multi-current.txt"))
    qtmodeltester.check(model)  # type: ignore[attr-defined]
    assert names(model) == [
        "mabgui-fixture-multi", "mabgui-fixture-remote", "default", "mabgui-e2e-second",
    ]  # fmt: skip
    multi = model.builder_index("mabgui-fixture-multi")
    assert names(model, multi) == ["mabgui-fixture-multi0", "mabgui-fixture-multi1"]
    node1 = model.index(1, COL_ENDPOINT, multi)
    assert node1.data() == "mabgui-e2e-second"
    assert "unix:///tmp/s.sock" in node1.data(Qt.ItemDataRole.ToolTipRole)
    assert model.index(0, COL_ENDPOINT, multi).parent() == multi
    default = model.builder_index("default")
    assert default.data() == "default  (current)"
    assert default.data(Qt.ItemDataRole.FontRole).bold()
    assert model.builder_index("mabgui-fixture-multi").data(Qt.ItemDataRole.FontRole) is None
    chips = model.index(0, COL_PLATFORMS, default).data(ChipsRole)
    kinds = {str(c.platform): c.kind for c in chips}
    assert kinds["linux/amd64"] == "native"
    assert kinds["linux/arm64"] == "emulated"
    assert kinds["linux/arm/v7"] == "unlisted"
    tooltip = model.index(0, COL_PLATFORMS, default).data(Qt.ItemDataRole.ToolTipRole)
    assert "linux/arm64: emulated (QEMU)" in tooltip
    assert [label for label, _ in grouped(chips)][:2] == ["amd64 (+3)", "⚙ arm64"]


def test_model_updates_are_targeted(qtmodeltester: object, qtbot: QtBot) -> None:
    model = BuildersModel()
    model.set_overview(overview("ls-multi-current.txt"))
    qtmodeltester.check(model)  # type: ignore[attr-defined]
    resets: list[int] = []
    changed: list[tuple[str, int]] = []
    model.modelReset.connect(lambda: resets.append(1))
    model.dataChanged.connect(
        lambda top, _bottom, _roles=(): changed.append(
            (model.builder_of(top).name, top.row() if top.parent().isValid() else -1)
        )
    )
    # The second daemon went away: its builder loses its node, the multi builder's node 1 errs.
    model.set_overview(overview("ls-error-current.txt"))
    qtmodeltester.check(model)  # type: ignore[attr-defined]
    assert not resets
    second = model.builder_index("mabgui-e2e-second")
    assert model.rowCount(second) == 0
    assert model.index(second.row(), COL_STATUS).data() == "error"
    assert ("mabgui-fixture-multi", 1) in changed
    assert ("mabgui-fixture-multi", 0) not in changed
    assert ("default", 0) not in changed  # (its builder row changed: last activity)
    node1 = model.index(1, COL_STATUS, model.builder_index("mabgui-fixture-multi"))
    assert node1.data() == "error"
    assert "Cannot connect" in node1.data(Qt.ItemDataRole.ToolTipRole)

    # Builders removed, moved and added keep the selection model consistent.
    reordered = overview("ls-multi-current.txt")
    model.set_overview(Overview(list(reversed(reordered.builders)), FACTS, EMULATABLE))
    qtmodeltester.check(model)  # type: ignore[attr-defined]
    assert names(model) == [
        "mabgui-e2e-second", "default", "mabgui-fixture-remote", "mabgui-fixture-multi",
    ]  # fmt: skip
    model.set_overview(overview("ls-default-current.txt"))
    qtmodeltester.check(model)  # type: ignore[attr-defined]
    assert names(model) == ["default"]
    assert not resets


# --- the dialog -----------------------------------------------------------------------------------


def test_dialog_refuses_bad_input_with_reasons(qtbot: QtBot, qloop: qasync.QEventLoop) -> None:
    dialog = NewBuilderDialog()
    qtbot.addWidget(dialog)
    dialog.set_contexts(["default", "arm-box"])
    dialog.show()
    dialog.name.setText("bad name")
    dialog.start()
    assert dialog.error.isVisible()
    assert "invalid builder name" in dialog.error.text()
    assert not dialog.running()

    dialog.name.setText("mabgui-gui-never-created")
    dialog.nodes[0].platforms.setText("linux/armx")
    dialog.start()
    assert "unknown architecture" in dialog.error.text()

    dialog.nodes[0].platforms.setText("")
    dialog.nodes[0].platform_menu.actions()[0].setChecked(True)  # linux/amd64
    node2 = dialog.add_node()
    node2.endpoint.setCurrentText("ssh://pi@arm-box")
    node2.platforms.setText("arm64,armhf")
    node2.driver_opts.setText("network=host")
    req = dialog.request()
    assert [(n.endpoint, [str(p) for p in n.platforms]) for n in req.nodes] == [
        ("default", ["linux/amd64"]),
        ("ssh://pi@arm-box", ["linux/arm64", "linux/arm/v7"]),
    ]
    assert req.nodes[1].driver_opts == {"network": "host"}
    assert req.bootstrap
    assert not req.keep_on_failure

    dialog.driver.setCurrentText("remote")
    assert dialog.nodes[0].endpoint.currentText() == ""  # a context is no remote endpoint
    dialog.start()
    assert "needs an endpoint" in dialog.error.text()
    dialog.driver.setCurrentText("kubernetes")
    assert dialog.replicas.isVisibleTo(dialog)
    node2.remove.click()
    assert len(dialog.nodes) == 1
    dialog.close()


# --- the view on the real engine ------------------------------------------------------------------


def test_chips_wrap_and_the_row_grows(qtbot: QtBot) -> None:
    """A narrow Platforms column wraps the chips onto more lines: no chip is left out."""
    from PySide6.QtWidgets import QStyleOptionViewItem, QTreeView

    from mabgui.ui.views.builders.chips import ChipsDelegate

    model = BuildersModel()
    model.set_overview(overview("ls-multi-current.txt"))
    tree = QTreeView()
    qtbot.addWidget(tree)
    tree.setModel(model)
    delegate = ChipsDelegate(tree)
    tree.setItemDelegateForColumn(COL_PLATFORMS, delegate)
    tree.header().resizeSection(COL_PLATFORMS, 140)
    index = model.index(0, COL_PLATFORMS, model.builder_index("default"))
    chips = index.data(ChipsRole)
    option = QStyleOptionViewItem()
    option.font = tree.font()
    boxes = delegate._boxes(option, list(chips), 140)
    assert len(boxes) == len(grouped(chips))
    assert all(box.right() <= 140 for box, _label, _chip in boxes)
    one_line = tree.fontMetrics().height() + 6
    assert len({box.top() for box, _label, _chip in boxes}) >= 3  # three lines of chips
    assert delegate.sizeHint(option, index).height() > 2 * one_line


def test_toolbar_reachable_with_tab_and_shortcuts(qtbot: QtBot) -> None:
    from PySide6.QtWidgets import QToolBar

    from mabgui.ui.views.builders.view import BuildersView

    view = BuildersView()
    qtbot.addWidget(view)
    bar = view.findChild(QToolBar)
    assert bar is not None
    for action in (view.refresh_act, view.new_act, view.use_act, view.remove_act):
        assert not action.shortcut().isEmpty(), action.text()
        button = bar.widgetForAction(action)
        assert button is not None
        assert button.focusPolicy() & Qt.FocusPolicy.TabFocus
        assert button.accessibleName()


def test_dialogs_answer_escape_and_enter(qtbot: QtBot, qloop: qasync.QEventLoop) -> None:
    """Enter presses the default button (Create, OK); Escape closes an idle dialog."""
    from PySide6.QtWidgets import QDialog

    from mabgui.ui.views.emulators.install_dialog import InstallDialog

    dialog = NewBuilderDialog()
    qtbot.addWidget(dialog)
    dialog.set_contexts(["default"])
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.create_button.isDefault()
    dialog.name.setText("bad name")
    dialog.name.setFocus()
    qtbot.keyClick(dialog.name, Qt.Key.Key_Return)  # Enter = Create: refused, reasons shown
    assert "invalid builder name" in dialog.error.text()
    assert dialog.isVisible()
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert dialog.result() == QDialog.DialogCode.Rejected
    assert not dialog.isVisible()

    install = InstallDialog(None, "this host", native=AMD64)
    qtbot.addWidget(install)
    install.show()
    qtbot.waitExposed(install)
    next(iter(install.boxes.values())).setChecked(True)
    qtbot.keyClick(install, Qt.Key.Key_Return)
    assert install.result() == QDialog.DialogCode.Accepted
    install.show()
    qtbot.keyClick(install, Qt.Key.Key_Escape)
    assert install.result() == QDialog.DialogCode.Rejected

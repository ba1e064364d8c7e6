"""Builders view, model and New-builder dialog (offscreen): recorded data and the real engine."""

from __future__ import annotations

import asyncio
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import qasync
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QMessageBox
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
from mabgui.ui.views.builders.view import BuildersView
from tests.conftest import FIXTURES, Engine
from tests.gui.conftest import run, run_until

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


def buildx_names() -> set[str]:
    res = subprocess.run(
        ["docker", "buildx", "ls", "--format", "json"], capture_output=True, text=True, timeout=60
    )
    import json

    return {json.loads(line)["Name"] for line in res.stdout.splitlines()}


@pytest.fixture(autouse=True)
def private_docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Builders and contexts made here stay in a DOCKER_CONFIG of the test's own."""
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))


@pytest.fixture
def temp_builder(engine: Engine) -> Iterator[str]:
    name = f"mabgui-gui-test-{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run(["docker", "buildx", "rm", "--force", name], capture_output=True, timeout=60)


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


def test_dialog_shows_buildx_error_and_leaves_nothing_behind(
    qtbot: QtBot, qloop: qasync.QEventLoop, temp_builder: str
) -> None:
    dialog = NewBuilderDialog()
    qtbot.addWidget(dialog)
    created: list[str] = []
    dialog.created.connect(created.append)
    dialog.show()
    dialog.name.setText(temp_builder)
    # A BuildKit image that is neither loaded nor pullable here (no network).
    dialog.nodes[0].driver_opts.setText("image=moby/buildkit:mabgui-absent")
    dialog.start()
    assert dialog.running()
    assert not dialog.create_button.isEnabled()
    run_until(qloop, lambda: not dialog.running(), timeout=120)
    assert dialog.error.isVisible()
    text = dialog.error.text()
    assert "failed to resolve reference" in text
    assert "moby/buildkit image" in text  # the hint
    assert "Nothing was left behind" in text
    log = dialog.log.toPlainText()
    assert "booting buildkit" in log
    assert f"$ docker buildx rm -- {temp_builder}" in log
    assert created == []
    assert temp_builder not in buildx_names()
    run(qloop, asyncio.sleep(0.3))  # let the layout settle before looking at it
    dialog.grab().save("/tmp/builders-dialog.png")
    dialog.close()


# --- the view on the real engine ------------------------------------------------------------------


def _loaded_view(qtbot: QtBot, qloop: qasync.QEventLoop) -> BuildersView:
    view = BuildersView()
    qtbot.addWidget(view)
    view.resize(1300, 620)
    view.show()  # the first show loads the builders
    run_until(qloop, lambda: view.overview is not None and not view.refreshing())
    return view


def test_view_lists_the_real_builders(
    qtbot: QtBot, qloop: qasync.QEventLoop, engine: Engine
) -> None:
    view = _loaded_view(qtbot, qloop)
    default = view.model.builder_index("default")
    assert default.isValid()
    assert view.model.rowCount(default) == 1
    current = [b.name for b in view.model.builders() if b.current]
    assert view.status.text().startswith(f"{len(view.model.builders())} builder(s) · current: ")
    assert current[0] in view.status.text()
    # The default builder is selected when it is current: docker-driver actions are disabled.
    view.select("default")
    assert not view.bootstrap_act.isEnabled()
    assert not view.remove_act.isEnabled()
    assert view.inspect_act.isEnabled()
    html = view.details.toHtml()
    assert "the daemon&#x27;s architecture" in html or "the daemon's architecture" in html
    view.inspect_selected()
    run_until(qloop, lambda: view.details_builder is not None)
    assert "org.mobyproject.buildkit.worker.executor" in view.details.toPlainText()
    view.grab().save("/tmp/builders.png")
    view.close()


def test_refresh_cancels_the_refresh_in_flight(
    qtbot: QtBot, qloop: qasync.QEventLoop, engine: Engine
) -> None:
    view = _loaded_view(qtbot, qloop)
    view.refresh()
    first = view.tasks._named["refresh"]
    view.refresh()
    run_until(qloop, lambda: not view.refreshing())
    assert first.cancelled()
    assert "builder(s)" in view.status.text()
    view.close()


def test_bootstrap_error_then_remove_with_confirmation(
    qtbot: QtBot, qloop: qasync.QEventLoop, temp_builder: str
) -> None:
    # A BuildKit image that is neither loaded nor pullable here (no network).
    absent = buildx.NodeSpec(driver_opts={"image": "moby/buildkit:mabgui-absent"})
    req = buildx.CreateRequest(name=temp_builder, nodes=(absent,), bootstrap=False)
    run(qloop, buildx.create(req))
    view = _loaded_view(qtbot, qloop)
    view.select(temp_builder)
    assert view.selected_builder().name == temp_builder  # type: ignore[union-attr]
    assert "is inactive" in view.details.toPlainText()
    assert view.bootstrap_act.isEnabled()

    view.bootstrap_selected()
    assert view.cancel_act.isVisible()
    run_until(qloop, lambda: not view.tasks.running("action"), timeout=120)
    assert "failed to resolve reference" in view.activity.toPlainText()
    assert f"Bootstrap {temp_builder} failed" in view.status.text()
    run_until(qloop, lambda: not view.refreshing())

    view.select(temp_builder)
    view.remove_selected()
    box = view.confirm
    assert isinstance(box, QMessageBox)
    assert temp_builder in box.text()
    box.button(QMessageBox.StandardButton.Yes).click()
    run_until(qloop, lambda: view.model.builder_row(temp_builder) is None, timeout=60)
    assert f"{temp_builder} removed" in view.activity.toPlainText()
    assert temp_builder not in buildx_names()
    view.close()


def test_cancel_stops_a_hanging_bootstrap(
    qtbot: QtBot, qloop: qasync.QEventLoop, temp_builder: str
) -> None:
    # A remote node that never answers: buildx would wait 20 s for it.
    req = buildx.CreateRequest(
        name=temp_builder,
        driver="remote",
        nodes=(buildx.NodeSpec(endpoint="tcp://127.0.0.1:1"),),
        bootstrap=False,
    )
    run(qloop, buildx.create(req))
    view = _loaded_view(qtbot, qloop)
    view.select(temp_builder)
    view.bootstrap_selected()
    run(qloop, asyncio.sleep(0.5))
    started = time.monotonic()
    view.cancel_action()
    run_until(qloop, lambda: not view.tasks.running("action"), timeout=10)
    assert time.monotonic() - started < 5
    assert "cancelled" in view.status.text()
    leftovers = subprocess.run(
        ["pgrep", "-f", f"buildx inspect --bootstrap -- {temp_builder}"], capture_output=True
    )
    assert leftovers.stdout == b""
    run_until(qloop, lambda: not view.refreshing())
    view.close()


def test_a_hanging_node_never_freezes_the_view(
    qtbot: QtBot, qloop: qasync.QEventLoop, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mabgui.ui.views.builders import view as builders_view
    from tests.e2e.test_builders import SilentServer

    monkeypatch.setattr(builders_view, "SLOW_NOTICE_MS", 500)
    server = SilentServer()
    context = f"mabgui-gui-hang-{uuid.uuid4().hex[:6]}"
    subprocess.run(
        ["docker", "context", "create", context, "--docker", f"host=tcp://127.0.0.1:{server.port}"],
        capture_output=True, check=True, timeout=30,
    )  # fmt: skip
    try:
        view = BuildersView()
        qtbot.addWidget(view)
        view.show()
        assert view.refreshing()
        run_until(qloop, lambda: "Still loading builders" in view.status.text(), timeout=10)
        assert view.refreshing()  # buildx still waits for the silent daemon…
        dialog = view.new_builder()  # …and the window keeps working meanwhile
        assert dialog.isVisible()
        dialog.close()
        hanging = view.tasks._named["refresh"]
        view.refresh()  # a new refresh replaces the hanging one: buildx is stopped
        run_until(qloop, hanging.done, timeout=10)
        assert hanging.cancelled()
        # Stop the second one inside the loop too: pytest-qt processes Qt events between the
        # test and its teardown, where a cancel still in progress would run without a loop.
        view.tasks.cancel_all()
        run(qloop, view.tasks.wait_all())
        view.close()
    finally:
        subprocess.run(["docker", "context", "rm", "--force", context], capture_output=True)
        server.close()

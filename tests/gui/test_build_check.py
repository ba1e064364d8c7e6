"""Before a GUI build: the routing warning with one-click pin-native, the push refusal with the
one-click recreate (confirmed first), and lanes naming their node. The facts come from core,
replaced here by recorded builders (the real 2-node run: tests/e2e/gui/test_gui_nodes.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import qasync
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from mabgui.core import buildx, preflight_push
from mabgui.core import overview as ov
from mabgui.core.build import BuildSpec, OutputKind
from mabgui.core.buildx import Builder, Node, routing
from mabgui.core.engine import EngineFacts
from mabgui.core.platform import Platform
from mabgui.ui.views.builds.build_check import BuildCheck
from mabgui.ui.views.builds.form import BuildForm
from mabgui.ui.views.builds.lanes import lane_nodes
from mabgui.ui.views.builds.view import BuildsView
from tests.conftest import FIXTURES
from tests.gui.conftest import run, run_until

NODES = FIXTURES / "buildx" / "nodes"
AMD64 = Platform.parse("linux/amd64")
ARM64 = Platform.parse("linux/arm64")
DAEMON = ["127.0.0.0/8", "127.0.0.1:5000"]
TAG = "127.0.0.1:5000/mabgui-gui/hello:1"
FACTS = EngineFacts(context="default", endpoint="unix:///var/run/docker.sock", os_type="linux",
                    architecture="x86_64", image_store=True)  # fmt: skip


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MABGUI_DATA_DIR", str(tmp_path / "data"))


def two_node(state: str) -> Builder:
    """The recorded real 2-node builder (amd64 node, native arm64 node), pins read."""
    (builder,) = buildx.parse_ls_json((NODES / f"ls-{state}.json").read_text())
    pins = routing.parse_pins((NODES / f"pins-{state}.txt").read_text())
    return routing.with_pins([builder], pins)[0]


def bridge() -> Builder:
    node = Node(name="b0", endpoint="unix:///var/run/docker.sock", status="running",
                platforms=(AMD64, ARM64))  # fmt: skip
    return Builder(name="b", driver="docker-container", nodes=(node,), current=True)


def test_routing_warning_offers_pin_native(
    qtbot: QtBot, qloop: qasync.QEventLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    check = BuildCheck()
    qtbot.addWidget(check)
    check.show()
    builder = two_node("unpinned")
    problems = check.show_routing(builder, [AMD64, ARM64])
    assert [str(p.platform) for p in problems] == ["linux/arm64"]
    assert check.isVisible()
    assert "under QEMU on node amd" in check.text.text()
    assert check.fix_text() == "Pin each node to its native platform"
    pinned: list[str] = []

    async def pin_native(name: str, progress: Callable[[str], None] | None = None) -> Builder:
        pinned.append(name)
        if progress is not None:
            progress("$ docker buildx create --append …")
        return two_node("pinned")

    monkeypatch.setattr(routing, "pin_native", pin_native)
    with qtbot.waitSignal(check.changed):
        check.fix_button.click()  # no confirmation: pinning removes nothing
    assert pinned == [builder.name]
    assert "amd → linux/amd64" in check.progress.text()
    assert check.fix_button.isHidden()
    assert check.show_routing(two_node("pinned"), [AMD64, ARM64]) == []
    assert check.show_routing(builder, [AMD64]) == []  # amd64 alone goes to its native node


def test_form_warns_as_platforms_are_ticked(
    qtbot: QtBot, qloop: qasync.QEventLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    builder = two_node("unpinned")

    async def overview() -> ov.Overview:
        return ov.Overview([builder], FACTS, frozenset())

    monkeypatch.setattr(ov, "overview", overview)
    form = BuildForm()
    qtbot.addWidget(form)
    form.show()
    form.load_builders()
    run_until(qloop, lambda: not form.tasks.running("builders"))
    form.builder.setCurrentText(builder.name)
    form.set_platforms([AMD64])
    assert not form.check.isVisible()
    form.platform_boxes[ARM64].setChecked(True)
    assert form.check.isVisible()
    assert form.check.kind == "routing"
    form.platform_boxes[ARM64].setChecked(False)
    assert not form.check.isVisible()


def test_push_refused_with_one_click_recreate(
    qtbot: QtBot, qloop: qasync.QEventLoop, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    builder = bridge()
    problems = preflight_push.push_problems(builder, [TAG], DAEMON)
    fix = preflight_push.fix_summary(builder, [TAG], DAEMON)

    async def plan_build(
        name: str | None, platforms: list[Platform], tags: list[str], push: bool
    ) -> preflight_push.BuildPlan:
        assert push
        assert tags == [TAG]
        return preflight_push.BuildPlan(builder, preflight_push.lanes(builder, platforms), (),
                                        tuple(problems), fix)  # fmt: skip

    recreated: list[tuple[str, tuple[str, ...]]] = []

    async def recreate(
        name: str, tags: tuple[str, ...], progress: Callable[[str], None] | None = None
    ) -> Builder:
        recreated.append((name, tuple(tags)))
        return builder

    monkeypatch.setattr(preflight_push, "plan_build", plan_build)
    monkeypatch.setattr(preflight_push, "recreate_for_push", recreate)
    view = BuildsView(autoload=False)
    qtbot.addWidget(view)
    view.resize(1100, 760)
    view.show()
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    spec = BuildSpec(context=str(tmp_path), platforms=[AMD64], tags=[TAG],
                     output=OutputKind.PUSH, builder="b")  # fmt: skip
    view.start_build(spec)
    run_until(qloop, lambda: "not started" in view.state.text())
    check = view.form.check
    assert view.side.isVisible()  # the form with the fix comes back
    assert "not started" in view.state.text()
    assert "cannot push to 127.0.0.1:5000" in view.form.problems.text()
    assert check.fix_text() == ("Recreate builder b with host network and 127.0.0.1:5000 over HTTP")
    check.fix_button.click()
    box = check.confirm
    assert isinstance(box, QMessageBox)
    assert box.isVisible()
    assert recreated == []  # nothing before the confirmation
    with qtbot.waitSignal(check.changed):
        box.button(QMessageBox.StandardButton.Ok).click()
    assert recreated == [("b", (TAG,))]
    assert "recreated" in check.progress.text()
    run(qloop, view.tasks.wait_all())


def test_lane_names_its_node_and_native_per_node(qtbot: QtBot, qloop: qasync.QEventLoop) -> None:
    view = BuildsView(autoload=False)
    qtbot.addWidget(view)
    view.show()
    data = (FIXTURES / "progress" / "multi-platform.rawjson").read_bytes()
    progress = run(qloop, view.replay_bytes(data, title="replay"))
    lane = view.lane(ARM64)
    assert lane is not None
    lanes = preflight_push.lanes(two_node("pinned"), [AMD64, ARM64])
    lane.set_node(lanes[ARM64].node, lanes[ARM64].native)
    assert lane.badge_text() == "native on node arm"
    assert "node arm" in lane.badge.toolTip()
    unpinned = preflight_push.lanes(two_node("unpinned"), [AMD64, ARM64])
    lane.set_node(unpinned[ARM64].node, unpinned[ARM64].native)
    assert lane.badge_text() == "QEMU on node amd"
    amd = view.lane(AMD64)
    assert amd is not None
    amd.set_node(unpinned[AMD64].node, unpinned[AMD64].native)
    view.insight.update_from(progress, lane_nodes(view.lane_widgets()))
    assert (
        "linux/amd64 natively on node amd with linux/arm64 under QEMU on node amd"
        in view.insight.summary.text()
    )

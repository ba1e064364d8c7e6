"""The Builds area on the real 2-node builder: the routing warning in the form, its one-click
pin-native, then a linux/amd64,linux/arm64 build whose lanes name their node and run natively.

The two buildkitd (amd64, and arm64 whose worker lists linux/arm64 first) are the ones of
tests/e2e/test_builder_nodes.py (its ``daemons`` fixture: started for this module, always
removed). The builder is made with the mabgui CLI under a private DOCKER_CONFIG and removed in a
``finally``. BuildKit's own history says which node ran each platform.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import qasync
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from mabgui.core.platform import Platform
from mabgui.ui.views.builds.view import BuildsView
from tests.conftest import Engine
from tests.e2e.test_builder_nodes import (  # the module's buildkitd pair and its helpers
    Daemons,
    context,
    daemons,  # noqa: F401 - fixture (used by name below)
    history_refs,
    mabgui,
    private_docker_config,  # noqa: F401 - fixture (autouse)
    remove,
    unique,
)
from tests.gui.conftest import run_until

pytestmark = pytest.mark.engine

AMD64 = Platform.parse("linux/amd64")
ARM64 = Platform.parse("linux/arm64")
SHOT = Path("/tmp/mabgui-2node-build.png")


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MABGUI_DATA_DIR", str(tmp_path / "data"))


def test_two_node_lanes_name_their_node_after_one_click_pin(
    qtbot: QtBot,
    qloop: qasync.QEventLoop,
    engine: Engine,
    daemons: Daemons,  # noqa: F811 - the fixture imported above
    tmp_path: Path,
) -> None:
    name = unique("gui2node")
    try:
        res = mabgui("builder", "create", "--driver", "remote", "--name", name, "--node", "amd",
                     daemons.amd)  # fmt: skip
        assert res.returncode == 0, res.stderr
        res = mabgui("builder", "create", "--driver", "remote", "--append", "--name", name,
                     "--node", "arm", daemons.arm, "--bootstrap")  # fmt: skip
        assert res.returncode == 0, res.stdout + res.stderr

        view = BuildsView(autoload=False)
        qtbot.addWidget(view)
        view.resize(1280, 800)
        view.show()
        form = view.form
        form.load_builders()
        run_until(qloop, lambda: name in form.builder_platforms())
        run_until(qloop, lambda: not form.tasks.running("builders"))
        form.builder.setCurrentText(name)
        form.set_platforms([AMD64, ARM64])

        # Unpinned: buildx would build arm64 under QEMU on node amd; the form says so.
        check = form.check
        assert check.kind == "routing"
        assert f"builder {name} builds linux/arm64 under QEMU on node amd" in check.text.text()
        assert check.fix_text() == "Pin each node to its native platform"
        with qtbot.waitSignal(check.changed, timeout=180_000):
            check.fix_button.click()
        assert "amd → linux/amd64" in check.progress.text()
        assert "arm → linux/arm64" in check.progress.text()
        run_until(qloop, lambda: not form.tasks.running("builders"), timeout=120)
        assert check.kind == ""  # the pinned builder routes each platform to its own node

        form.context.setText(context(tmp_path, engine))
        before = history_refs(name)
        finished: list[object] = []
        view.finished.connect(finished.append)
        form.start_button.click()
        run_until(qloop, lambda: bool(finished), timeout=600)
        assert getattr(finished[0], "ok", False), view.error.text()
        amd, arm = view.lane(AMD64), view.lane(ARM64)
        assert amd is not None
        assert arm is not None
        assert (amd.node, amd.node_native, amd.badge_text()) == ("amd", True, "native on node amd")
        assert (arm.node, arm.node_native, arm.badge_text()) == ("arm", True, "native on node arm")
        assert f"node arm of builder {name}" in arm.badge.toolTip()
        if before is not None:  # buildx ≥ 0.20: BuildKit's records name the node of each build
            new = (history_refs(name) or set()) - before
            assert {ref.split("/")[1] for ref in new} == {"amd", "arm"}, new

        QApplication.sendPostedEvents()  # pending layouts, before the screenshot
        assert view.grab().save(str(SHOT))
        view.tasks.cancel_all()
        view.close()
    finally:
        remove(name)

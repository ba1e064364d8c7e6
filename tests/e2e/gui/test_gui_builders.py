"""Builders view and New-builder dialog on the real engine (offscreen): buildx errors, bootstrap,
remove, cancel, a hanging node."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import qasync
from PySide6.QtWidgets import QApplication, QMessageBox
from pytestqt.qtbot import QtBot

from mabgui.core import buildx
from mabgui.ui.views.builders.dialog import NewBuilderDialog
from mabgui.ui.views.builders.view import BuildersView
from tests.conftest import Engine
from tests.gui.conftest import run, run_until

pytestmark = pytest.mark.engine


@pytest.fixture(autouse=True)
def private_docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Builders and contexts made here stay in a DOCKER_CONFIG of the test's own."""
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))


def _process_running(pattern: str) -> bool:
    res = subprocess.run(["pgrep", "-f", pattern], capture_output=True)
    return bool(res.stdout.strip())


def buildx_names() -> set[str]:
    res = subprocess.run(
        ["docker", "buildx", "ls", "--format", "json"], capture_output=True, text=True, timeout=60
    )
    return {json.loads(line)["Name"] for line in res.stdout.splitlines()}


# The BuildKit image is loaded (scripts/provision-engine.sh): a bootstrap that must fail names an
# image under a mirror host that does not resolve, instead of relying on the machine being offline.
MISSING_IMAGE = "mabgui-e2e-mirror.invalid/moby/buildkit:buildx-stable-1"


@pytest.fixture
def temp_builder(engine: Engine) -> Iterator[str]:
    name = f"mabgui-gui-test-{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run(["docker", "buildx", "rm", "--force", name], capture_output=True, timeout=60)


def test_dialog_shows_buildx_error_and_leaves_nothing_behind(
    qtbot: QtBot, qloop: qasync.QEventLoop, temp_builder: str
) -> None:
    dialog = NewBuilderDialog()
    qtbot.addWidget(dialog)
    created: list[str] = []
    dialog.created.connect(created.append)
    dialog.show()
    dialog.name.setText(temp_builder)
    dialog.nodes[0].driver_opts.setText(f"image={MISSING_IMAGE}")
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
    QApplication.sendPostedEvents()  # pending layout requests, before the screenshot
    dialog.grab().save("/tmp/builders-dialog.png")
    dialog.close()


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
    first = view.tasks.task("refresh")
    view.refresh()
    run_until(qloop, lambda: not view.refreshing())
    assert first.cancelled()
    assert "builder(s)" in view.status.text()
    view.close()


def test_bootstrap_error_then_remove_with_confirmation(
    qtbot: QtBot, qloop: qasync.QEventLoop, temp_builder: str
) -> None:
    node = buildx.NodeSpec(driver_opts={"image": MISSING_IMAGE})
    req = buildx.CreateRequest(name=temp_builder, nodes=(node,), bootstrap=False)
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
    pattern = f"buildx inspect --bootstrap -- {temp_builder}"
    run_until(qloop, lambda: _process_running(pattern), timeout=30)  # buildx is waiting
    started = time.monotonic()
    view.cancel_action()
    run_until(qloop, lambda: not view.tasks.running("action"), timeout=10)
    assert time.monotonic() - started < 5
    assert "cancelled" in view.status.text()
    assert not _process_running(pattern)
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
        hanging = view.tasks.task("refresh")
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

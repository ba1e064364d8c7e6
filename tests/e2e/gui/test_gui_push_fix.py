"""A docker-container builder from the New builder dialog, a push to the local registry refused
in the Builds area, and its one-click fix, on the real engine.

The dialog creates the builder with the daemon's registries switched off (BuildKit in its own
network: 127.0.0.1:5000 there is not the host's registry), so the push is refused before the
build starts, with "Recreate builder … with host network and 127.0.0.1:5000 over HTTP". After
the confirmed fix (mabgui's defaults) the same build pushes. Builders live in a private
DOCKER_CONFIG and are removed in a ``finally``.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import qasync
from PySide6.QtWidgets import QMessageBox
from pytestqt.qtbot import QtBot

from mabgui.core.build import OutputKind
from mabgui.core.platform import Platform
from mabgui.ui.views.builders.view import BuildersView
from mabgui.ui.views.builds.view import BuildsView
from tests.conftest import Engine, missing_engine_part
from tests.e2e.docker_config import private_config
from tests.gui.conftest import run_until

pytestmark = pytest.mark.engine

AMD64 = Platform.parse("linux/amd64")
BUILDKIT_IMAGE = "moby/buildkit:buildx-stable-1"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MABGUI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DOCKER_CONFIG", str(private_config(tmp_path / "docker-config")))


@pytest.fixture
def builder_name(engine: Engine) -> Iterator[str]:
    if subprocess.run(["docker", "image", "inspect", BUILDKIT_IMAGE],
                      capture_output=True, check=False).returncode != 0:  # fmt: skip
        missing_engine_part(
            f"{BUILDKIT_IMAGE} is not loaded (scripts/provision-engine.sh loads it)"
        )
    name = f"mabgui-e2e-guipush-{uuid.uuid4().hex[:8]}"
    yield name
    subprocess.run(["docker", "buildx", "rm", "--force", name], capture_output=True, timeout=120)


def test_dialog_builder_push_refused_then_fixed_in_one_click(
    qtbot: QtBot, qloop: qasync.QEventLoop, engine: Engine, builder_name: str, tmp_path: Path
) -> None:
    builders = BuildersView()
    qtbot.addWidget(builders)
    builders.show()
    run_until(qloop, lambda: builders.overview is not None and not builders.refreshing())
    dialog = builders.new_builder()
    box = dialog.registry_box
    run_until(qloop, lambda: "127.0.0.1:5000" in box.config.toPlainText())
    assert box.host_network.isChecked()  # mabgui's default for a loopback registry
    dialog.name.setText(builder_name)
    box.carry.setChecked(False)  # = --no-daemon-registries: BuildKit keeps its own network
    assert not box.host_network.isChecked()
    requested: list[str] = []
    builders.build_requested.connect(requested.append)
    dialog.start()
    run_until(qloop, lambda: not dialog.running(), timeout=300)
    assert not dialog.error.isVisible(), dialog.error.text()
    assert dialog.isVisible()  # its log stays readable
    assert "Next:" in dialog.next_label.text()
    run_until(
        qloop, lambda: (b := builders.selected_builder()) is not None and b.name == builder_name
    )
    dialog.build_button.click()
    assert requested == [builder_name]

    view = BuildsView(autoload=False)
    qtbot.addWidget(view)
    view.resize(1200, 760)
    view.show()
    form = view.form
    form.choose_builder(builder_name)
    run_until(qloop, lambda: builder_name in form.builder_platforms())
    run_until(qloop, lambda: not form.tasks.running("builders"))
    form.builder.setCurrentText(builder_name)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM {engine.base_image}\nRUN echo {uuid.uuid4().hex}\n")
    form.context.setText(str(ctx))
    form.set_platforms([AMD64])
    form.tags.setText(f"127.0.0.1:5000/mabgui-e2e/gui-push:{uuid.uuid4().hex[:8]}")
    form.output.setCurrentIndex(form.output.findData(OutputKind.PUSH))

    form.start_button.click()
    run_until(qloop, lambda: "not started" in view.state.text(), timeout=120)
    check = form.check
    assert view.side.isVisible()  # the form, with the fix, is back
    assert f"builder {builder_name} cannot push to 127.0.0.1:5000" in form.problems.text()
    assert check.fix_text() == (
        f"Recreate builder {builder_name} with host network and 127.0.0.1:5000 over HTTP"
    )
    check.fix_button.click()
    confirm = check.confirm
    assert isinstance(confirm, QMessageBox)
    with qtbot.waitSignal(check.changed, timeout=300_000):
        confirm.button(QMessageBox.StandardButton.Ok).click()
    assert "recreated" in check.progress.text()
    run_until(qloop, lambda: not form.tasks.running("builders"), timeout=120)

    finished: list[object] = []
    view.finished.connect(finished.append)
    form.start_button.click()
    run_until(qloop, lambda: bool(finished), timeout=600)
    assert getattr(finished[0], "ok", False), view.error.text() + form.problems.text()
    view.tasks.cancel_all()
    builders.tasks.cancel_all()


def test_closing_the_dialog_during_a_real_create_prints_no_traceback(
    qtbot: QtBot,
    qloop: qasync.QEventLoop,
    builder_name: str,
    capfd: pytest.CaptureFixture[str],
) -> None:
    from mabgui.ui.views.builders.dialog import NewBuilderDialog

    dialog = NewBuilderDialog(suggested_name=builder_name)
    dialog.set_contexts(["default"])
    dialog.show()
    dialog.start()
    run_until(qloop, lambda: bool(dialog.log.toPlainText()), timeout=120)  # buildx is at work
    dialog.close()  # the window's close button: cancels (buildx stopped, the builder removed)…
    dialog.done(0)  # …and closing for good meanwhile
    tasks = dialog.tasks
    run_until(qloop, lambda: not tasks.running("create"), timeout=120)
    dialog.deleteLater()
    qtbot.wait(100)  # the deferred delete and any late callback
    ls = subprocess.run(["docker", "buildx", "ls"], capture_output=True, text=True, timeout=60)
    assert builder_name not in ls.stdout
    assert "Traceback" not in capfd.readouterr().err

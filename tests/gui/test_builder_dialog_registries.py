"""New builder dialog: the registry settings it applies, what it says after a success, and a
close during or after the creation (no traceback). buildx's create is replaced by a fake here;
the real create runs in tests/e2e/gui/test_gui_builders.py."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from types import TracebackType

import pytest
import qasync
from pytestqt.qtbot import QtBot

from mabgui.core import buildx
from mabgui.ui.views.builders.dialog import NewBuilderDialog
from tests.gui.conftest import run_until

DAEMON = ["127.0.0.0/8", "127.0.0.1:5000", "registry.lan:5000"]


class FakeCreate:
    """Records the request and the config file buildx would get; optionally never ends."""

    def __init__(self, hang: bool = False) -> None:
        self.hang = hang
        self.requests: list[buildx.CreateRequest] = []
        self.configs: list[str] = []
        self.started = False

    async def __call__(
        self, req: buildx.CreateRequest, progress: buildx.ProgressCallback | None = None
    ) -> buildx.CreateResult:
        self.started = True
        self.requests.append(req)
        path = req.nodes[0].buildkitd_config
        self.configs.append(await asyncio.to_thread(Path(path).read_text) if path else "")
        if progress is not None:
            progress("#1 booting buildkit")
        if self.hang:
            await asyncio.Event().wait()
        builder = buildx.Builder(name=req.name, driver=req.driver)
        return buildx.CreateResult(builder=builder, bootstrapped=True)


@pytest.fixture
def dialog(qtbot: QtBot) -> NewBuilderDialog:
    d = NewBuilderDialog(suggested_name="mabgui-gui-fake")
    qtbot.addWidget(d)
    d.set_contexts(["default"])
    d.registry_box.set_insecure(DAEMON)
    d.show()
    return d


def test_defaults_are_the_clis_and_editable(dialog: NewBuilderDialog) -> None:
    box = dialog.registry_box
    assert box.isVisible()
    text = box.config.toPlainText()
    assert '[registry."127.0.0.1:5000"]' in text
    assert '[registry."registry.lan:5000"]' in text
    assert "127.0.0.0/8" not in text  # a config names hosts, not CIDRs
    assert box.host_network.isChecked()  # 127.0.0.1:5000 is on loopback
    assert "127.0.0.1:5000" in box.summary.text()
    assert dialog.registry_setup().hosts == ("127.0.0.1:5000", "registry.lan:5000")

    box.carry.setChecked(False)  # = mabgui builder create --no-daemon-registries
    assert box.config.toPlainText() == ""
    assert not box.host_network.isChecked()
    assert dialog.registry_setup().config_text == ""

    box.carry.setChecked(True)
    box.config.setPlainText("[registry.")  # an edit that is not TOML is refused with the reason
    dialog.start()
    assert "not valid TOML" in dialog.error.text()
    assert not dialog.running()

    dialog.driver.setCurrentText("remote")  # remote BuildKit is not configured by mabgui
    assert not box.isVisibleTo(dialog)
    assert dialog.registry_setup().config_text == ""


def test_user_config_file_is_the_base(dialog: NewBuilderDialog, tmp_path: Path) -> None:
    own = tmp_path / "buildkitd.toml"
    own.write_text('debug = true\n[registry."127.0.0.1:5000"]\n  http = false\n')
    dialog.registry_box.config_file.setText(str(own))
    dialog.registry_box.regenerate()
    text = dialog.registry_box.config.toPlainText()
    assert text.startswith("debug = true")
    assert text.count('[registry."127.0.0.1:5000"]') == 1  # the user's own rule wins
    assert '[registry."registry.lan:5000"]' in text


def test_success_keeps_the_log_and_says_what_next(
    dialog: NewBuilderDialog, qloop: qasync.QEventLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeCreate()
    monkeypatch.setattr(buildx, "create", fake)
    created: list[str] = []
    build: list[str] = []
    dialog.created.connect(created.append)
    dialog.build_requested.connect(build.append)
    dialog.start()
    run_until(qloop, lambda: not dialog.running())
    (req,) = fake.requests
    assert req.nodes[0].driver_opts.get("network") == "host"
    assert "http = true" in fake.configs[0]
    assert not Path(req.nodes[0].buildkitd_config).exists()  # the temp config is gone
    assert dialog.isVisible()  # kept open: the log stays readable
    assert "booting buildkit" in dialog.log.toPlainText()
    assert "Registries over plain HTTP on the host network" in dialog.log.toPlainText()
    assert created == ["mabgui-gui-fake"]
    assert dialog.next_label.isVisible()
    assert "Next:" in dialog.next_label.text()
    assert dialog.use_button.isVisible()
    assert dialog.build_button.isVisible()
    assert not dialog.create_button.isVisible()
    dialog.build_button.click()
    assert build == ["mabgui-gui-fake"]
    assert not dialog.isVisible()


@pytest.mark.parametrize("when", ["during", "after"])
def test_closing_never_prints_a_traceback(
    when: str,
    qtbot: QtBot,
    qloop: qasync.QEventLoop,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    hooked: list[BaseException] = []

    def hook(_t: type[BaseException], exc: BaseException, _tb: TracebackType | None) -> None:
        hooked.append(exc)

    monkeypatch.setattr(sys, "excepthook", hook)
    fake = FakeCreate(hang=when == "during")
    monkeypatch.setattr(buildx, "create", fake)
    d = NewBuilderDialog(suggested_name="mabgui-gui-fake")
    d.set_contexts(["default"])
    d.registry_box.set_insecure(DAEMON)
    d.show()
    d.start()
    if when == "during":
        run_until(qloop, lambda: fake.started)
        d.reject()  # the window's close button: cancels first…
        d.done(0)  # …and closing for good while it cancels
    else:
        run_until(qloop, lambda: not d.running())
        d.close()
    d.deleteLater()
    run_until(qloop, lambda: not d.tasks.running("create"))
    qtbot.wait(50)  # lets the deferred delete and any late callback run
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert hooked == []


def test_use_it_makes_it_current(
    dialog: NewBuilderDialog, qloop: qasync.QEventLoop, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(buildx, "create", FakeCreate())
    used: list[str] = []

    async def use(name: str, **_kw: object) -> None:
        used.append(name)

    monkeypatch.setattr(buildx, "use", use)
    dialog.start()
    run_until(qloop, lambda: not dialog.running())
    dialog.use_button.click()
    run_until(qloop, lambda: used == ["mabgui-gui-fake"] and not dialog.tasks.running("use"))
    assert dialog.use_button.isHidden()
    assert "is the current builder" in dialog.next_label.text()
    assert "$ docker buildx use mabgui-gui-fake" in dialog.log.toPlainText()


def test_build_with_it_opens_the_builds_form(qtbot: QtBot, qloop: qasync.QEventLoop) -> None:
    from mabgui.ui.main_window import AREAS, MainWindow
    from mabgui.ui.views.builders.view import BuildersView
    from mabgui.ui.views.builds.view import BuildsView
    from tests.gui.conftest import run

    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    window.nav.setCurrentRow(AREAS.index("Builders"))
    builders = window.views["Builders"]
    assert isinstance(builders, BuildersView)
    builders.build_requested.emit("mabgui-gui-new")  # what the dialog's "Build with it" sends
    assert window.stack.currentWidget() is window.views["Builds"]
    builds = window.views["Builds"]
    assert isinstance(builds, BuildsView)
    assert builds.form.builder.currentText() == "mabgui-gui-new"
    window.close()
    run(qloop, window.shutdown())

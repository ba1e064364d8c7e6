"""The Emulators view and its model offscreen, over recorded binfmt_misc files and builders."""

from __future__ import annotations

import asyncio
import gc
import html
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import qasync
from PySide6.QtCore import QSettings, Qt
from pytestqt.qtbot import QtBot

from mabgui.core import binfmt, buildx
from mabgui.core import overview as binfmt_builders
from mabgui.core.binfmt import BinfmtState, LocalBinfmt
from mabgui.core.binfmt.daemon import DaemonBinfmt
from mabgui.core.platform import Platform
from mabgui.ui.models.emulators import (
    COL_BUILDERS,
    COL_ENABLED,
    COL_PLATFORMS,
    COL_WARNING,
    EmulatorsModel,
)
from mabgui.ui.models.table import ObjectRole
from mabgui.ui.views.emulators.header import Header
from mabgui.ui.views.emulators.install_dialog import InstallDialog
from mabgui.ui.views.emulators.view import EmulatorsView
from tests.gui.conftest import run, run_until

FIXTURES = Path(__file__).parent.parent / "fixtures" / "binfmt"


class RecordedKernel(LocalBinfmt):
    """LocalBinfmt over a copy of recorded files; writes behave as the kernel's files do
    (1/0 flip the first line, -1 deletes, a register line creates the handler file)."""

    def write_file(self, path: Path, value: str) -> None:
        if path.name == "register":
            spec = binfmt.parse_register_line(value)
            (path.parent / spec.name).write_text(
                f"enabled\ninterpreter {spec.interpreter}\nflags: {spec.flags}\noffset 0\n"
                f"magic {spec.magic.hex()}\nmask {spec.mask.hex()}\n"
            )
        elif value == "-1":
            path.unlink()
        else:
            lines = path.read_text().splitlines()
            lines[0] = "enabled" if value == "1" else "disabled"
            path.write_text("\n".join(lines) + "\n")


class ReadOnlyKernel(RecordedKernel):
    async def read(self) -> BinfmtState:
        state = await super().read()
        return BinfmtState(state.root, state.mounted, False, state.enabled, state.handlers)


async def recorded_builders() -> list[binfmt_builders.BuilderPlatforms]:
    text = (FIXTURES / "buildx-ls.json").read_text()
    return [binfmt_builders.from_buildx(b) for b in buildx.parse_ls_json(text)]


@pytest.fixture(autouse=True)
def _collect_after_the_loop_closes() -> Iterator[None]:
    """Autouse, so set up before ``qloop`` and torn down after it: qasync's executor threads
    (asyncio.to_thread) end up in reference cycles; collect them here on the GUI thread instead
    of letting a later collection destroy them from a worker thread."""
    yield
    gc.collect()


@pytest.fixture
def kernel_dir(tmp_path: Path) -> Path:
    dest = tmp_path / "binfmt_misc"
    shutil.copytree(FIXTURES / "extra", dest)
    return dest


AMD64 = Platform.parse("linux/amd64")


def _view(qtbot: QtBot, backend: Any, **kwargs: Any) -> EmulatorsView:
    kwargs.setdefault("native", AMD64)  # the daemon's platform, which the window passes down
    view = EmulatorsView(backend=backend, list_builders=recorded_builders, **kwargs)
    qtbot.addWidget(view)
    view.resize(1250, 520)
    return view


def row_of(view: EmulatorsView, name: str) -> int:
    row = view.model.row_of(name)
    assert row is not None
    return row


def test_model_over_recorded_handlers(qtmodeltester: Any, qtbot: QtBot) -> None:
    model = EmulatorsModel()
    state = binfmt.read_state(FIXTURES / "extra")
    model.set_state(state)
    qtmodeltester.check(model)
    assert model.rowCount() == 7
    s390x = model.index(model.row_of("qemu-s390x") or 0, COL_PLATFORMS)
    assert s390x.data() == "linux/s390x"
    assert s390x.siblingAtColumn(COL_BUILDERS).data() == "…"  # builders not known yet
    ext = model.index(model.row_of("mabgui-test-ext") or 0, COL_ENABLED)
    assert ext.data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Unchecked
    assert ext.data() == "disabled"
    assert ext.siblingAtColumn(COL_PLATFORMS).data() == "— (extension .mbgt)"
    assert isinstance(ext.data(ObjectRole), binfmt.Handler)
    assert model.flags(ext) & Qt.ItemFlag.ItemIsUserCheckable

    builders = [binfmt_builders.from_buildx(b) for b in
                buildx.parse_ls_json((FIXTURES / "buildx-ls.json").read_text())]  # fmt: skip
    stale = binfmt_builders.stale_builders(state, builders, Platform.parse("linux/amd64"))
    with qtbot.waitSignal(model.dataChanged) as blocker:
        model.set_builders(builders, stale)
    assert blocker.args is not None
    assert blocker.args[0].column() == COL_BUILDERS
    assert s390x.siblingAtColumn(COL_BUILDERS).data() == "default"
    arm = model.index(model.row_of("qemu-arm") or 0, COL_WARNING)
    assert arm.data() == "⚠ restart default"
    assert "does not list linux/arm/v7" in arm.data(Qt.ItemDataRole.ToolTipRole)
    qtmodeltester.check(model)

    # Checking the box only asks; the row changes when the kernel answers (targeted update).
    with qtbot.waitSignal(model.toggle_requested) as asked:
        assert not model.setData(s390x.siblingAtColumn(COL_ENABLED), Qt.CheckState.Unchecked,
                                 Qt.ItemDataRole.CheckStateRole)  # fmt: skip
    assert asked.args == ["qemu-s390x", False]
    assert s390x.siblingAtColumn(COL_ENABLED).data() == "enabled"
    off = binfmt.parse_handler("qemu-s390x", "disabled\n" + (FIXTURES / "host" / "qemu-s390x")
                               .read_text().split("\n", 1)[1])  # fmt: skip
    with qtbot.waitSignal(model.dataChanged) as changed:
        model.update_handler(off)
    assert changed.args is not None
    assert changed.args[0].row() == changed.args[1].row() == s390x.row()
    assert s390x.siblingAtColumn(COL_ENABLED).data() == "disabled"

    # A re-read with the same handlers keeps the rows (no reset).
    with qtbot.assertNotEmitted(model.modelReset):
        model.set_state(binfmt.read_state(FIXTURES / "extra"))
    # Different handlers: reset.
    with qtbot.waitSignal(model.modelReset):
        model.set_state(binfmt.read_state(FIXTURES / "host"))
    assert model.rowCount() == 5
    qtmodeltester.check(model)


def test_view_shows_handlers_builders_and_warnings(
    qtbot: QtBot, qloop: qasync.QEventLoop, kernel_dir: Path
) -> None:
    view = _view(qtbot, RecordedKernel(kernel_dir))
    view.show()
    view.refresh()
    run_until(qloop, lambda: view.builders is not None)
    run(qloop, view.tasks.wait_all())
    assert view.model.rowCount() == 7
    assert "7 handlers, 6 enabled" in view.summary.text()
    m = view.model
    assert m.index(row_of(view, "qemu-s390x"), COL_BUILDERS).data() == "default"
    assert m.index(row_of(view, "qemu-arm"), COL_BUILDERS).data() == "none"
    assert m.index(row_of(view, "python3.11"), COL_BUILDERS).data() == ""
    assert view.warnings.isVisible()
    assert "qemu-arm is enabled but the running builder default" in view.warnings.text()
    # The docker driver's BuildKit lives in dockerd: no restart is offered (it could only
    # fail); the warning says to restart the daemon instead.
    assert not view.restart_button.isVisible()
    assert "restart the docker daemon" in view.warnings.text().lower()
    assert not view.images.isVisible()  # a local backend needs no images
    view.table.selectRow(row_of(view, "qemu-riscv64"))
    assert view.remove_button.isEnabled()
    view.close()


def test_summary_counts_follow_a_disable(
    qtbot: QtBot, qloop: qasync.QEventLoop, kernel_dir: Path
) -> None:
    view = _view(qtbot, RecordedKernel(kernel_dir))
    view.confirm = lambda _title, _text: True
    view.show()
    view.refresh()
    run_until(qloop, lambda: view.builders is not None)
    run(qloop, view.tasks.wait_all())
    assert "7 handlers, 6 enabled" in view.summary.text()
    index = view.model.index(row_of(view, "qemu-s390x"), COL_ENABLED)
    view.model.setData(index, Qt.CheckState.Unchecked, Qt.ItemDataRole.CheckStateRole)
    run(qloop, view.tasks.wait_all())
    assert "7 handlers, 5 enabled" in view.summary.text()
    view.close()


def test_warnings_forget_a_builder_that_is_gone(
    qtbot: QtBot, qloop: qasync.QEventLoop, kernel_dir: Path
) -> None:
    """Coming back to the area re-reads the builders: a removed builder's warning goes."""
    present = [True]

    async def builders() -> list[binfmt_builders.BuilderPlatforms]:
        return await recorded_builders() if present[0] else []

    view = EmulatorsView(backend=RecordedKernel(kernel_dir), list_builders=builders, native=AMD64)
    qtbot.addWidget(view)
    view.show()
    run_until(qloop, lambda: view.builders is not None and bool(view.stale))
    run(qloop, view.tasks.wait_all())
    assert "running builder default" in view.warnings.text()
    present[0] = False
    view.hide()
    view.show()
    run_until(qloop, lambda: not view.stale)
    run(qloop, view.tasks.wait_all())
    assert "running builder default" not in view.warnings.text()
    view.close()


def test_stale_builders_need_the_engines_native_platform(
    qtbot: QtBot, qloop: qasync.QEventLoop, kernel_dir: Path
) -> None:
    """The native platform is the daemon's (passed down), never the machine the view runs on:
    until it is known no builder is called stale; on an s390x daemon qemu-s390x is native."""
    view = _view(qtbot, RecordedKernel(kernel_dir), native=None)
    view.show()
    view.refresh()
    run_until(qloop, lambda: view.builders is not None)
    run(qloop, view.tasks.wait_all())
    assert view.stale == []
    assert not view.restart_button.isVisible()
    assert view.model.index(row_of(view, "qemu-arm"), COL_WARNING).data() == ""
    view.set_native_platform(AMD64)
    assert [s.handler.name for s in view.stale] == ["qemu-arm"]
    assert not view.restart_button.isVisible()  # the docker driver: restart the daemon
    assert view.model.index(row_of(view, "qemu-arm"), COL_WARNING).data() == "⚠ restart default"
    view.close()

    dialog = InstallDialog(binfmt.read_state(kernel_dir), "this host", native=None)
    qtbot.addWidget(dialog)
    assert not any("(native)" in box.text() for box in dialog.boxes.values())
    dialog = InstallDialog(None, "this host", native=Platform.parse("linux/s390x"))
    qtbot.addWidget(dialog)
    assert dialog.boxes[Platform.parse("linux/s390x")].text() == "linux/s390x (native)"
    assert dialog.boxes[AMD64].isEnabled()


def test_toggle_asks_first_and_applies(
    qtbot: QtBot, qloop: qasync.QEventLoop, kernel_dir: Path
) -> None:
    view = _view(qtbot, RecordedKernel(kernel_dir))
    view.show()
    view.refresh()
    run(qloop, view.tasks.wait_all())
    asked: list[tuple[str, str]] = []
    answer = [False]

    def confirm(title: str, text: str) -> bool:
        asked.append((title, text))
        return answer[0]

    view.confirm = confirm
    index = view.model.index(row_of(view, "qemu-s390x"), COL_ENABLED)
    view.model.setData(index, Qt.CheckState.Unchecked, Qt.ItemDataRole.CheckStateRole)
    assert asked[0][0] == "Disable qemu-s390x?"
    assert f"echo 0 | sudo tee {kernel_dir}/qemu-s390x" in asked[0][1]
    assert "exec format error" in asked[0][1]
    run(qloop, view.tasks.wait_all())
    assert (kernel_dir / "qemu-s390x").read_text().startswith("enabled")  # declined: unchanged

    answer[0] = True
    view.model.setData(index, Qt.CheckState.Unchecked, Qt.ItemDataRole.CheckStateRole)
    run(qloop, view.tasks.wait_all())
    assert (kernel_dir / "qemu-s390x").read_text().startswith("disabled")
    assert index.data() == "disabled"
    assert "qemu-s390x is now <b>disabled</b>" in view.message.text()

    view.model.setData(index, Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole)
    run(qloop, view.tasks.wait_all())
    assert index.data() == "enabled"
    assert (kernel_dir / "qemu-s390x").read_text().startswith("enabled")

    # Remove the selected handler, confirmed with the exact command.
    view.table.selectRow(row_of(view, "mabgui-test-ext"))
    view.remove_selected()
    assert f"echo -1 | sudo tee {kernel_dir}/mabgui-test-ext" in asked[-1][1]
    run_until(qloop, lambda: view.model.row_of("mabgui-test-ext") is None)
    run(qloop, view.tasks.wait_all())
    assert view.model.rowCount() == 6
    view.close()


def test_add_flag_f(qtbot: QtBot, qloop: qasync.QEventLoop, kernel_dir: Path) -> None:
    arm = kernel_dir / "qemu-arm"
    arm.write_text(arm.read_text().replace("flags: POF", "flags: PO"))
    (kernel_dir / "qemu-arm").write_text(
        arm.read_text().replace("/usr/libexec/qemu-binfmt/arm-binfmt-P", "/bin/sh")
    )
    view = _view(qtbot, RecordedKernel(kernel_dir))
    view.show()
    view.refresh()
    run(qloop, view.tasks.wait_all())
    row = row_of(view, "qemu-arm")
    assert view.model.index(row, COL_WARNING).data().startswith("⚠ no F flag")
    assert "flag F (fix-binary) is missing" in view.warnings.text()
    view.table.selectRow(row)
    assert view.fix_button.isVisible()
    asked: list[str] = []
    view.confirm = lambda title, text: asked.append(text) is None
    view.add_fix_binary()
    assert f"echo -1 | sudo tee {kernel_dir}/qemu-arm" in asked[0]
    assert ":/bin/sh:POF' | sudo tee" in asked[0]
    run_until(qloop, lambda: "now has flags" in view.message.text())
    run(qloop, view.tasks.wait_all())
    assert "flags: POF" in arm.read_text()
    assert view.model.index(row_of(view, "qemu-arm"), COL_WARNING).data() == "⚠ restart default"
    view.close()


def test_without_privileges_nothing_runs_and_the_command_is_shown(
    qtbot: QtBot, qloop: qasync.QEventLoop, kernel_dir: Path
) -> None:
    view = _view(qtbot, ReadOnlyKernel(kernel_dir))
    view.show()
    view.refresh()
    run(qloop, view.tasks.wait_all())
    assert "Read-only" in view.message.text()
    view.confirm = lambda title, text: pytest.fail("must not ask: nothing can run")
    index = view.model.index(row_of(view, "qemu-arm"), COL_ENABLED)
    view.model.setData(index, Qt.CheckState.Unchecked, Qt.ItemDataRole.CheckStateRole)
    text = view.message.text()
    assert "needs root" in text
    assert f"echo 0 | sudo tee {kernel_dir}/qemu-arm" in text
    assert (kernel_dir / "qemu-arm").read_text().startswith("enabled")
    view.close()


def test_a_name_mabgui_never_writes_with_is_refused(
    qtbot: QtBot, qloop: qasync.QEventLoop, kernel_dir: Path
) -> None:
    (kernel_dir / "-odd").write_text((kernel_dir / "qemu-arm").read_text())
    view = _view(qtbot, RecordedKernel(kernel_dir))
    view.show()
    view.refresh()
    run(qloop, view.tasks.wait_all())
    view.confirm = lambda title, text: pytest.fail("must not ask: nothing may run")
    index = view.model.index(row_of(view, "-odd"), COL_ENABLED)
    view.model.setData(index, Qt.CheckState.Unchecked, Qt.ItemDataRole.CheckStateRole)
    assert "'-odd' is not a valid handler name" in html.unescape(view.message.text())
    view.table.selectRow(row_of(view, "-odd"))
    view.message.clear()
    view.remove_selected()
    assert "'-odd' is not a valid handler name" in html.unescape(view.message.text())
    assert (kernel_dir / "-odd").read_text().startswith("enabled")
    view.close()


def test_install_dialog_and_install(
    qtbot: QtBot, qloop: qasync.QEventLoop, kernel_dir: Path, tmp_path: Path
) -> None:
    state = binfmt.read_state(kernel_dir)
    dialog = InstallDialog(state, "this host", native=Platform.parse("linux/amd64"))
    qtbot.addWidget(dialog)
    arm64 = dialog.boxes[Platform.parse("linux/arm64")]
    assert arm64.isChecked()
    assert not arm64.isEnabled()
    assert "installed: qemu-aarch64" in arm64.text()
    assert not dialog.boxes[Platform.parse("linux/amd64")].isEnabled()
    assert dialog.selected() == []
    assert not dialog.buttons.buttons()[0].isEnabled()
    dialog.boxes[Platform.parse("linux/mips64le")].setChecked(True)
    assert dialog.selected() == [Platform.parse("linux/mips64le")]

    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "qemu-mips64el-static").write_text("#!/bin/sh\n")
    (bindir / "qemu-mips64el-static").chmod(0o755)
    view = _view(qtbot, RecordedKernel(kernel_dir, interpreter_dirs=[str(bindir)]))
    view.show()
    view.refresh()
    run(qloop, view.tasks.wait_all())
    asked: list[str] = []
    view.confirm = lambda title, text: asked.append(text) is None
    view.choose_platforms = lambda state: [Platform.parse("linux/mips64le")]
    view.install()
    assert ":qemu-mips64el:M::\\x7f\\x45\\x4c\\x46\\x02\\x01" in asked[0]
    assert f"{bindir}/qemu-mips64el-static:F' | sudo tee {kernel_dir}/register" in asked[0]
    run_until(qloop, lambda: view.model.row_of("qemu-mips64el") is not None)
    run(qloop, view.tasks.wait_all())
    row = row_of(view, "qemu-mips64el")
    assert view.model.index(row, COL_PLATFORMS).data() == "linux/mips64le"
    assert "Installed: qemu-mips64el." in view.message.text()
    # The platform without an emulator on the host: a clear error, nothing registered.
    view.choose_platforms = lambda state: [Platform.parse("linux/loong64")]
    view.install()
    run(qloop, view.tasks.wait_all())
    assert "no QEMU user emulator on this host for: qemu-loongarch64-static" in view.message.text()
    assert not (kernel_dir / "qemu-loongarch64").exists()
    view.close()


def test_unmounted_shows_the_mount_command(
    qtbot: QtBot, qloop: qasync.QEventLoop, tmp_path: Path
) -> None:
    view = _view(qtbot, LocalBinfmt(tmp_path))
    view.show()
    view.refresh()
    run(qloop, view.tasks.wait_all())
    assert "not mounted" in view.summary.text()
    assert f"sudo mount -t binfmt_misc binfmt_misc {tmp_path}" in view.message.text()
    assert not view.install_button.isEnabled()
    assert view.mount_button.isVisible()
    asked: list[str] = []
    view.confirm = lambda title, text: asked.append(text) is None and False
    view.mount()
    assert f"sudo mount -t binfmt_misc binfmt_misc {tmp_path}" in asked[0]
    view.close()


class HangingKernel(RecordedKernel):
    """A read that never ends by itself: only a cancel stops it (and is recorded)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.reading = False
        self.cancelled = False

    async def read(self) -> BinfmtState:
        self.reading = True
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        raise AssertionError("unreachable")


def test_deleting_the_view_stops_its_work(qloop: qasync.QEventLoop, kernel_dir: Path) -> None:
    kernel = HangingKernel(kernel_dir)
    view = EmulatorsView(backend=kernel, list_builders=recorded_builders, native=AMD64)
    tasks = view.tasks
    view.refresh()
    run_until(qloop, lambda: kernel.reading)
    assert tasks.running("refresh")
    view.deleteLater()
    run_until(qloop, lambda: kernel.cancelled)
    run_until(qloop, lambda: not tasks.running("refresh"))


def test_header_switches_and_remembers_the_backend(qtbot: QtBot, tmp_path: Path) -> None:
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    settings.setValue("emulators/backend", "local")
    header = Header(settings)
    qtbot.addWidget(header)
    header.show()
    assert isinstance(header.backend, LocalBinfmt)
    assert not header.images.isVisible()
    with qtbot.waitSignal(header.changed) as changed:
        header.backend_box.setCurrentIndex(header.backend_box.findData("daemon"))
    assert changed.args == [True]  # a new backend: read again
    assert isinstance(header.backend, DaemonBinfmt)
    assert header.images.isVisible()
    assert settings.value("emulators/backend") == "daemon"
    header.shell_image.setText("127.0.0.1:5000/busybox:latest")
    with qtbot.waitSignal(header.changed) as changed:
        header.shell_image.editingFinished.emit()
    assert changed.args == [False]
    assert isinstance(header.backend, DaemonBinfmt)
    assert header.backend.shell_image == "127.0.0.1:5000/busybox:latest"
    assert Header(settings).backend.kind == "daemon"  # remembered


def test_a_fixed_backend_cannot_be_switched(qtbot: QtBot, kernel_dir: Path) -> None:
    view = _view(qtbot, RecordedKernel(kernel_dir))
    assert not view.header.backend_box.isEnabled()
    daemon = DaemonBinfmt("img:1", "inst:2")
    view = _view(qtbot, daemon)
    assert view.header.shell_image.text() == "img:1"
    assert view.header.shell_image.isReadOnly()
    assert view.backend is daemon

"""The build spec form and the history panel of the Builds view (no engine needed)."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from mabgui.core import progress as P
from mabgui.core.build import BuildSpec, OutputKind, Secret, history
from mabgui.core.platform import Platform
from mabgui.ui.views.builds.form import BuildForm, SpecError
from mabgui.ui.views.builds.history import HistoryModel, HistoryPanel
from mabgui.ui.views.builds.view import BuildsView
from tests.conftest import FIXTURES
from tests.gui.conftest import run_until

STREAMS = FIXTURES / "progress"
AMD64 = Platform.parse("linux/amd64")
ARM64 = Platform.parse("linux/arm64")
ARMV7 = Platform.parse("linux/arm/v7")
RISCV = Platform.parse("linux/riscv64")


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MABGUI_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


@pytest.fixture
def form(qtbot):  # type: ignore[no-untyped-def]
    widget = BuildForm()
    qtbot.addWidget(widget)
    widget.set_builders(
        {"default": [AMD64, ARM64, RISCV], "multi": [AMD64, ARM64, ARMV7]},
        natives={"default": (AMD64,), "multi": (AMD64,)},
    )
    return widget


def test_platform_checkboxes_follow_the_builder(form) -> None:  # type: ignore[no-untyped-def]
    assert list(form.platform_boxes) == [AMD64, ARM64, RISCV]
    assert [p for p, box in form.platform_boxes.items() if box.isChecked()] == [AMD64]  # native
    assert "QEMU" in form.platform_boxes[ARM64].text()
    assert "QEMU" not in form.platform_boxes[AMD64].text()
    form.platform_boxes[ARM64].setChecked(True)
    form.builder.setCurrentText("multi")
    assert list(form.platform_boxes) == [AMD64, ARM64, ARMV7]
    assert form.platform_boxes[ARM64].isChecked()  # the choice survives a builder switch
    assert "multi" in form.platforms_note.text()


def test_spec_from_the_form(form, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    form.context.setText(str(tmp_path))
    form.target.setText("final")
    form.set_platforms([AMD64, ARM64, ARMV7])
    assert form.extra_platforms.text() == "linux/arm/v7"
    form.tags.setText("127.0.0.1:5000/x:1, 127.0.0.1:5000/x:latest")
    form.build_args.setPlainText("A=1\n\nB=two words\n")
    form.secrets.setPlainText("id=tok,src=/tmp/tok")
    form.output.setCurrentIndex(form.output.findData(OutputKind.PUSH))
    form.no_cache.setChecked(True)
    form.provenance.setCurrentIndex(form.provenance.findData("off"))
    form.sbom.setCurrentIndex(form.sbom.findData("on"))
    spec = form.spec()
    assert spec.context == str(tmp_path)
    assert spec.target == "final"
    assert spec.platforms == [AMD64, ARM64, ARMV7]
    assert spec.tags == ["127.0.0.1:5000/x:1", "127.0.0.1:5000/x:latest"]
    assert spec.build_args == {"A": "1", "B": "two words"}
    assert spec.secrets == [Secret("tok", "/tmp/tok")]
    assert spec.output is OutputKind.PUSH
    assert spec.no_cache
    assert spec.provenance is False
    assert spec.sbom is True
    assert spec.builder == "default"
    assert not form.output_dest.isEnabled()
    form.output.setCurrentIndex(form.output.findData(OutputKind.LOCAL))
    assert form.output_dest.isEnabled()
    # every output kind the core knows is offered, and round-trips through set_spec
    offered = {form.output.itemData(i) for i in range(form.output.count())}
    # push-by-digest is one platform of a per-platform build, never chosen on its own
    assert offered == set(OutputKind) - {OutputKind.DIGEST}
    form.set_spec(BuildSpec(context=str(tmp_path), output=OutputKind.DEFAULT))
    assert form.spec().output is OutputKind.DEFAULT


def test_per_platform_option_goes_with_push(form, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    form.context.setText(str(tmp_path))
    form.output.setCurrentIndex(form.output.findData(OutputKind.CACHE))
    assert not form.per_platform.isEnabled()
    form.per_platform.setChecked(True)
    assert not form.spec().per_platform  # only a push can be assembled into an index
    form.output.setCurrentIndex(form.output.findData(OutputKind.PUSH))
    assert form.per_platform.isEnabled()
    assert "keep the platforms that succeed" in form.per_platform.text()
    assert form.spec().per_platform
    form.set_spec(BuildSpec(context=str(tmp_path), output=OutputKind.PUSH))
    assert not form.per_platform.isChecked()
    form.set_spec(BuildSpec(context=str(tmp_path), output=OutputKind.PUSH, per_platform=True))
    assert form.per_platform.isChecked()


def test_form_refuses_what_does_not_parse(form, qtbot) -> None:  # type: ignore[no-untyped-def]
    form.extra_platforms.setText("linux/sparc99")
    form.build_args.setPlainText("1BAD NAME=x")
    form.secrets.setPlainText("nonsense")
    with pytest.raises(SpecError) as info:
        form.spec()
    text = " ".join(info.value.errors)
    assert "sparc99" in text
    assert "1BAD NAME" in text
    assert "nonsense" in text
    assert "context" in text
    started = []
    form.start_requested.connect(started.append)
    qtbot.mouseClick(form.start_button, Qt.MouseButton.LeftButton)
    assert not started
    assert not form.problems.isHidden()
    assert "Cannot start the build" in form.problems.text()


def test_start_emits_the_spec_and_remembers_it(form, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    form.context.setText(str(tmp_path))
    form.set_platforms([AMD64, ARM64])
    form.sbom.setCurrentIndex(form.sbom.findData("off"))
    with qtbot.waitSignal(form.start_requested) as blocker:
        qtbot.mouseClick(form.start_button, Qt.MouseButton.LeftButton)
    spec = blocker.args[0]
    assert isinstance(spec, BuildSpec)
    assert spec.platforms == [AMD64, ARM64]
    again = BuildForm()  # a new form (next start of the app) restores the last spec
    qtbot.addWidget(again)
    assert again.context.text() == str(tmp_path)
    assert again.extra_platforms.text() == "linux/amd64, linux/arm64"
    assert again.sbom.currentData() == "off"


def _save(name: str, spec: BuildSpec, started: float, exit_code: int) -> history.HistoryEntry:
    raw = (STREAMS / name).read_bytes()
    progress = P.parse_bytes(raw, spec.platforms, exit_code=exit_code)
    return history.save(spec, progress, gzip.compress(raw), started=started)


def test_history_reopen_respec_delete(qtbot, qloop, qtmodeltester, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    platforms = [AMD64, ARM64, ARMV7]
    ok_spec = BuildSpec(
        context=str(tmp_path),
        platforms=platforms,
        tags=["127.0.0.1:5000/mabgui-ui-test:multi"],
        output=OutputKind.PUSH,
    )
    bad_spec = BuildSpec(context=str(tmp_path / "fail"), platforms=platforms)
    _save("multi-platform.rawjson", ok_spec, time.time() - 100, 0)
    _save("fail-arm64.rawjson", bad_spec, time.time() - 50, 1)
    view = BuildsView()  # autoload: lists the history when shown (builders too)
    qtbot.addWidget(view)
    view.show()
    panel: HistoryPanel = view.history
    run_until(qloop, lambda: panel.model.rowCount() == 2)
    # the builders load in the background too (real `docker buildx ls`): let it end
    run_until(qloop, lambda: not view.form.tasks.running("builders"))
    qtmodeltester.check(panel.model)
    model = panel.model
    assert model.data(model.index(0, HistoryModel.COL_RESULT)) == "failed"  # newest first
    assert model.data(model.index(1, HistoryModel.COL_RESULT)) == "succeeded"
    assert model.data(model.index(0, HistoryModel.COL_PLATFORMS)) == "amd64, arm64, arm/v7"
    assert "mabgui-ui-test" in model.data(model.index(1, HistoryModel.COL_IMAGE))

    finished = []
    view.finished.connect(finished.append)
    panel.view.setCurrentIndex(model.index(0, 0))
    panel.reopen_button.click()
    run_until(qloop, lambda: view.lane(ARM64) is not None and view.lane(ARM64).failed)
    assert "failed" in view.state.text()
    where = f"builder {bad_spec.builder}" if bad_spec.builder else "the current builder"
    assert f"on {where}" in view.lane(ARM64).badge.toolTip()
    assert not view.inspect_button.isEnabled()
    assert not view.result_row.isVisibleTo(view)

    panel.view.setCurrentIndex(model.index(1, 0))
    panel.reopen_button.click()
    run_until(qloop, lambda: "succeeded" in view.state.text())
    # a pushed build shows its reference and digest in the run's header: copy, open
    assert view.inspect_button.isEnabled()
    assert view.result_row.isVisibleTo(view)
    assert view.result_ref_label.full_text() == view.result_ref
    view.copy_button.click()
    assert QApplication.clipboard().text() == view.result_ref
    with qtbot.waitSignal(view.inspect_requested) as blocker:
        view.inspect_button.click()
    assert blocker.args[0].startswith("127.0.0.1:5000/mabgui-ui-test:multi")

    panel.respec_button.click()
    assert view.side.currentIndex() == 0
    assert view.form.context.text() == str(tmp_path)
    assert view.form.tags.text() == "127.0.0.1:5000/mabgui-ui-test:multi"

    panel.view.setCurrentIndex(model.index(0, 0))
    panel.delete_button.click()
    run_until(qloop, lambda: model.rowCount() == 1)
    assert len(history.list_entries()) == 1
    view.tasks.cancel_all()
    view.form.tasks.cancel_all()
    view.close()


def test_platforms_are_exactly_what_is_ticked_or_typed(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The last spec is restored before the builders load: its platforms wait under "Other
    platforms"; once the builder lists them they become ticked boxes, so unticking one
    really drops it from the build."""
    first = BuildForm()
    qtbot.addWidget(first)
    first.context.setText(str(tmp_path))
    first.set_platforms([AMD64, ARM64])
    first.start()  # saves the spec, restored by the next form
    form = BuildForm()
    qtbot.addWidget(form)
    assert set(form.spec().platforms) == {AMD64, ARM64}
    form.set_builders({"default": [AMD64, ARM64, RISCV]})
    assert form.platform_boxes[AMD64].isChecked()
    assert form.extra_platforms.text() == ""
    form.platform_boxes[AMD64].setChecked(False)
    assert form.spec().platforms == [ARM64]
    form.extra_platforms.setText("linux/s390x")
    assert form.spec().platforms == [ARM64, Platform.parse("linux/s390x")]


def test_a_removed_builder_leaves_the_form(form) -> None:  # type: ignore[no-untyped-def]
    form.builder.setCurrentText("multi")
    form.set_builders({"default": [AMD64, ARM64, RISCV]})  # `buildx rm multi`, then reloaded
    assert [form.builder.itemText(i) for i in range(form.builder.count())] == ["default"]
    assert form.builder.currentText() == "default"


def test_builds_view_reloads_the_builders_when_shown_again(qtbot, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    view = BuildsView()
    qtbot.addWidget(view)
    loads: list[int] = []
    monkeypatch.setattr(view.form, "load_builders", lambda: loads.append(1))
    monkeypatch.setattr(view.history, "refresh", lambda: None)
    view.show()
    assert len(loads) == 1
    view.hide()
    view.show()
    assert len(loads) == 2
    view.close()


def test_tab_moves_on_from_text_boxes_and_follows_the_layout(form) -> None:  # type: ignore[no-untyped-def]
    assert form.build_args.tabChangesFocus()
    assert form.secrets.tabChangesFocus()
    chain = form.tab_chain()
    boxes = list(form.platform_boxes.values())
    assert chain.index(form.target) < chain.index(boxes[0]) < chain.index(form.extra_platforms)
    assert chain.index(form.extra_platforms) < chain.index(form.tags) < chain.index(form.build_args)
    assert chain.index(form.build_args) < chain.index(form.secrets) < chain.index(form.output)
    assert chain[-1] is form.start_button or chain.index(form.start_button) > chain.index(form.sbom)


def test_history_shows_all_its_columns_in_the_side_panel(qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec = BuildSpec(
        context=str(tmp_path / "a-rather-long-context-directory-name"),
        platforms=[AMD64, ARM64, ARMV7],
        tags=["127.0.0.1:5000/mabgui-ui-test/with-a-long-name:multi"],
        output=OutputKind.PUSH,
    )
    _save("multi-platform.rawjson", spec, time.time() - 100, 0)
    panel = HistoryPanel()
    qtbot.addWidget(panel)
    panel.resize(330, 400)  # the side panel's width
    panel.show()
    panel.model.set_rows(history.list_entries())
    qtbot.wait(10)
    header = panel.view.header()
    right = max(header.sectionPosition(c) + header.sectionSize(c) for c in range(header.count()))
    assert right <= panel.view.viewport().width() + 1
    assert all(header.sectionSize(c) >= 40 for c in range(header.count()))


def test_tab_is_never_trapped(form, qtbot) -> None:  # type: ignore[no-untyped-def]
    """Tab in Build args moves on (no tab typed); the log table hands Tab on too."""
    from mabgui.ui.views.builds.log import LogPane

    form.show()
    qtbot.waitExposed(form)
    form.activateWindow()
    form.build_args.setFocus()
    qtbot.waitUntil(form.build_args.hasFocus)
    qtbot.keyClick(form.build_args, Qt.Key.Key_Tab)
    assert "\t" not in form.build_args.toPlainText()
    assert form.secrets.hasFocus()
    qtbot.keyClick(form.secrets, Qt.Key.Key_Tab)
    assert "\t" not in form.secrets.toPlainText()
    assert not form.secrets.hasFocus()
    pane = LogPane()
    qtbot.addWidget(pane)
    assert not pane.view.tabKeyNavigation()

"""The "All builds" panel over recorded buildx 0.30.1 records (tests/fixtures/bkhistory/).

The panel's loaders are fed recorded `history ls/inspect/logs` output: the same parsers the real
adapters use (the engine test in tests/e2e/test_bkhistory.py drives the real buildx).
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from mabgui.core.build import bkhistory
from mabgui.core.build import bkhistory_parse as P
from mabgui.core.platform import Platform
from mabgui.core.progress import BuildProgress, parse_bytes
from mabgui.ui.views.builds.bkcompare_view import CompareView
from mabgui.ui.views.builds.bkhistory_panel import BkHistoryPanel
from mabgui.ui.views.builds.view import BuildsView
from tests.conftest import FIXTURES
from tests.gui.conftest import run_until

FIX = FIXTURES / "bkhistory"
OK_REF = "default/default/30k2lviieooujcrtn2fuefbno"
FAIL_REF = "default/default/pzve9pk6b8hpinxzhq14dkwov"
CAPS_NEW = P.Capabilities(True, True, True, True, True, "v0.30.1")


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MABGUI_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def _records() -> list[P.Record]:
    return P.parse_ls((FIX / "ls.json").read_text())


async def _filler(records: list[P.Record]) -> list[P.Record]:
    """Platforms from the recorded `history inspect` output (as bkhistory.fill_platforms)."""
    out = []
    for r in records:
        name = {OK_REF: "ok", FAIL_REF: "fail"}.get(r.ref)
        if name:
            d = P.parse_inspect((FIX / f"{name}.inspect.json").read_text())
            r = replace(r, platforms=d.platforms)
        out.append(r)
    return out


async def _lister(all_builders: bool, pages: int | None) -> bkhistory.Listing:
    return bkhistory.Listing(_records(), "", CAPS_NEW)


async def _old_lister(all_builders: bool, pages: int | None) -> bkhistory.Listing:
    caps = P.Capabilities(version="0.13.1+ds1")
    return bkhistory.Listing([], caps.note, caps)


async def _shower(record: P.Record) -> tuple[BuildProgress, P.Details | None]:
    name = "ok" if record.ref == OK_REF else "fail"
    details = P.parse_inspect((FIX / f"{name}.inspect.json").read_text())
    progress = parse_bytes((FIX / f"{name}.logs.rawjson").read_bytes())
    return progress, details


@pytest.fixture
def panel(qtbot, qloop):  # type: ignore[no-untyped-def]
    widget = BkHistoryPanel(lister=_lister, shower=_shower, filler=_filler)
    qtbot.addWidget(widget)
    widget.resize(900, 700)
    widget.show()
    yield widget
    widget.tasks.cancel_all()
    widget.close()


def test_merged_list_model(panel, qloop, qtbot, qtmodeltester) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(panel.loaded, timeout=10_000):
        panel.refresh()
    model = panel.model
    qtmodeltester.check(model)
    assert model.rowCount() == len(_records())
    assert model.HEADERS[:4] == ("Started", "Status", "Name", "Platforms")
    assert model.index(0, 2).data() == "fail"
    assert model.index(0, 1).data() == "failed"
    assert model.index(1, 3).data() == "amd64, arm64, arm/v7"
    assert model.index(1, 5).data() == "22 (3 cached)"
    assert model.index(1, 6).data() == "buildkit"
    assert not panel.note.isVisibleTo(panel)


def test_open_a_record_details_and_image_click(panel, qloop, qtbot) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(panel.loaded, timeout=10_000):
        panel.refresh()
    panel.select_refs([FAIL_REF])
    with qtbot.waitSignal(panel.progress_ready, timeout=10_000) as got:
        panel.open_selected()
    progress, title = got.args
    arm = progress.lanes[Platform.parse("linux/arm64")]
    assert arm.failed_step is not None
    assert "fail" in title
    html = panel.details.toHtml()
    assert "exit code: 3" in html
    assert "linux/arm64" in html
    panel.select_refs([OK_REF])
    with qtbot.waitSignal(panel.progress_ready, timeout=10_000):
        panel.open_selected()
    assert "127.0.0.1:5000/busybox@sha256:0770" in panel.details.toPlainText()
    from PySide6.QtCore import QUrl

    with qtbot.waitSignal(panel.image_requested) as clicked:
        panel.details.anchorClicked.emit(QUrl("image:127.0.0.1:5000/busybox@sha256:0770"))
    assert clicked.args == ["127.0.0.1:5000/busybox@sha256:0770"]


def test_builds_view_shows_an_opened_record_in_its_lanes(qtbot, qloop) -> None:  # type: ignore[no-untyped-def]
    view = BuildsView(autoload=False)
    qtbot.addWidget(view)
    view.resize(1200, 800)
    view.show()
    try:
        view.bk_history.lister = _lister
        view.bk_history.shower = _shower
        view.bk_history.filler = _filler
        view.side.setCurrentWidget(view.bk_history)
        run_until(qloop, lambda: view.bk_history.model.rowCount() > 0)
        view.bk_history.select_refs([OK_REF])
        view.bk_history.open_selected()
        run_until(qloop, lambda: len(view.lanes()) >= 3)
        names = {str(p) for p in view.lanes() if p is not None}
        assert {"linux/amd64", "linux/arm64", "linux/arm/v7"} <= names
        if os.environ.get("MABGUI_SCREENSHOT_DIR"):
            view.grab().save(os.path.join(os.environ["MABGUI_SCREENSHOT_DIR"], "all-builds.png"))
    finally:
        view.tasks.cancel_all()
        view.bk_history.tasks.cancel_all()
        view.close()


def test_delete_asks_first(panel, qloop, qtbot) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(panel.loaded, timeout=10_000):
        panel.refresh()
    panel.select_refs([OK_REF])
    asked: list[str] = []
    panel.confirm = lambda text: asked.append(text) or False
    assert panel.delete_selected() is None
    assert asked
    assert "Delete 1 build record" in asked[0]
    assert panel.model.rowCount() == len(_records())


def test_compare_view_and_dialog(panel, qloop, qtbot) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(panel.loaded, timeout=10_000):
        panel.refresh()
    panel.select_refs([OK_REF, FAIL_REF])
    assert panel.compare_button.isEnabled()
    task = panel.compare_selected()
    assert task is not None
    run_until(qloop, lambda: task.done())
    dialog = panel.compare_dialog
    assert dialog.view.comparison is not None
    assert len(dialog.view.platform_rows()) == 3
    dialog.close()


def test_compare_view_puts_the_slower_platform_first(qtbot) -> None:  # type: ignore[no-untyped-def]
    from mabgui.core.build import bkcompare

    a = parse_bytes((FIX / "ok.build.rawjson").read_bytes())
    b = parse_bytes((FIX / "ok.build.rawjson").read_bytes())
    step = b.lanes[Platform.parse("linux/arm/v7")].steps[-1]
    start, end = step.intervals[-1]
    assert end is not None
    step.intervals[-1] = (start, end + 3.0)
    view = CompareView()
    qtbot.addWidget(view)
    view.set_comparison(bkcompare.compare(a, b), "ok", "ok")
    assert view.platform_rows()[0] == "linux/arm/v7"
    assert "Slower: linux/arm/v7" in view.summary.text()


def test_old_buildx_note(qtbot, qloop) -> None:  # type: ignore[no-untyped-def]
    widget = BkHistoryPanel(lister=_old_lister, shower=_shower, filler=_filler)
    qtbot.addWidget(widget)
    widget.show()
    with qtbot.waitSignal(widget.loaded, timeout=10_000):
        widget.refresh()
    assert widget.note.isVisibleTo(widget)
    assert "v0.20.0" in widget.note.text()
    widget.close()


def test_open_bundle_emits_lanes(panel, qloop, qtbot) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(panel.progress_ready, timeout=10_000) as got:
        panel.open_bundle(str(FIX / "ok.dockerbuild"))
    progress = got.args[0]
    assert len(progress.lanes) == 3


def test_poll_adds_builds_run_elsewhere(qtbot, qloop, qtmodeltester) -> None:  # type: ignore[no-untyped-def]
    later = replace(_records()[0], ref="default/default/newer", name="newer",
                    started=(_records()[0].started or 0) + 60)  # fmt: skip
    listings = [_records(), _records(), [later, *_records()]]

    async def lister(all_builders: bool, pages: int | None) -> bkhistory.Listing:
        return bkhistory.Listing(listings.pop(0), "", CAPS_NEW)

    widget = BkHistoryPanel(lister=lister, shower=_shower, filler=_filler)
    qtbot.addWidget(widget)
    with qtbot.waitSignal(widget.loaded, timeout=10_000):
        widget.refresh()
    before = widget.model.rowCount()
    task = widget.poll()
    run_until(qloop, task.done)
    assert widget.model.rowCount() == before + 1
    assert widget.model.index(0, 2).data() == "newer"
    qtmodeltester.check(widget.model)


def test_trend_of_a_name(panel, qloop, qtbot) -> None:  # type: ignore[no-untyped-def]
    with qtbot.waitSignal(panel.loaded, timeout=10_000):
        panel.refresh()
    ctx = [r for r in _records() if r.name == "ctx"]
    assert len(ctx) == 2
    panel.select_refs([ctx[0].ref])
    task = panel.trend_selected()
    assert task is not None
    run_until(qloop, task.done)
    chart = panel.trend_dialog.chart
    assert set(chart.series) == {"linux/amd64", "linux/arm64", "linux/arm/v7"}
    assert all(len(v) == 2 for v in chart.series.values())
    if os.environ.get("MABGUI_SCREENSHOT_DIR"):
        panel.trend_dialog.grab().save(
            os.path.join(os.environ["MABGUI_SCREENSHOT_DIR"], "trend.png")
        )
    panel.trend_dialog.close()

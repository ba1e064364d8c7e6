"""The "All builds" panel with its real loaders: a plain `docker buildx build` shows up, opens
into lanes, and its base image link names the image it was built from."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path

import pytest

from mabgui.ui.views.builds.bkhistory_panel import BkHistoryPanel
from tests.conftest import Engine
from tests.gui.conftest import run_until


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MABGUI_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_panel_lists_and_opens_a_plain_build(engine: Engine, tmp_path: Path, qtbot, qloop) -> None:  # type: ignore[no-untyped-def]
    ctx = tmp_path / f"h12gui-{uuid.uuid4().hex[:8]}"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM {engine.base_image}\nRUN echo gui\n")
    subprocess.run(
        [engine.docker, "buildx", "build", "--platform", "linux/amd64,linux/arm64", str(ctx)],
        check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    panel = BkHistoryPanel()
    qtbot.addWidget(panel)
    panel.show()
    try:
        panel.refresh()

        def listed_with_platforms() -> bool:  # the newest rows are filled first
            return any(r.name == ctx.name and r.platforms for r in panel.model.row_objects())

        # Not `loaded`: that waits for every older record's platforms, and this machine's
        # default builder keeps every build the suite ever ran.
        qtbot.waitUntil(listed_with_platforms, timeout=120_000)
        (rec,) = [r for r in panel.model.row_objects() if r.name == ctx.name]
        assert rec.source == "buildkit"
        assert rec.platforms == ("linux/amd64", "linux/arm64")
        panel.select_refs([rec.ref])
        with qtbot.waitSignal(panel.progress_ready, timeout=60_000) as got:
            panel.open_selected()
        progress = got.args[0]
        assert {str(p) for p in progress.lanes} == {"linux/amd64", "linux/arm64"}
        assert engine.base_image.rsplit(":", 1)[0] in panel.details.toPlainText()
        bundle_path = tmp_path / "one.dockerbuild"
        exported = panel.export_to(str(bundle_path))
        run_until(qloop, exported.done, timeout=60)
        with qtbot.waitSignal(panel.progress_ready, timeout=60_000) as reopened:
            panel.open_bundle(str(bundle_path))
        assert {str(p) for p in reopened.args[0].lanes} == {"linux/amd64", "linux/arm64"}
        panel.confirm = lambda _text: True
        panel.select_refs([rec.ref])  # a poll (every 15 s) may have refreshed the list meanwhile
        task = panel.delete_selected()
        assert task is not None
        # gone from the list as soon as the newest page is read again (the older records'
        # platforms are filled in after that, which this test need not wait for)
        qtbot.waitUntil(
            lambda: rec.ref not in [r.ref for r in panel.model.row_objects()], timeout=60_000
        )
        assert not task.cancelled()
    finally:
        panel.tasks.cancel_all()
        panel.close()

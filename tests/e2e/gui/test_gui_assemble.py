"""The Assemble dialog against the registry on 127.0.0.1:5000: preview, push with progress, the
Manifests view opening the result; a source of the wrong platform refused with nothing pushed."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mabgui.ui.views.manifests.view import ManifestsView
from tests.conftest import Engine
from tests.e2e.registry_servers import Pusher, small_image
from tests.gui.conftest import run_until

pytestmark = pytest.mark.engine
SHOTS = Path(os.environ.get("MABGUI_SCREENSHOTS", "/tmp"))


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MABGUI_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def view(qtbot, qloop) -> Iterator[ManifestsView]:  # type: ignore[no-untyped-def]
    widget = ManifestsView()
    qtbot.addWidget(widget)
    widget.resize(1200, 760)
    widget.show()
    yield widget
    if widget.assemble_dialog is not None:
        widget.assemble_dialog.tasks.cancel_all()
        widget.assemble_dialog.close()
    widget.tasks.cancel_all()
    widget.close()


def test_assemble_previews_pushes_and_opens(view: ManifestsView, qloop, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    repo = f"mabgui-ui-assemble-{uuid.uuid4().hex[:10]}"
    pusher = Pusher(f"http://{engine.registry}", repo)
    amd, arm = small_image(pusher, "amd64"), small_image(pusher, "arm64")
    pusher.tag(amd, "amd")
    pusher.tag(arm, "arm")
    dialog = view.open_assemble()
    dialog.target.setText(f"{engine.registry}/{repo}:multi")
    dialog.add_slot("linux/s390x", f"{engine.registry}/{repo}:arm")  # the wrong image
    dialog.preview()
    run_until(qloop, lambda: not dialog.busy and bool(dialog.last_error))
    assert "not linux/s390x" in dialog.last_error
    assert not dialog.push_button.isEnabled()
    dialog.slots.removeRow(1)
    dialog.slots.item(0, 1).setText(f"{engine.registry}/{repo}:amd")
    dialog.add_slot("linux/arm64", f"{engine.registry}/{repo}:arm")
    dialog.preview()
    run_until(qloop, lambda: not dialog.busy and dialog.plan is not None)
    assert dialog.last_error == ""
    plan = dialog.plan
    assert plan is not None
    assert plan.platforms == ["linux/amd64", "linux/arm64"]
    assert "Docker manifest list" not in dialog.why.text()  # small_image is OCI
    head = httpx.head(f"http://{engine.registry}/v2/{repo}/manifests/multi")
    assert head.status_code == 404  # nothing written by the preview
    dialog.resize(900, 700)
    dialog.grab().save(str(SHOTS / "assemble-preview.png"))
    dialog.push()
    run_until(qloop, lambda: not dialog.busy and bool(dialog.result_digest), timeout=120)
    assert dialog.result_digest == plan.digest
    assert dialog.progress.count() >= 2
    run_until(qloop, lambda: view.tree is not None and not view.busy, timeout=60)
    assert view.tree is not None
    assert view.tree.digest == plan.digest
    assert {str(m.platform) for m in view.tree.platform_manifests()} == {
        "linux/amd64", "linux/arm64",
    }  # fmt: skip
    dialog.grab().save(str(SHOTS / "assemble-pushed.png"))
    view.grab().save(str(SHOTS / "assemble-view.png"))


def test_bases_matrix_resolves_through_the_registry(qtbot, qloop, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    from mabgui.core.platform import Platform
    from mabgui.ui.views.manifests.bases_matrix import BasesMatrix
    from tests.gui.conftest import run

    repo = f"mabgui-ui-bases-{uuid.uuid4().hex[:10]}"
    pusher = Pusher(f"http://{engine.registry}", repo)
    images = [small_image(pusher, "amd64"), small_image(pusher, "arm64")]
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": images}  # fmt: skip
    pusher.manifest(index, "two")
    matrix = BasesMatrix()
    qtbot.addWidget(matrix)
    matrix.resize(900, 240)
    matrix.show()
    dockerfile = f"ARG B={engine.registry}/{repo}:two\nFROM $B AS app\nFROM {engine.base_image}\n"
    targets = [Platform.parse(p) for p in ("linux/amd64", "linux/arm64", "linux/s390x")]
    result = run(qloop, matrix.check(dockerfile, targets))
    assert not result.ok
    assert matrix.cell(0, "linux/s390x") == "✗"
    assert matrix.cell(0, "linux/arm64") == "✓"
    assert matrix.cell(1, "linux/s390x") == "✓"
    assert matrix.warnings == [f"{engine.registry}/{repo}:two (app) has no linux/s390x"]
    matrix.grab().save(str(SHOTS / "bases-matrix.png"))
    matrix.close()

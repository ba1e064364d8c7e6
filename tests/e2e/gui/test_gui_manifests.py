"""The Manifests view against the real registry on 127.0.0.1:5000: busybox's platforms and the
copy buttons, errors and a failing proxy, latest-wins look-ups, attestations, referrers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtGui import QGuiApplication

from mabgui.ui.models.manifests import DigestRole, KindRole
from mabgui.ui.views.manifests.view import ManifestsView
from tests.conftest import Engine
from tests.e2e.registry_servers import Proxy, push_attested_image
from tests.gui.conftest import run_until

pytestmark = pytest.mark.engine


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The digest cache goes to a temporary folder, never the user's."""
    monkeypatch.setenv("MABGUI_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def view(qtbot, qloop) -> Iterator[ManifestsView]:  # type: ignore[no-untyped-def]
    widget = ManifestsView()
    qtbot.addWidget(widget)
    widget.resize(1200, 760)
    widget.show()
    yield widget
    widget.tasks.cancel_all()
    widget.close()


def _settled(view: ManifestsView) -> bool:
    return not view.busy


def test_view_shows_busybox_and_copies(view: ManifestsView, qloop, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    view.open_reference(engine.base_image)
    run_until(qloop, lambda: view.tree is not None and _settled(view), timeout=60)
    assert view.last_error == ""
    root = view.model.index(0, 0)
    assert view.model.rowCount(root) == 6
    assert len(view.chart.values) == 6
    run_until(qloop, lambda: view.tags.count() > 0)
    assert "latest" in [view.tags.item(i).text() for i in range(view.tags.count())]
    # Select a platform manifest: summary, raw JSON and the copy buttons.
    arm = next(
        view.model.index(r, 0, root)
        for r in range(6)
        if view.model.index(r, 0, root).data() == "linux/arm64"
    )
    view.view.setCurrentIndex(arm)
    digest = arm.data(DigestRole)
    assert view.details.digest == digest
    assert json.loads(view.details.raw.toPlainText())["schemaVersion"] == 2
    assert "linux/arm64" in view.details.summary.toPlainText()
    view.details.copy_digest.click()
    assert QGuiApplication.clipboard().text() == digest
    view.details.copy_pull.click()
    assert QGuiApplication.clipboard().text() == f"docker pull {engine.registry}/busybox@{digest}"
    view.details.copy_from.click()
    assert QGuiApplication.clipboard().text() == f"FROM {engine.registry}/busybox@{digest}"
    config = view.model.index(0, 0, arm)
    view.view.setCurrentIndex(config)
    assert "Created" in view.details.summary.toPlainText()
    assert not view.details.copy_pull.isEnabled()  # a config blob is not pullable
    view.view.setCurrentIndex(arm)
    view.grab().save("/tmp/manifests.png")
    assert view.history()[0] == engine.base_image


def test_errors_are_shown_and_the_view_stays_usable(
    view: ManifestsView, qloop, engine: Engine
) -> None:  # type: ignore[no-untyped-def]
    view.open_reference("Not A Reference")
    assert "spaces" in view.last_error
    assert not view.busy

    view.open_reference(f"{engine.registry}/mabgui-manifest-test-absent:nope")
    run_until(qloop, lambda: bool(view.last_error) and _settled(view))
    assert "not found" in view.last_error
    assert view.model.rowCount() == 0

    proxy = Proxy(engine.registry, faults={"/manifests/": 500})
    try:
        view.open_reference(f"{proxy.host}/busybox:latest")
        run_until(qloop, lambda: "500" in view.last_error and _settled(view))
        assert "✘" in view.status.text()
        view.grab().save("/tmp/manifests-error.png")
        proxy.faults = {"/manifests/": 401}
        view.open_reference(f"{proxy.host}/busybox:latest")
        run_until(qloop, lambda: "user name and password" in view.last_error and _settled(view))
        assert "docker login" in view.status.text()
    finally:
        proxy.stop()

    view.open_reference(engine.base_image)  # still works after the failures
    run_until(qloop, lambda: view.tree is not None and _settled(view))
    assert view.last_error == ""


def test_next_lookup_and_cancel_stop_the_one_in_flight(
    view: ManifestsView, qloop, engine: Engine
) -> None:  # type: ignore[no-untyped-def]
    slow = Proxy(engine.registry, delay=0.4)
    try:
        view.open_reference(f"{slow.host}/busybox:latest")
        assert view.busy
        view.cancel()
        assert not view.busy
        assert "cancelled" in view.status.text()
        assert view.tree is None

        view.open_reference(f"{slow.host}/busybox:latest")
        view.open_reference(engine.base_image)  # the slow one is cancelled: latest wins
        run_until(qloop, lambda: view.tree is not None and _settled(view))
        assert view.tree is not None
        assert view.tree.reference.registry == engine.registry
    finally:
        slow.stop()


def test_attestation_statement_is_fetched_on_selection(
    view: ManifestsView, qloop, engine: Engine
) -> None:  # type: ignore[no-untyped-def]
    ref, cleanup = push_attested_image(engine.docker, engine.base_image, engine.registry)
    try:
        view.open_reference(ref)
        run_until(qloop, lambda: view.tree is not None and _settled(view))
        root = view.model.index(0, 0)
        platform = view.model.index(0, 0, root)
        rows = view.model.rowCount(platform)
        attestation = view.model.index(rows - 1, 0, platform)
        assert attestation.data(KindRole) == "attestation"
        statement = view.model.index(0, 0, attestation)
        view.view.expandAll()
        view.view.setCurrentIndex(statement)
        run_until(qloop, lambda: '"predicateType"' in view.details.raw.toPlainText())
        doc = json.loads(view.details.raw.toPlainText())
        assert doc["predicateType"] == "https://slsa.dev/provenance/v0.2"
        assert doc["subject"]
        view.grab().save("/tmp/manifests-attestation.png")
    finally:
        cleanup()


def test_referrer_opens_on_double_click(view: ManifestsView, qloop, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    import uuid

    from tests.e2e.registry_servers import Pusher, small_image

    pusher = Pusher(f"http://{engine.registry}", f"mabgui-manifest-test-{uuid.uuid4().hex[:12]}")
    try:
        image = small_image(pusher, "riscv64")
        pusher.tag(image, "img")
        empty = pusher.blob(b"{}")
        artifact = pusher.manifest(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "artifactType": "application/vnd.example.signature",
                "config": {"mediaType": "application/vnd.oci.empty.v1+json", **empty},
                "layers": [{"mediaType": "application/vnd.oci.empty.v1+json", **empty}],
                "subject": {k: image[k] for k in ("mediaType", "digest", "size")},
            }
        )
        pusher.manifest(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": [artifact | {"artifactType": "application/vnd.example.signature"}],
            },
            image["digest"].replace(":", "-"),
        )
        name = pusher.base.split("/v2/")[1]
        view.open_reference(f"{engine.registry}/{name}:img")
        run_until(qloop, lambda: view.tree is not None and _settled(view))
        root = view.model.index(0, 0)
        kinds = [
            view.model.index(r, 0, root).data(KindRole) for r in range(view.model.rowCount(root))
        ]
        assert kinds[-1] == "referrer"
        referrer = view.model.index(len(kinds) - 1, 0, root)
        assert "signature" in referrer.data()
        view.view.doubleClicked.emit(referrer)
        run_until(qloop, lambda: view.tree is not None and view.tree.digest == artifact["digest"])
        run_until(qloop, lambda: _settled(view))
        assert view.tree.root.subject == image["digest"]  # type: ignore[union-attr]
    finally:
        pusher.delete_all()

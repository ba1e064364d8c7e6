"""Manifests tree model over recorded content (the view on the real registry:
tests/e2e/gui/test_gui_manifests.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mabgui.core.registry.manifest import ManifestTree, OfflineSource, fetch_tree
from mabgui.core.registry.reference import parse_reference
from mabgui.ui.models.manifests import (
    COL_DIGEST,
    COL_NAME,
    COL_SIZE,
    DigestRole,
    KindRole,
    ManifestTreeModel,
    ObjectRole,
)
from tests.conftest import FIXTURES

RECORDED = FIXTURES / "manifests"


def recorded_tree(name: str) -> ManifestTree:
    folder = RECORDED / name
    docs = {
        p.name.replace("_", ":", 1): p.read_bytes()
        for p in folder.iterdir()
        if p.name.startswith("sha256_")
    }
    source = OfflineSource(docs, (folder / "root.txt").read_text().strip())
    return asyncio.run(fetch_tree(source, parse_reference("127.0.0.1:5000/app:x")))


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The digest cache goes to a temporary folder, never the user's."""
    monkeypatch.setenv("MABGUI_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_tree_model_over_recorded_attested_index(qtmodeltester) -> None:  # type: ignore[no-untyped-def]
    model = ManifestTreeModel()
    tree = recorded_tree("buildx-attested")
    model.set_tree(tree)
    qtmodeltester.check(model)
    assert model.rowCount() == 1
    root = model.index(0, 0)
    assert root.data(KindRole) == "index"
    assert root.data(DigestRole) == tree.digest
    assert model.rowCount(root) == 6
    platforms = {model.index(r, COL_NAME, root).data() for r in range(6)}
    assert platforms == {
        "linux/amd64", "linux/arm64", "linux/arm/v7", "linux/ppc64le", "linux/s390x",
        "linux/riscv64",
    }  # fmt: skip
    amd64 = next(
        model.index(r, 0, root) for r in range(6) if model.index(r, 0, root).data() == "linux/amd64"
    )
    kinds = [model.index(r, 0, amd64).data(KindRole) for r in range(model.rowCount(amd64))]
    assert kinds == ["config", "layer", "layer", "layer", "attestation"]
    attestation = model.index(4, 0, amd64)
    assert "Provenance" in attestation.data()
    assert attestation.data(ObjectRole).subject == amd64.data(DigestRole)
    assert model.index(0, COL_DIGEST, amd64).data().startswith("sha256:")
    assert len(model.index(0, COL_DIGEST, amd64).data()) == len("sha256:") + 12
    assert model.index(0, COL_SIZE, amd64).data().endswith("B")
    model.set_tree(None)
    qtmodeltester.check(model)
    assert model.rowCount() == 0


def test_tree_model_over_recorded_manifest_list(qtmodeltester) -> None:  # type: ignore[no-untyped-def]
    model = ManifestTreeModel()
    model.set_tree(recorded_tree("busybox-list"))
    qtmodeltester.check(model)
    root = model.index(0, 0)
    first = model.index(0, 0, root)
    layers = [model.index(r, 0, first).data() for r in range(model.rowCount(first))]
    assert layers[0] == "config"
    assert any("shared" in name for name in layers)  # the layer all six platforms share


def test_json_highlighter_leaves_numbers_inside_strings_alone(qapp) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtGui import QTextDocument

    from mabgui.ui.views.manifests.details import JsonHighlighter

    doc = QTextDocument()
    highlighter = JsonHighlighter(doc)
    doc.setPlainText('  "name": "pkg:docker/127.0.0.1%3A5000/x", "n": 12, "b": true')
    highlighter.rehighlight()
    spans = {
        (r.start, r.length): r.format.foreground().color().name()
        for r in doc.firstBlock().layout().formats()
    }
    assert highlighter.document() is doc
    text = doc.firstBlock().text()
    key, value = text.index('"name"'), text.index('"pkg')
    assert spans[(key, len('"name"'))] == "#2c5282"
    assert spans[(value, len('"pkg:docker/127.0.0.1%3A5000/x"'))] == "#276749"
    assert spans[(text.index(": 12") + 2, 2)] == "#b7791f"
    assert spans[(text.index("true"), 4)] == "#9b2c2c"
    assert len(spans) == 6  # three keys, one string, one number, one literal: nothing inside


def test_size_chart_units_labels_scroll_and_reset(qtbot) -> None:  # type: ignore[no-untyped-def]
    from mabgui.ui.views.manifests.chart import SizeChart, format_size, pick_unit

    assert pick_unit(0) == ("B", 1.0)
    assert pick_unit(900)[0] == "B"
    assert pick_unit(2_500)[0] == "KB"
    assert pick_unit(3_000_000)[0] == "MB"
    assert pick_unit(4e9)[0] == "GB"
    assert format_size(1500, pick_unit(1500)) == "1.5 KB"
    chart = SizeChart()
    qtbot.addWidget(chart)
    chart.resize(500, 200)
    chart.show()
    tree = recorded_tree("busybox-list")
    chart.set_tree(tree)
    assert len(chart.values) == len([m for m in tree.platform_manifests() if not m.error])
    assert chart.unit[0] in ("KB", "MB")  # busybox: a few MB, never "MB (x1e-06)"
    for row in range(len(chart.values)):  # every bar has its label
        assert chart.bar_text(row).endswith("own)")
    # six platforms need more height than 200 px: the bars scroll, their labels stay apart
    assert chart.bars.sizeHint().height() > 150
    chart.set_tree(None)  # a failed look-up: nothing of the previous image stays
    assert chart.values == []
    assert chart.unit[0] == "B"
    chart.grab()  # paints empty without error


def test_after_inspect_the_tree_keeps_its_width(qtbot) -> None:  # type: ignore[no-untyped-def]
    from mabgui.ui.views.manifests.view import ManifestsView

    view = ManifestsView()
    qtbot.addWidget(view)
    view.resize(860, 620)  # the area at a 1024-px window
    view.show()
    tree = recorded_tree("busybox-list")
    view.show_tree(tree, 0.1)
    long_name = "index: " + "registry.example.com/" + "very-long-repository-name/" * 6 + "x:1"
    view.details.show_node(None, long_name, "sha256:" + "ab" * 32, b"", "index")
    qtbot.wait(10)
    sizes = view.main_splitter.sizes()
    assert sizes[0] >= 0.5 * sum(sizes)
    assert view.details.title.is_elided()
    assert long_name in view.details.title.toolTip()
    header = view.view.header()
    shown = sum(header.sectionSize(c) for c in range(header.count()))
    assert shown <= view.view.viewport().width() + 2  # every column on screen

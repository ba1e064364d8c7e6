"""The Assemble dialog without a registry: inputs, validation, the preview of a plan, Push
enabled only for the previewed inputs (with the registry: tests/e2e/gui/test_gui_assemble.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox

from mabgui.core.registry import OCI_INDEX, OCI_MANIFEST
from mabgui.core.registry.assemble import Entry, Plan, render
from mabgui.core.registry.reference import parse_reference
from mabgui.ui.views.manifests.assemble_dialog import ANY, AssembleDialog
from mabgui.ui.views.manifests.view import ManifestsView

TARGET = parse_reference("127.0.0.1:5000/team/app:1")
D1, D2, D3 = ("sha256:" + c * 64 for c in "123")


@pytest.fixture
def dialog(qtbot, qloop) -> Iterator[AssembleDialog]:  # type: ignore[no-untyped-def]
    widget = AssembleDialog()
    qtbot.addWidget(widget)
    yield widget
    widget.tasks.cancel_all()
    widget.close()


def plan() -> Plan:
    amd = Entry({"mediaType": OCI_MANIFEST, "digest": D1, "size": 9,
                 "platform": {"os": "linux", "architecture": "amd64"}},
                TARGET.with_digest(D1), "app:amd")  # fmt: skip
    attest = Entry({"mediaType": OCI_MANIFEST, "digest": D2, "size": 9,
                    "platform": {"os": "unknown", "architecture": "unknown"},
                    "annotations": {"vnd.docker.reference.digest": D1,
                                    "vnd.docker.reference.type": "attestation-manifest"}},
                   TARGET.with_digest(D2), "app:amd")  # fmt: skip
    entries = (amd, attest)
    why = "an OCI index: attestation manifests need one"
    data = render(entries, OCI_INDEX, {})
    return Plan("create", TARGET, entries, OCI_INDEX, why, data, added=(D1, D2))


def test_inputs_are_checked_before_anything_is_asked(dialog: AssembleDialog) -> None:
    dialog.preview()
    assert "empty image reference" in dialog.last_error
    dialog.target.setText(str(TARGET))
    dialog.preview()
    assert "no slots" in dialog.last_error
    row = dialog.add_slot("linux/arm64", "")
    dialog.preview()
    assert "linux/arm64 slot has no source" in dialog.last_error
    dialog.slots.item(row, 1).setText(":arm")
    combo = dialog.slots.cellWidget(row, 0)
    assert isinstance(combo, QComboBox)
    combo.setEditText("linux/notanarch")
    dialog.preview()
    assert "unknown architecture" in dialog.last_error
    assert not dialog.busy
    assert not dialog.push_button.isEnabled()


def test_slot_values_and_remove_mode(dialog: AssembleDialog) -> None:
    dialog.add_slot("linux/arm64", "host:5000/app:arm")
    dialog.add_slot("", "host:5000/app:amd")
    assert dialog.slot_values() == [("linux/arm64", "host:5000/app:arm"), ("", "host:5000/app:amd")]
    first = dialog.slots.cellWidget(0, 0)
    assert isinstance(first, QComboBox)
    assert first.currentText() == ANY  # the blank row added at start: left out of the values
    dialog.set_operation("remove")
    assert dialog.slots.isColumnHidden(1)
    assert not dialog.annotations.isEnabled()


def test_preview_shows_the_exact_index_and_push_needs_a_fresh_one(dialog: AssembleDialog) -> None:
    dialog.show_plan(plan())
    assert dialog.push_button.isEnabled()
    root = dialog.preview_tree.topLevelItem(0)
    assert root is not None
    assert root.data(1, Qt.ItemDataRole.UserRole) == plan().digest
    assert root.text(1) == plan().digest[:19]
    assert [root.child(i).text(0) for i in range(root.childCount())] == [
        "linux/amd64", "attestation → sha256:111111111111",
    ]  # fmt: skip
    assert dialog.raw.toPlainText() == plan().data.decode()
    assert "attestation" in dialog.why.text()
    dialog.annotations.setText("a=b")  # an edit: the preview no longer holds
    assert not dialog.push_button.isEnabled()
    assert dialog.plan is None


def test_manifests_view_opens_the_dialog(qtbot, qloop) -> None:  # type: ignore[no-untyped-def]
    view = ManifestsView()
    qtbot.addWidget(view)
    dialog = view.open_assemble()
    try:
        assert dialog.isVisible()
        assert view.assemble_dialog is dialog
        assert dialog.target.text() == ""
    finally:
        dialog.close()
        view.close()

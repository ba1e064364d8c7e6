"""The Assemble dialog: make an index from per-platform images, or add/remove a platform.

Platform slots (a platform and the image for it), annotations, then **Preview**: the exact
index (its digest, media type and why, the raw JSON) and the resulting tree, computed by
:mod:`mabgui.core.registry.assemble` without writing anything. **Push** is enabled only for the
previewed inputs (any edit asks for a new preview); its progress is listed, and once pushed the
dialog emits :attr:`pushed` with the reference (the Manifests view then opens it).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mabgui.core.errors import MabguiError
from mabgui.core.platform import Platform, PlatformError
from mabgui.core.registry import OCI_INDEX, RegistryClient, assemble
from mabgui.core.registry.model import short_digest
from mabgui.core.registry.reference import Reference, parse_reference
from mabgui.ui.tasks import TaskFailure, TaskManager

OPERATIONS = ("create", "append", "remove")
COMMON_PLATFORMS = (
    "", "linux/amd64", "linux/arm64", "linux/arm/v7", "linux/arm/v6", "linux/ppc64le",
    "linux/s390x", "linux/riscv64", "linux/386",
)  # fmt: skip
ANY = "(any: all in the source)"
_ERROR_STYLE = "color: #c53030"
_INFO_STYLE = "color: #4a5568"


class AssembleDialog(QDialog):
    """Assemble, append to or remove from an index in a registry (see the module docstring)."""

    pushed = Signal(str)  # the pushed reference (tag), for the Manifests view to open

    def __init__(self, parent: QWidget | None = None, *, insecure: bool = False) -> None:
        super().__init__(parent)
        self.setWindowTitle("Assemble an index")
        self.tasks = TaskManager(self, on_failure=self._failed)
        self.plan: assemble.Plan | None = None
        self.result_digest = ""
        self.last_error = ""
        self._busy = False

        self.operation = QComboBox()
        self.operation.addItems(["Create an index", "Append platforms", "Remove platforms"])
        self.operation.currentIndexChanged.connect(self._operation_changed)
        self.target = QLineEdit()
        self.target.setPlaceholderText("host:5000/app:1.0 (the tag the index gets)")
        self.insecure = QCheckBox("Insecure registry (no TLS checks / plain HTTP)")
        self.insecure.setChecked(insecure)
        self.annotations = QLineEdit()
        self.annotations.setPlaceholderText("key=value; key=value (makes an OCI index)")

        self.slots = QTableWidget(0, 2)
        self.slots.setHorizontalHeaderLabels(["Platform", "Source image (tag or digest)"])
        header = self.slots.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.slots.verticalHeader().setVisible(False)
        self.slots.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.slots.itemChanged.connect(self._invalidate)
        self.add_slot_button = QPushButton("Add slot")
        self.add_slot_button.clicked.connect(lambda: self.add_slot())
        self.remove_slot_button = QPushButton("Remove slot")
        self.remove_slot_button.clicked.connect(self._remove_selected_slot)
        slot_buttons = QHBoxLayout()
        slot_buttons.addWidget(self.add_slot_button)
        slot_buttons.addWidget(self.remove_slot_button)
        slot_buttons.addStretch(1)

        form = QFormLayout()
        form.addRow("Operation:", self.operation)
        form.addRow("Target:", self.target)
        form.addRow("", self.insecure)
        form.addRow("Annotations:", self.annotations)

        self.why = QLabel("")
        self.why.setWordWrap(True)
        self.preview_tree = QTreeWidget()
        self.preview_tree.setHeaderLabels(["Entry", "Digest", "Source"])
        self.preview_tree.setRootIsDecorated(True)
        self.raw = QPlainTextEdit()
        self.raw.setReadOnly(True)
        self.progress = QListWidget()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.preview_tree, "Resulting tree")
        self.tabs.addTab(self.raw, "Index JSON")
        self.tabs.addTab(self.progress, "Push progress")

        self.status = QLabel("Add a slot per platform, then Preview.")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status.setStyleSheet(_INFO_STYLE)
        self.preview_button = QPushButton("Preview")
        self.preview_button.setDefault(True)
        self.preview_button.clicked.connect(self.preview)
        self.push_button = QPushButton("Push")
        self.push_button.setEnabled(False)
        self.push_button.clicked.connect(self.push)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status, 1)
        buttons.addWidget(self.preview_button)
        buttons.addWidget(self.push_button)
        buttons.addWidget(self.close_button)

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addLayout(form)
        top_layout.addWidget(QLabel("Platform slots:"))
        top_layout.addWidget(self.slots, 1)
        top_layout.addLayout(slot_buttons)
        bottom = QWidget()
        bottom_layout = QVBoxLayout(bottom)
        bottom_layout.setContentsMargins(0, 0, 0, 0)
        bottom_layout.addWidget(self.why)
        bottom_layout.addWidget(self.tabs, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(bottom)
        split.setSizes([300, 360])
        layout = QVBoxLayout(self)
        layout.addWidget(split, 1)
        layout.addLayout(buttons)
        for edit in (self.target, self.annotations):
            edit.textChanged.connect(self._invalidate)
        self.insecure.toggled.connect(self._invalidate)
        self.resize(900, 700)
        self.add_slot()

    # --- inputs ---------------------------------------------------------------------------------

    def add_slot(self, platform: str = "", source: str = "") -> int:
        """Add a row (platform, source); returns its index."""
        row = self.slots.rowCount()
        self.slots.insertRow(row)
        combo = QComboBox()
        combo.setEditable(True)
        combo.addItems([p or ANY for p in COMMON_PLATFORMS])
        combo.setEditText(platform or ANY)
        combo.currentTextChanged.connect(self._invalidate)
        self.slots.setCellWidget(row, 0, combo)
        self.slots.setItem(row, 1, QTableWidgetItem(source))
        self._invalidate()
        return row

    def _remove_selected_slot(self) -> None:
        rows = sorted({i.row() for i in self.slots.selectedIndexes()}, reverse=True)
        for row in rows or [self.slots.rowCount() - 1]:
            if row >= 0:
                self.slots.removeRow(row)
        self._invalidate()

    def slot_values(self) -> list[tuple[str, str]]:
        """(platform or "", source) per slot, blank rows left out."""
        values = []
        for row in range(self.slots.rowCount()):
            combo = self.slots.cellWidget(row, 0)
            platform = combo.currentText().strip() if isinstance(combo, QComboBox) else ""
            item = self.slots.item(row, 1)
            source = item.text().strip() if item is not None else ""
            platform = "" if platform == ANY else platform
            if platform or source:
                values.append((platform, source))
        return values

    def set_operation(self, name: str) -> None:
        self.operation.setCurrentIndex(OPERATIONS.index(name))

    def _operation_changed(self) -> None:
        removing = OPERATIONS[self.operation.currentIndex()] == "remove"
        self.slots.setColumnHidden(1, removing)
        self.annotations.setEnabled(not removing)
        self._invalidate()

    def _invalidate(self, *_: object) -> None:
        """Inputs changed: the preview no longer describes them."""
        if self._busy:
            return
        self.plan = None
        self.push_button.setEnabled(False)

    def _inputs(self) -> tuple[str, Reference, list[str], dict[str, str]]:
        """Validated inputs (raises :class:`MabguiError` with what is wrong)."""
        operation = OPERATIONS[self.operation.currentIndex()]
        target = parse_reference(self.target.text().strip() or "")
        annotations: dict[str, str] = {}
        for part in self.annotations.text().split(";"):
            if part.strip():
                key, eq, value = part.strip().partition("=")
                if not eq or not key.strip():
                    raise MabguiError(f"annotation {part.strip()!r}: expected key=value")
                annotations[key.strip()] = value.strip()
        items = []
        for platform, source in self.slot_values():
            if platform:
                try:
                    platform = str(Platform.parse(platform))
                except PlatformError as exc:
                    raise MabguiError(str(exc), "e.g. linux/arm64") from None
            if operation == "remove":
                if not platform:
                    raise MabguiError("a slot to remove names no platform")
                items.append(platform)
            elif not source:
                raise MabguiError(f"the {platform or 'any-platform'} slot has no source image")
            else:
                items.append(f"{platform}={source}" if platform else source)
        if not items:
            raise MabguiError("no slots", "add a slot per platform")
        return operation, target, items, annotations

    # --- preview and push -------------------------------------------------------------------

    def preview(self) -> None:
        try:
            operation, target, items, annotations = self._inputs()
        except MabguiError as exc:
            self._error(exc.message, exc.hint)
            return
        self._set_busy(True)
        self._info("Resolving the sources …")
        self.tasks.start("work", self._preview(operation, target, items, annotations))

    def _client(self, target: Reference) -> RegistryClient:
        return RegistryClient(
            insecure=[target.registry] if self.insecure.isChecked() else [], deadline=600.0
        )

    async def _preview(
        self, operation: str, target: Reference, items: list[str], annotations: dict[str, str]
    ) -> None:
        try:
            async with self._client(target) as client:
                if operation == "remove":
                    platforms = [Platform.parse(p) for p in items]
                    plan = await assemble.plan_remove(client, target, platforms)
                else:
                    sources = [assemble.parse_source(s, target) for s in items]
                    make = assemble.plan_create if operation == "create" else assemble.plan_append
                    plan = await make(client, target, sources, annotations)
        finally:
            self._set_busy(False)
        self.show_plan(plan)

    def show_plan(self, plan: assemble.Plan) -> None:
        """Show ``plan`` (tree, JSON, media type and why) and allow pushing it."""
        self.plan = plan
        self.last_error = ""
        kind = "OCI index" if plan.media_type == OCI_INDEX else "Docker manifest list"
        self.why.setText(f"Media type: {plan.why[0].upper()}{plan.why[1:]}.")
        self.preview_tree.clear()
        root = self._row([f"{plan.target}  ({kind}, {len(plan.data)} B)", plan.digest, ""])
        self.preview_tree.addTopLevelItem(root)
        for e in plan.entries:
            label = str(e.platform) if e.platform else f"attestation → {short_digest(e.attests)}"
            if e.digest in plan.added and plan.operation != "create":
                label = f"+ {label}"
            root.addChild(self._row([label, e.digest, e.origin or "(already in the index)"]))
        for digest in plan.removed:
            root.addChild(self._row(["− removed", digest, ""]))
        root.setExpanded(True)
        for col in range(3):
            self.preview_tree.resizeColumnToContents(col)
        self.raw.setPlainText(plan.data.decode())
        self.tabs.setCurrentWidget(self.preview_tree)
        self.push_button.setEnabled(True)
        platforms = ", ".join(plan.platforms) or "none"
        self._info(f"Preview: {plan.digest} with {platforms}. Nothing is written until Push.")

    @staticmethod
    def _row(texts: list[str]) -> QTreeWidgetItem:
        """A preview row: digests shortened in the column, whole in the tooltip."""
        item = QTreeWidgetItem([texts[0], short_digest(texts[1]), texts[2]])
        item.setToolTip(1, texts[1])
        item.setData(1, Qt.ItemDataRole.UserRole, texts[1])
        return item

    def push(self) -> None:
        if self.plan is None:
            return
        self._set_busy(True)
        self.progress.clear()
        self.tabs.setCurrentWidget(self.progress)
        self._info(f"Pushing {self.plan.target} …")
        self.tasks.start("work", self._push(self.plan))

    async def _push(self, plan: assemble.Plan) -> None:
        try:
            async with self._client(plan.target) as client:
                result = await assemble.push_plan(client, plan, progress=self.progress.addItem)
        finally:
            self._set_busy(False)
        self.result_digest = result.digest
        self.progress.addItem(f"done: {plan.target} = {result.digest}")
        self.push_button.setEnabled(False)
        self._info(f"Pushed {plan.target} = {result.digest}")
        self.pushed.emit(str(plan.target))

    # --- state --------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._busy

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        for w in (self.preview_button, self.slots, self.target, self.operation):
            w.setEnabled(not busy)
        if busy:
            self.push_button.setEnabled(False)

    def _failed(self, failure: TaskFailure) -> None:
        self._set_busy(False)
        self.plan = None
        self.push_button.setEnabled(False)
        self._error(failure.message, failure.hint)

    def _info(self, text: str) -> None:
        self.status.setStyleSheet(_INFO_STYLE)
        self.status.setText(text)

    def _error(self, message: str, hint: str = "") -> None:
        self.last_error = message
        self.status.setStyleSheet(_ERROR_STYLE)
        self.status.setText(f"✘ {message}" + (f"\n   {hint}" if hint else ""))

    def reject(self) -> None:
        self.tasks.cancel_all()
        super().reject()

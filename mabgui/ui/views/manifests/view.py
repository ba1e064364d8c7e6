"""The Manifests area: any image reference as a per-platform digest tree, from its registry.

A reference box (history + completion), the tree (index → platform manifests → config, layers,
attestations), a details pane (summary, raw JSON, copy digest / docker pull / FROM), a size chart
per platform and the repository's tags. A look-up in flight is cancelled by the next one (or by
Cancel); errors are shown in the view, which stays usable.
"""

from __future__ import annotations

import time

from PySide6.QtCore import QModelIndex, QSettings, Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from mabgui.core.registry import INDEX_TYPES, RegistryClient, RegistryError
from mabgui.core.registry.cache import DigestCache, default_cache_dir
from mabgui.core.registry.manifest import Layer, ManifestTree, fetch_tree, human_size
from mabgui.core.registry.reference import InvalidReference, Reference, parse_reference
from mabgui.ui import settings as saved
from mabgui.ui.models.manifests import (
    COL_DIGEST,
    COL_NAME,
    COL_SIZE,
    COL_TYPE,
    DigestRole,
    KindRole,
    ManifestTreeModel,
    ObjectRole,
    raw_of,
)
from mabgui.ui.tasks import TaskFailure, TaskManager
from mabgui.ui.views.manifests.assemble_dialog import AssembleDialog
from mabgui.ui.views.manifests.chart import SizeChart
from mabgui.ui.views.manifests.details import ManifestDetails

HISTORY_KEY = "manifests/history"
JSON_BLOBS = frozenset(
    {"application/vnd.in-toto+json", "application/spdx+json", "application/json"}
)
MAX_JSON_BLOB = 4 * 1024 * 1024
HISTORY_SIZE = 25
_ERROR_STYLE = "color: #c53030"
_INFO_STYLE = "color: #4a5568"


class ManifestsView(QWidget):
    """Browse an image reference from any registry as a per-platform digest tree."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tasks = TaskManager(self, on_failure=self._task_failed)
        self.tree: ManifestTree | None = None
        self.last_error = ""
        self._generation = 0
        self._busy = False

        self.ref_box = QComboBox()
        self.ref_box.setEditable(True)
        self.ref_box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.ref_box.setMinimumWidth(160)
        self.ref_box.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        line = self.ref_box.lineEdit()
        assert line is not None  # an editable combo box has one
        line.setPlaceholderText("busybox, ghcr.io/owner/app:1.0, host:5000/repo@sha256:…")
        line.returnPressed.connect(self.inspect)
        completer = QCompleter(self.ref_box.model(), self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.ref_box.setCompleter(completer)
        self.insecure = QCheckBox("Insecure")
        self.insecure.setToolTip(
            "Trust this registry without checking its TLS certificate, or over plain HTTP "
            "(as docker's insecure-registries). Loopback registries always may use plain HTTP."
        )
        self.inspect_button = QPushButton("Inspect")
        self.inspect_button.setDefault(True)
        self.inspect_button.clicked.connect(self.inspect)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setEnabled(False)
        self.assemble_button = QPushButton("Assemble…")
        self.assemble_button.setToolTip(
            "Make an index from per-platform images, or add/remove a platform (issue 13)"
        )
        self.assemble_button.clicked.connect(lambda: self.open_assemble())
        self.assemble_dialog: AssembleDialog | None = None
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Image:"))
        bar.addWidget(self.ref_box, 1)
        bar.addWidget(self.insecure)
        bar.addWidget(self.inspect_button)
        bar.addWidget(self.cancel_button)
        bar.addWidget(self.assemble_button)

        self.status = QLabel("Enter an image reference and press Inspect.")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status.setStyleSheet(_INFO_STYLE)

        self.model = ManifestTreeModel(self)
        self.view = QTreeView()
        self.view.setModel(self.model)
        self.view.setUniformRowHeights(True)
        self.view.setAlternatingRowColors(True)
        self.view.setSelectionBehavior(QTreeView.SelectionBehavior.SelectRows)
        header = self.view.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(COL_NAME, QHeaderView.ResizeMode.Stretch)
        for col in (COL_DIGEST, COL_TYPE, COL_SIZE):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.view.selectionModel().currentChanged.connect(self._current_changed)
        self.view.doubleClicked.connect(self._double_clicked)

        self.details = ManifestDetails()
        self.details.copied.connect(lambda text: self._info(f"Copied: {text}"))
        self.chart = SizeChart()
        self.tags = QListWidget()
        self.tags.setToolTip("Double-click a tag to inspect it")
        self.tags.itemActivated.connect(self._tag_activated)
        self.bottom = QTabWidget()
        self.bottom.addTab(self.chart, "Size per platform")
        self.bottom.addTab(self.tags, "Tags")

        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.details)
        right.addWidget(self.bottom)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 2)
        main = QSplitter(Qt.Orientation.Horizontal)
        main.addWidget(self.view)
        main.addWidget(right)
        main.setStretchFactor(0, 3)
        main.setStretchFactor(1, 2)
        main.setChildrenCollapsible(False)
        main.setSizes([680, 520])
        self.main_splitter = main

        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.status)
        layout.addWidget(main, 1)
        self._load_history()

    # --- public -----------------------------------------------------------------------------

    def open_reference(self, ref: str) -> None:
        """Inspect ``ref`` (the Builds view opens a finished build's result with it)."""
        self.ref_box.setEditText(ref)
        self.inspect()

    def open_assemble(self) -> AssembleDialog:
        """The Assemble dialog (non-modal), its target prefilled from the reference shown; a
        pushed index opens here."""
        dialog = AssembleDialog(self, insecure=self.insecure.isChecked())
        if self.tree is not None and self.tree.reference.tag:
            dialog.target.setText(str(self.tree.reference))
            if self.tree.root.media_type in INDEX_TYPES:
                dialog.set_operation("append")
        dialog.pushed.connect(self.open_reference)
        self.assemble_dialog = dialog
        dialog.show()
        return dialog

    def inspect(self) -> None:
        """Start a look-up of the reference in the box; one in flight is cancelled."""
        text = self.ref_box.currentText().strip()
        try:
            ref = parse_reference(text)
        except InvalidReference as exc:
            self._error(str(exc), "e.g. busybox, ghcr.io/owner/app:1.0 or host:5000/repo@sha256:…")
            return
        self._remember(text)
        self._generation += 1
        insecure = self._insecure_for(ref)
        self._set_busy(True)
        self._info(f"Fetching {ref} …")
        self.tasks.start("lookup", self._lookup(ref, insecure, self._generation))

    def _insecure_for(self, ref: Reference) -> list[str]:
        return [ref.registry] if self.insecure.isChecked() else []

    def cancel(self) -> None:
        if self.tasks.running("lookup"):
            self.tasks.cancel("lookup")
            self._generation += 1
            self._set_busy(False)
            self._info("Look-up cancelled.")

    @property
    def busy(self) -> bool:
        """A look-up is in flight (a cancelled one no longer counts)."""
        return self._busy

    # --- the look-up --------------------------------------------------------------------------

    async def _lookup(self, ref: Reference, insecure: list[str], generation: int) -> None:
        self.tags.clear()
        started = time.perf_counter()
        try:
            async with RegistryClient(
                insecure=insecure, cache=DigestCache(default_cache_dir())
            ) as c:
                tree = await fetch_tree(c, ref)
                self.show_tree(tree, time.perf_counter() - started)
                await self._load_tags(c, ref)
        except RegistryError as exc:
            if generation == self._generation:
                self._clear()
                self._error(str(exc), exc.hint)
        finally:
            if generation == self._generation:
                self._set_busy(False)

    async def _load_tags(self, client: RegistryClient, ref: Reference) -> None:
        try:
            tags = await client.tags(ref)
        except RegistryError as exc:
            self.tags.clear()
            item = QListWidgetItem(f"Tags unavailable: {exc}")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.tags.addItem(item)
            return
        self.tags.clear()
        for tag in sorted(tags):
            item = QListWidgetItem(tag)
            if tag == ref.tag:
                font = item.font()
                font.setBold(True)
                item.setFont(font)
            self.tags.addItem(item)
        self.bottom.setTabText(1, f"Tags ({len(tags)})")

    def show_tree(self, tree: ManifestTree, elapsed: float = 0.0) -> None:
        """Show a fetched tree (the look-up's last step; also a recorded tree)."""
        self.tree = tree
        self.last_error = ""
        self.details.reference = tree.reference
        self.model.set_tree(tree)
        self.view.expandToDepth(0)
        root = self.model.index(0, 0)
        self.view.setCurrentIndex(root)
        self.chart.set_tree(tree)
        self._balance()
        manifests = tree.platform_manifests()
        attestations = sum(len(m.attestations) for m in manifests)
        broken = [m for m in manifests if m.error]
        parts = [
            f"{tree.reference.familiar} → {tree.digest}",
            f"{len(manifests)} platform{'s' if len(manifests) != 1 else ''}",
        ]
        if attestations:
            parts.append(f"{attestations} attestations")
        parts.append(f"{human_size(tree.total_size)} unique")
        parts.append(f"{elapsed:.2f} s, {tree.requests} requests")
        if broken:
            parts.append(f"{len(broken)} manifests could not be read")
        self._info(" · ".join(parts))

    def _balance(self) -> None:
        """The tree keeps at least 55% of the width, so its Digest/Type/Size columns show."""
        sizes = self.main_splitter.sizes()
        total = sum(sizes)
        if total > 0 and sizes[0] < total * 0.55:
            self.main_splitter.setSizes([round(total * 0.6), total - round(total * 0.6)])

    def _clear(self) -> None:
        self.tree = None
        self.model.set_tree(None)
        self.chart.set_tree(None)
        self.details.reference = None
        self.details.show_node(None, "", "", b"", "")
        self.tags.clear()
        self.bottom.setTabText(1, "Tags")

    # --- reactions ----------------------------------------------------------------------------

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid():
            self.details.show_node(None, "", "", b"", "")
            return
        index = current.siblingAtColumn(COL_NAME)
        obj = index.data(ObjectRole)
        digest = str(index.data(DigestRole))
        self.details.show_node(
            obj, str(index.data()), digest, raw_of(obj), str(index.data(KindRole))
        )
        if isinstance(obj, Layer) and obj.media_type in JSON_BLOBS and obj.size <= MAX_JSON_BLOB:
            # An attestation's statement (provenance, SBOM) is small JSON: fetch it on demand.
            self.tasks.start("blob", self._load_blob(obj, digest))
        else:
            self.tasks.cancel("blob")

    async def _load_blob(self, layer: Layer, digest: str) -> None:
        if self.tree is None:
            return
        ref = self.tree.reference
        self.details.raw.setPlainText(f"Fetching {digest} …")
        try:
            async with RegistryClient(
                insecure=self._insecure_for(ref), cache=DigestCache(default_cache_dir())
            ) as client:
                blob = await client.get_blob(ref, digest, max_bytes=MAX_JSON_BLOB)
        except RegistryError as exc:
            if self.details.digest == digest:
                self.details.raw.setPlainText(f"Could not fetch the blob: {exc}")
            return
        if self.details.digest == digest:  # still the selected entry
            self.details.show_raw(blob.data)

    def _double_clicked(self, index: QModelIndex) -> None:
        """A referrer (an artifact naming this image as its subject) opens as its own tree."""
        index = index.siblingAtColumn(COL_NAME)
        if self.tree is not None and index.data(KindRole) == "referrer":
            self.open_reference(str(self.tree.reference.with_digest(str(index.data(DigestRole)))))

    def _tag_activated(self, item: QListWidgetItem) -> None:
        if self.tree is None or not item.flags() & Qt.ItemFlag.ItemIsEnabled:
            return
        self.open_reference(str(self.tree.reference.with_tag(item.text())))

    def _task_failed(self, failure: TaskFailure) -> None:
        self._set_busy(False)
        self._error(failure.message, failure.hint)

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.cancel_button.setEnabled(busy)
        self.inspect_button.setText("Inspecting…" if busy else "Inspect")

    def _info(self, text: str) -> None:
        self.status.setStyleSheet(_INFO_STYLE)
        self.status.setText(text)

    def _error(self, message: str, hint: str) -> None:
        self.last_error = message
        self.status.setStyleSheet(_ERROR_STYLE)
        self.status.setText(f"✘ {message}" + (f"\n   {hint}" if hint else ""))

    # --- history ------------------------------------------------------------------------------

    def _load_history(self) -> None:
        items = saved.read_str_list(QSettings(), HISTORY_KEY)
        self.ref_box.addItems(items[:HISTORY_SIZE])
        self.ref_box.setEditText("")

    def history(self) -> list[str]:
        return [self.ref_box.itemText(i) for i in range(self.ref_box.count())]

    def _remember(self, text: str) -> None:
        items = [text, *(i for i in self.history() if i != text)][:HISTORY_SIZE]
        self.ref_box.blockSignals(True)
        self.ref_box.clear()
        self.ref_box.addItems(items)
        self.ref_box.setEditText(text)
        self.ref_box.blockSignals(False)
        QSettings().setValue(HISTORY_KEY, items)

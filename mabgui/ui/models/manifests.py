"""The manifest tree as a Qt item model: index → platform manifests → config, layers, attestations.

Nodes are built once per look-up from a :class:`~mabgui.core.registry.manifest.ManifestTree`;
the model only renders them. ``ObjectRole`` gives the core object of a row (an ``ImageIndex``,
``ImageManifest``, ``ImageConfig``, ``Layer``, ``Attestation`` or ``Descriptor``), ``DigestRole``
its full digest and ``KindRole`` what it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor

from mabgui.core.registry.manifest import (
    Attestation,
    Descriptor,
    ImageConfig,
    ImageIndex,
    ImageManifest,
    Layer,
    ManifestTree,
    human_size,
    media_type_label,
    predicate_label,
    short_digest,
)
from mabgui.ui.models.table import ObjectRole
from mabgui.ui.resources import monospace_font

COL_NAME, COL_DIGEST, COL_TYPE, COL_SIZE = range(4)
HEADERS = ("Name / platform", "Digest", "Media type", "Size")
DigestRole = Qt.ItemDataRole.UserRole + 2
KindRole = Qt.ItemDataRole.UserRole + 3

AnyIndex = QModelIndex | QPersistentModelIndex

_KIND_COLORS = {
    "attestation": QColor("#6b46c1"),
    "referrer": QColor("#6b46c1"),
    "error": QColor("#c53030"),
    "config": QColor("#2b6cb0"),
}


@dataclass(eq=False)
class Node:
    kind: str  # index, manifest, config, layer, attestation, referrer, error
    name: str
    digest: str
    media_type: str
    size: int | None
    obj: Any
    parent: Node | None = None
    children: list[Node] = field(default_factory=list)
    tooltip: str = ""

    def add(self, child: Node) -> Node:
        child.parent = self
        self.children.append(child)
        return child

    @property
    def row(self) -> int:
        return self.parent.children.index(self) if self.parent is not None else 0


def _manifest_node(m: ImageManifest, shared: dict[str, list[str]]) -> Node:
    name = m.platform_label
    if m.subject:
        name += "  (artifact)" if m.artifact_type else "  (has subject)"
    node = Node(
        "error" if m.error else "manifest", name, m.digest, m.media_type, m.total_size, m,
        tooltip=m.error or f"{m.platform_label}: manifest + config + layers",
    )  # fmt: skip
    if m.config is not None:
        c = m.config
        label = "config" + (f" — {c.error}" if c.error else "")
        node.add(Node("error" if c.error else "config", label, c.digest, c.media_type, c.size, c))
    for i, layer in enumerate(m.layers):
        users = shared.get(layer.digest)
        label = f"layer {i + 1}"
        if layer.foreign:
            label += " (foreign)"
        tip = f"shared with {', '.join(users)}" if users else ""
        if users:
            label += "  ⇄ shared"
        node.add(
            Node("layer", label, layer.digest, layer.media_type, layer.size, layer, tooltip=tip)
        )
    for a in m.attestations:
        kinds = ", ".join(predicate_label(p) for p in a.predicate_types) or "attestation"
        att = node.add(
            Node("attestation", f"attestation: {kinds}", a.digest, a.media_type, a.size, a)
        )
        for layer in a.layers:
            label = (
                predicate_label(layer.annotations.get("in-toto.io/predicate-type", "")) or "layer"
            )
            att.add(Node("layer", label, layer.digest, layer.media_type, layer.size, layer))
    return node


def _index_node(index: ImageIndex, shared: dict[str, list[str]], name: str) -> Node:
    node = Node("index", name, index.digest, index.media_type, index.size, index)
    for child in index.children:
        if isinstance(child, ImageIndex):
            node.add(_index_node(child, shared, f"{child.platform_label} (nested index)"))
        else:
            node.add(_manifest_node(child, shared))
    for d in index.unattached:
        subject = d.annotations.get("vnd.docker.reference.digest", "")
        node.add(
            Node(
                "attestation", f"attestation for {short_digest(subject)} (not in index)",
                d.digest, d.media_type, d.size, d,
            )
        )  # fmt: skip
    return node


def build_nodes(tree: ManifestTree) -> Node:
    """The invisible root whose only child is the reference's root node."""
    top = Node("root", "", "", "", None, None)
    shared = tree.shared_layers()
    root = tree.root
    if isinstance(root, ImageIndex):
        node = top.add(_index_node(root, shared, tree.reference.familiar))
    else:
        node = top.add(_manifest_node(root, shared))
        node.name = f"{tree.reference.familiar}  [{root.platform_label}]"
    for d in tree.referrers:
        node.add(
            Node(
                "referrer", f"referrer: {d.artifact_type or 'artifact'}",
                d.digest, d.media_type, d.size, d,
            )
        )  # fmt: skip
    return top


class ManifestTreeModel(QAbstractItemModel):
    """Read-only tree of one look-up; :meth:`set_tree` replaces it (``None`` clears)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._root = Node("root", "", "", "", None, None)
        self.tree: ManifestTree | None = None
        self._mono = monospace_font()

    def set_tree(self, tree: ManifestTree | None) -> None:
        self.beginResetModel()
        self.tree = tree
        self._root = build_nodes(tree) if tree is not None else Node("root", "", "", "", None, None)
        self.endResetModel()

    def node(self, index: AnyIndex) -> Node:
        if index.isValid():
            node = index.internalPointer()
            assert isinstance(node, Node)
            return node
        return self._root

    # --- QAbstractItemModel ---------------------------------------------------------------

    def index(self, row: int, column: int, parent: AnyIndex = QModelIndex()) -> QModelIndex:  # noqa: B008
        if not self.hasIndex(row, column, parent):
            return QModelIndex()
        parent_node = self.node(parent)
        return self.createIndex(row, column, parent_node.children[row])

    def parent(self, index: AnyIndex = QModelIndex()) -> QModelIndex:  # type: ignore[override]  # noqa: B008
        if not index.isValid():
            return QModelIndex()
        node = self.node(index)
        parent = node.parent
        if parent is None or parent is self._root:
            return QModelIndex()
        return self.createIndex(parent.row, 0, parent)

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        if parent.isValid() and parent.column() != 0:
            return 0
        return len(self.node(parent).children)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008
        return len(HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        return None

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        node = self.node(index)
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == COL_NAME:
                return node.name
            if col == COL_DIGEST:
                return short_digest(node.digest)
            if col == COL_TYPE:
                return media_type_label(node.media_type)
            if col == COL_SIZE:
                return human_size(node.size) if node.size is not None else ""
        elif role == Qt.ItemDataRole.ToolTipRole:
            if col == COL_DIGEST:
                return node.digest
            if col == COL_TYPE:
                return node.media_type
            if col == COL_SIZE and node.size is not None:
                return f"{node.size:,} bytes"
            return node.tooltip or None
        elif role == Qt.ItemDataRole.FontRole and col == COL_DIGEST:
            return self._mono
        elif role == Qt.ItemDataRole.ForegroundRole and node.kind in _KIND_COLORS:
            return QBrush(_KIND_COLORS[node.kind])
        elif role == Qt.ItemDataRole.TextAlignmentRole and col == COL_SIZE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        elif role == ObjectRole:
            return node.obj
        elif role == DigestRole:
            return node.digest
        elif role == KindRole:
            return node.kind
        return None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable


def raw_of(obj: Any) -> bytes:
    """The verified bytes behind a node, when the tree has them."""
    if isinstance(obj, ImageIndex | ImageManifest | ImageConfig | Attestation):
        return obj.raw
    return b""


__all__ = [
    "COL_DIGEST",
    "COL_NAME",
    "COL_SIZE",
    "COL_TYPE",
    "Descriptor",
    "DigestRole",
    "KindRole",
    "Layer",
    "ManifestTreeModel",
    "Node",
    "ObjectRole",
    "build_nodes",
    "raw_of",
]

"""The details pane of the Manifests view: summary, raw JSON (pretty, highlighted), copy actions."""

from __future__ import annotations

import html
import json
import re
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QGuiApplication,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextDocument,
)
from PySide6.QtWidgets import (
    QHBoxLayout,
    QPlainTextEdit,
    QPushButton,
    QTabWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from mabgui.core.registry.manifest import (
    Attestation,
    Descriptor,
    ImageConfig,
    ImageIndex,
    ImageManifest,
    Layer,
    human_size,
    media_type_label,
    predicate_label,
)
from mabgui.core.registry.reference import Reference
from mabgui.ui.resources import monospace_font
from mabgui.ui.widgets.elided import ElidedLabel


def _fmt(color: str, bold: bool = False) -> QTextCharFormat:
    f = QTextCharFormat()
    f.setForeground(QColor(color))
    if bold:
        f.setFontWeight(QFont.Weight.Bold)
    return f


class JsonHighlighter(QSyntaxHighlighter):
    """Keys, strings, numbers and literals of pretty-printed JSON in distinct colours."""

    _STRING = re.compile(r'"(?:[^"\\]|\\.)*"(\s*:)?')
    _NUMBER = re.compile(r"-?\b\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\b")
    _LITERAL = re.compile(r"\b(?:true|false|null)\b")
    _KEY = _fmt("#2c5282", bold=True)
    _VALUE = _fmt("#276749")
    _NUM = _fmt("#b7791f")
    _LIT = _fmt("#9b2c2c")

    def __init__(self, document: QTextDocument) -> None:
        super().__init__(document)

    def highlightBlock(self, text: str) -> None:
        strings: list[tuple[int, int]] = []
        for m in self._STRING.finditer(text):
            end = m.end(0) - (len(m.group(1)) if m.group(1) else 0)
            self.setFormat(m.start(), end - m.start(), self._KEY if m.group(1) else self._VALUE)
            strings.append((m.start(), end))
        for pattern, fmt in ((self._NUMBER, self._NUM), (self._LITERAL, self._LIT)):
            for m in pattern.finditer(text):
                if not any(a <= m.start() < b for a, b in strings):  # not inside a string
                    self.setFormat(m.start(), m.end() - m.start(), fmt)


def pretty_json(data: bytes) -> str:
    try:
        return json.dumps(json.loads(data), indent=2)
    except ValueError:
        return data.decode("utf-8", errors="replace")


def summary_html(obj: Any) -> str:
    """A readable summary of a node's core object."""
    rows: list[tuple[str, str]] = []
    if isinstance(obj, ImageConfig):
        if obj.error:
            rows.append(("Error", obj.error))
        rows += [
            ("Platform", str(obj.platform) + (f" ({obj.os_version})" if obj.os_version else "")),
            ("Created", obj.created or "—"),
            ("Entrypoint", " ".join(obj.entrypoint) or "—"),
            ("Cmd", " ".join(obj.cmd) or "—"),
            ("Working dir", obj.working_dir or "—"),
            ("User", obj.user or "—"),
            ("Environment", f"{obj.env_count} variables"),
            ("History", f"{obj.history_count} entries"),
        ]
        rows += [(f"Label {k}", v) for k, v in list(obj.labels.items())[:12]]
    elif isinstance(obj, ImageManifest):
        if obj.error:
            rows.append(("Error", obj.error))
        rows += [
            ("Platform", obj.platform_label),
            ("Media type", obj.media_type),
            ("Layers", f"{len(obj.layers)} ({human_size(obj.layers_size)})"),
            ("Total", f"{human_size(obj.total_size)} (manifest + config + layers)"),
        ]
        if obj.subject:
            rows.append(("Subject", obj.subject))
        if obj.artifact_type:
            rows.append(("Artifact type", obj.artifact_type))
        for a in obj.attestations:
            kinds = ", ".join(predicate_label(p) for p in a.predicate_types) or "—"
            rows.append(("Attestation", f"{kinds} ({a.digest[:19]}…)"))
    elif isinstance(obj, ImageIndex):
        rows += [
            ("Media type", obj.media_type),
            ("Entries", str(len(obj.children))),
            ("Platforms", ", ".join(m.platform_label for m in obj.walk_manifests())),
        ]
        rows += [(f"Annotation {k}", v) for k, v in list(obj.annotations.items())[:12]]
    elif isinstance(obj, Attestation):
        rows += [
            ("Describes", obj.subject),
            ("Predicates", ", ".join(obj.predicate_types) or "—"),
            ("Layers", str(len(obj.layers))),
        ]
    elif isinstance(obj, Layer):
        rows += [
            ("Media type", obj.media_type),
            ("Compression", obj.compression),
            ("Size", f"{obj.size:,} bytes"),
        ]
        if obj.foreign:
            rows.append(("Foreign", "yes: " + (", ".join(obj.urls) or "no URLs")))
        rows += [(k, v) for k, v in obj.annotations.items()]
    elif isinstance(obj, Descriptor):
        rows += [
            ("Artifact type", obj.artifact_type or "—"),
            ("Media type", obj.media_type),
            ("Size", human_size(obj.size)),
        ]
        rows += [(k, v) for k, v in obj.annotations.items()]
    body = "".join(
        f"<tr><td style='color:#4a5568;padding-right:10px'>{html.escape(k)}</td>"
        f"<td>{html.escape(v)}</td></tr>"
        for k, v in rows
    )
    return f"<table cellspacing='2'>{body}</table>"


class ManifestDetails(QWidget):
    """What the selected node is, its raw JSON and the copy buttons.

    Signals:
        copied(str): text placed on the clipboard (the view shows it in its status line).
    """

    copied = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.reference: Reference | None = None
        self.digest = ""
        self.pullable = False
        # Both elide in the middle (full text in the tooltip): a long reference or a digest
        # (one unbreakable word) must not widen the pane and squeeze the tree.
        self.title = ElidedLabel("Select an entry of the tree", min_chars=12)
        self.title.setStyleSheet("font-weight: bold; font-size: 13px")
        self.digest_label = ElidedLabel(min_chars=12)
        self.digest_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.digest_label.setFont(QFont("monospace"))
        self.copy_digest = QPushButton("Copy digest")
        self.copy_pull = QPushButton("Copy docker pull")
        self.copy_from = QPushButton("Copy FROM")
        self.copy_digest.clicked.connect(lambda: self._copy(self.digest))
        self.copy_pull.clicked.connect(lambda: self._copy(self.pull_command()))
        self.copy_from.clicked.connect(lambda: self._copy(self.from_line()))
        buttons = QHBoxLayout()
        for b in (self.copy_digest, self.copy_pull, self.copy_from):
            buttons.addWidget(b)
        buttons.addStretch(1)
        self.summary = QTextBrowser()
        self.summary.setOpenLinks(False)
        self.summary.setFrameShape(QTextBrowser.Shape.NoFrame)
        self.raw = QPlainTextEdit()
        self.raw.setTabChangesFocus(True)
        self.raw.setReadOnly(True)
        self.raw.setFont(monospace_font())
        self.raw.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.highlighter = JsonHighlighter(self.raw.document())
        self.tabs = QTabWidget()
        self.tabs.addTab(self.summary, "Summary")
        self.tabs.addTab(self.raw, "Raw JSON")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.digest_label)
        layout.addLayout(buttons)
        layout.addWidget(self.tabs, 1)
        self.show_node(None, "", "", b"", "")

    def show_node(self, obj: Any, name: str, digest: str, raw: bytes, kind: str) -> None:
        self.digest = digest
        self.pullable = kind in ("index", "manifest") and bool(digest)
        self.title.setText(f"{kind}: {name}" if kind else "Select an entry of the tree")
        self.digest_label.setText(digest)
        self.copy_digest.setEnabled(bool(digest))
        self.copy_pull.setEnabled(self.pullable and self.reference is not None)
        self.copy_from.setEnabled(self.pullable and self.reference is not None)
        self.summary.setHtml(summary_html(obj) if obj is not None else "")
        if raw:
            self.raw.setPlainText(pretty_json(raw))
        elif obj is not None:
            self.raw.setPlainText(
                f"({media_type_label(getattr(obj, 'media_type', ''))}: blob not fetched)"
            )
        else:
            self.raw.setPlainText("")

    def show_raw(self, data: bytes) -> None:
        """Show fetched bytes (an attestation statement) as pretty JSON."""
        self.raw.setPlainText(pretty_json(data))
        self.tabs.setCurrentWidget(self.raw)

    def _pinned(self) -> str:
        assert self.reference is not None
        return self.reference.with_digest(self.digest).familiar

    def pull_command(self) -> str:
        return f"docker pull {self._pinned()}"

    def from_line(self) -> str:
        return f"FROM {self._pinned()}"

    def _copy(self, text: str) -> None:
        if not text:
            return
        clipboard = QGuiApplication.clipboard()
        clipboard.setText(text)
        self.copied.emit(text)

"""The New builder dialog's registry settings: what a docker-container builder can push to.

Shows, editable, what mabgui applies by default (the same plan as ``mabgui builder create``:
:func:`mabgui.core.buildx.registries.plan`): the daemon's insecure registries carried into a
generated buildkitd config, the host network when one of them is on loopback, a config file of
the user's own as the base. Without this a push to ``127.0.0.1:5000`` from the builder's own
container fails with "connection refused".
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QToolButton,
    QWidget,
)

from mabgui.core import engine
from mabgui.core.buildx import BuildxError, registries
from mabgui.ui.resources import monospace_font


class RegistryBox(QGroupBox):
    """Registries over HTTP, host network, buildkitd config (docker-container builders)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Registries this builder can push to", parent)
        self.insecure: list[str] = []  # the daemon's insecure registries, once loaded
        self._user_config = ""
        form = QFormLayout(self)
        self.carry = QCheckBox("Carry over the daemon's insecure registries (over plain HTTP)")
        self.carry.setChecked(True)
        self.carry.toggled.connect(lambda _on: self.regenerate())
        self.config_file = QLineEdit()
        self.config_file.setPlaceholderText("a buildkitd.toml of your own (optional)")
        self.config_file.editingFinished.connect(self.regenerate)
        browse = QToolButton()
        browse.setText("…")
        browse.setToolTip("Pick a buildkitd.toml")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.config_file, 1)
        row.addWidget(browse)
        self.host_network = QCheckBox(
            "Host network (BuildKit's 127.0.0.1 is this machine's: needed for a local registry)"
        )
        self.config = QPlainTextEdit()
        self.config.setFont(monospace_font())
        self.config.setTabChangesFocus(True)
        self.config.setPlaceholderText('e.g. [registry."127.0.0.1:5000"] http = true')
        self.config.setFixedHeight(84)
        self.summary = QLabel("Reading the daemon's insecure registries…")
        self.summary.setWordWrap(True)
        self.summary.setStyleSheet("color:#718096;")
        # The details fold away (the dialog fits a 700-px screen); the summary says what applies.
        self.edit = QToolButton()
        self.edit.setText("Change…")
        self.edit.setCheckable(True)
        self.edit.setToolTip("Show the settings: daemon registries, config file, host network")
        self.edit.toggled.connect(self._show_details)
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.edit, 0, Qt.AlignmentFlag.AlignTop)
        form.addRow(top)
        self.details = QWidget()
        details = QFormLayout(self.details)
        details.setContentsMargins(0, 0, 0, 0)
        details.addRow(self.carry)
        details.addRow("Config file", row)
        details.addRow(self.host_network)
        details.addRow("buildkitd.toml", self.config)
        form.addRow(self.details)
        self.details.hide()

    def _show_details(self, shown: bool) -> None:
        self.details.setVisible(shown)
        self.edit.setText("Hide" if shown else "Change…")

    async def load(self) -> None:
        """Read the daemon's insecure registries, then fill in the defaults."""
        try:
            self.set_insecure((await engine.daemon_info()).insecure_registries)
        except engine.EngineError as exc:
            self.set_insecure([])
            self.summary.setText(f"Cannot read the daemon's insecure registries: {exc}")

    def set_insecure(self, insecure: list[str]) -> None:
        self.insecure = list(insecure)
        self.regenerate()

    def regenerate(self) -> None:
        """Redo the generated config and host network from the inputs (the CLI's defaults)."""
        path = self.config_file.text().strip()
        self._user_config = ""
        if path:
            try:
                self._user_config = Path(path).read_text(encoding="utf-8")
            except OSError as exc:
                self.summary.setText(f"Cannot read {path}: {exc.strerror or exc}")
                return
        try:
            setup = registries.plan(
                self.insecure, user_config=self._user_config, carry_daemon=self.carry.isChecked()
            )
        except BuildxError as exc:
            self.summary.setText(str(exc))
            return
        self.config.setPlainText(setup.config_text)
        self.host_network.setChecked(setup.host_network)
        if setup.hosts:
            net = ", on the host network" if setup.host_network else ""
            self.summary.setText(f"Registries over plain HTTP{net}: {', '.join(setup.hosts)}")
        else:
            self.summary.setText("No registry over plain HTTP: pushes go over HTTPS.")

    def setup(self) -> registries.RegistrySetup:
        """What the fields say now (edits included); raises BuildxError on a config not TOML."""
        text = self.config.toPlainText()
        text = text if text.strip() else ""
        hosts = tuple(registries.config_registries(text))
        return registries.RegistrySetup(
            hosts=hosts, host_network=self.host_network.isChecked(), config_text=text
        )

    def _browse(self) -> None:
        path, _f = QFileDialog.getOpenFileName(self, "buildkitd.toml", self.config_file.text())
        if path:
            self.config_file.setText(path)
            self.regenerate()


async def write_config(setup: registries.RegistrySetup) -> str:
    """The setup's config in a temp file ('' when it has none); the caller deletes it."""
    if not setup.config_text:
        return ""
    return await asyncio.to_thread(registries.write_config, setup.config_text)

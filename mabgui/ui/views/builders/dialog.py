"""The one-click "New multi-arch builder" dialog: nodes, platforms, bootstrap with live progress.

The dialog runs :func:`mabgui.core.buildx.create` itself and streams buildx's progress into its
log. A failure shows buildx's own words and a hint; what was created is removed again unless
"Keep it if the bootstrap fails" is ticked. Cancel stops buildx (its process group) and cleans
up the same way. A docker-container builder gets the registry settings of
:mod:`mabgui.ui.views.builders.registry_box` (the CLI's defaults, editable). On success the
dialog stays open with its log and offers what to do next (Use it, Build with it).

Signals:
    created(str): a builder was created (and kept), by name.
    build_requested(str): "Build with it" was pressed, with the builder's name.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from html import escape

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mabgui.core import buildx
from mabgui.core.buildx import registries
from mabgui.core.platform import Platform, PlatformError, parse_platform_list
from mabgui.ui.resources import monospace_font
from mabgui.ui.tasks import TaskFailure, TaskManager
from mabgui.ui.views.builders.registry_box import RegistryBox, write_config

COMMON_PLATFORMS = (
    "linux/amd64", "linux/arm64", "linux/arm/v7", "linux/arm/v6", "linux/riscv64",
    "linux/ppc64le", "linux/s390x", "linux/386",
)  # fmt: skip
ENDPOINT_HINTS = {
    "docker-container": "docker context, or ssh://user@arm64-host, tcp://host:2376",
    "remote": "tcp://buildkitd-host:1234 (buildkitd --addr tcp://0.0.0.0:1234)",
    "kubernetes": "(uses your kubeconfig)",
}


class NodeEditor(QGroupBox):
    """One node: where it runs, its name, the platforms it builds, driver options.

    Signals:
        remove_requested(NodeEditor): the node's Remove button was pressed.
    """

    remove_requested = Signal(object)

    def __init__(self, number: int, contexts: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(f"Node {number}", parent)
        form = QFormLayout(self)
        self.endpoint = QComboBox()
        self.endpoint.setEditable(True)
        self.endpoint.addItems(list(contexts))
        self.endpoint.setCurrentText("" if number > 1 else (contexts[0] if contexts else ""))
        self.name = QLineEdit()
        self.name.setPlaceholderText("automatic")
        self.platforms = QLineEdit()
        self.platforms.setPlaceholderText("detected by BuildKit (e.g. linux/arm64,linux/arm/v7)")
        pick = QToolButton()
        pick.setText("…")
        pick.setToolTip("Pick platforms")
        pick.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(pick)
        for p in COMMON_PLATFORMS:
            action = menu.addAction(p)
            action.setCheckable(True)
            action.toggled.connect(lambda on, p=p: self._toggle_platform(p, on))
        pick.setMenu(menu)
        self.platform_menu = menu
        row = QHBoxLayout()
        row.addWidget(self.platforms, 1)
        row.addWidget(pick)
        self.driver_opts = QLineEdit()
        self.driver_opts.setPlaceholderText("KEY=VALUE,… e.g. network=host")
        self.remove = QPushButton("Remove node")
        self.remove.clicked.connect(lambda: self.remove_requested.emit(self))
        self.remove.setVisible(number > 1)
        form.addRow("Endpoint", self.endpoint)
        form.addRow("Node name", self.name)
        form.addRow("Platforms", row)
        form.addRow("Driver options", self.driver_opts)
        form.addRow("", self.remove)

    def _toggle_platform(self, platform: str, on: bool) -> None:
        items = [p.strip() for p in self.platforms.text().split(",") if p.strip()]
        if on and platform not in items:
            items.append(platform)
        elif not on and platform in items:
            items.remove(platform)
        self.platforms.setText(",".join(items))

    def spec(self, extra_opts: dict[str, str], flags: str) -> buildx.NodeSpec:
        """The node as the core wants it; raises BuildxError/PlatformError on bad input."""
        text = self.platforms.text().strip()
        platforms: tuple[Platform, ...] = tuple(parse_platform_list(text)) if text else ()
        opts = buildx.parse_driver_opts([self.driver_opts.text()])
        return buildx.NodeSpec(
            endpoint=self.endpoint.currentText().strip(),
            name=self.name.text().strip(),
            platforms=platforms,
            driver_opts={**extra_opts, **opts},
            buildkitd_flags=flags,
        )


class NewBuilderDialog(QDialog):
    """Create a multi-arch builder in one go (see the module docstring)."""

    created = Signal(str)
    build_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None, suggested_name: str = "multiarch") -> None:
        super().__init__(parent)
        self.setWindowTitle("New multi-arch builder")
        self.setMinimumWidth(560)
        self.tasks = TaskManager(self, on_failure=self._unexpected)
        self.contexts: list[str] = []
        self.nodes: list[NodeEditor] = []
        self.result_: buildx.CreateResult | None = None

        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.name = QLineEdit(suggested_name)
        self.driver = QComboBox()
        self.driver.addItems(list(buildx.DRIVERS))
        self.driver.currentTextChanged.connect(self._driver_changed)
        self.namespace = QLineEdit()
        self.namespace.setPlaceholderText("default namespace of your kubeconfig")
        self.replicas = QSpinBox()
        self.replicas.setRange(1, 64)
        self.flags = QLineEdit()
        self.flags.setPlaceholderText("e.g. --allow-insecure-entitlement network.host")
        form.addRow("Name", self.name)
        form.addRow("Driver", self.driver)
        self.namespace_label = QLabel("Namespace")
        self.replicas_label = QLabel("Replicas")
        form.addRow(self.namespace_label, self.namespace)
        form.addRow(self.replicas_label, self.replicas)
        form.addRow("BuildKit flags", self.flags)
        layout.addLayout(form)

        self.nodes_box = QVBoxLayout()
        layout.addLayout(self.nodes_box)
        self.add_node_button = QPushButton("Add another node (e.g. a native arm64 machine)")
        self.add_node_button.clicked.connect(lambda: self.add_node())
        layout.addWidget(self.add_node_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.registry_box = RegistryBox()
        layout.addWidget(self.registry_box)

        self.bootstrap = QCheckBox("Bootstrap now (start BuildKit on every node)")
        self.bootstrap.setChecked(True)
        self.use = QCheckBox("Use it (make it the current builder)")
        self.keep = QCheckBox("Keep it if the bootstrap fails")
        for box in (self.bootstrap, self.use, self.keep):
            layout.addWidget(box)

        self.log = QPlainTextEdit()
        self.log.setTabChangesFocus(True)
        self.log.setReadOnly(True)
        self.log.setPlaceholderText("buildx's progress appears here")
        self.log.setFont(monospace_font())
        self.log.setMinimumHeight(120)
        layout.addWidget(self.log, 1)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.setStyleSheet("color: #c53030;")
        self.error.hide()
        layout.addWidget(self.error)
        self.next_label = QLabel()
        self.next_label.setWordWrap(True)
        self.next_label.setStyleSheet("color:#276749;")
        self.next_label.hide()
        layout.addWidget(self.next_label)

        buttons = QHBoxLayout()
        self.use_button = QPushButton("Use it")
        self.use_button.setToolTip("Make it the current builder (docker buildx use)")
        self.use_button.clicked.connect(self.use_created)
        self.build_button = QPushButton("Build with it")
        self.build_button.setToolTip("Open the Builds area with this builder chosen")
        self.build_button.clicked.connect(self._build_with)
        for b in (self.use_button, self.build_button):
            b.hide()
            buttons.addWidget(b)
        buttons.addStretch(1)
        self.create_button = QPushButton("Create")
        self.create_button.setDefault(True)
        self.create_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Close")
        self.cancel_button.clicked.connect(self.cancel_or_close)
        buttons.addWidget(self.create_button)
        buttons.addWidget(self.cancel_button)
        layout.addLayout(buttons)

        self.add_node()
        self._driver_changed(self.driver.currentText())

    # --- contexts and nodes -------------------------------------------------------------------
    def load_contexts(self) -> None:
        """The docker contexts (node endpoints) and the daemon's insecure registries."""
        self.tasks.start("contexts", self._load_contexts())
        self.tasks.start("registries", self.registry_box.load())

    async def _load_contexts(self) -> None:
        contexts = await buildx.docker_contexts()
        self.set_contexts(list(contexts))

    def set_contexts(self, names: Sequence[str]) -> None:
        self.contexts = list(names)
        for i, node in enumerate(self.nodes):
            text = node.endpoint.currentText()
            node.endpoint.clear()
            node.endpoint.addItems(self.contexts)
            node.endpoint.setCurrentText(text if text or i else (names[0] if names else ""))

    def add_node(self) -> NodeEditor:
        node = NodeEditor(len(self.nodes) + 1, self.contexts)
        node.remove_requested.connect(self._remove_node)
        _placeholder(node.endpoint, ENDPOINT_HINTS[self.driver.currentText()])
        self.nodes.append(node)
        self.nodes_box.addWidget(node)
        return node

    def _remove_node(self, node: NodeEditor) -> None:
        if node in self.nodes and len(self.nodes) > 1:
            self.nodes.remove(node)
            self.nodes_box.removeWidget(node)
            node.deleteLater()
            for i, n in enumerate(self.nodes):
                n.setTitle(f"Node {i + 1}")

    def _driver_changed(self, driver: str) -> None:
        k8s = driver == "kubernetes"
        self.registry_box.setVisible(driver == "docker-container")
        for w in (self.namespace, self.namespace_label, self.replicas, self.replicas_label):
            w.setVisible(k8s)
        for node in self.nodes:
            _placeholder(node.endpoint, ENDPOINT_HINTS[driver])
            if driver == "remote" and node.endpoint.currentText() in self.contexts:
                node.endpoint.setCurrentText("")

    # --- the request --------------------------------------------------------------------------
    def request(self) -> buildx.CreateRequest:
        """What the form asks for; raises BuildxError or PlatformError with the reason."""
        driver = self.driver.currentText()
        extra: dict[str, str] = {}
        if driver == "kubernetes":
            if self.namespace.text().strip():
                extra["namespace"] = self.namespace.text().strip()
            extra["replicas"] = str(self.replicas.value())
        flags = self.flags.text().strip()
        req = buildx.CreateRequest(
            name=self.name.text().strip(),
            driver=driver,
            nodes=tuple(n.spec(extra, flags) for n in self.nodes),
            bootstrap=self.bootstrap.isChecked(),
            use=self.use.isChecked(),
            keep_on_failure=self.keep.isChecked(),
        )
        buildx.validate_create(req)
        return req

    def registry_setup(self) -> registries.RegistrySetup:
        """The registry settings to apply (none for remote and kubernetes builders)."""
        if self.driver.currentText() != "docker-container":
            return registries.RegistrySetup()
        return self.registry_box.setup()

    # --- running ------------------------------------------------------------------------------
    def start(self) -> None:
        self.error.hide()
        try:
            req = self.request()
            setup = self.registry_setup()
        except (buildx.BuildxError, PlatformError) as exc:
            self.show_error(str(exc), getattr(exc, "hint", ""))
            return
        self.log.clear()
        self.next_label.hide()
        self._set_running(True)
        task = self.tasks.start("create", self._create(req, setup))
        task.add_done_callback(lambda t: self._cancelled(req) if t.cancelled() else None)

    def running(self) -> bool:
        return self.tasks.running("create")

    async def _create(self, req: buildx.CreateRequest, setup: registries.RegistrySetup) -> None:
        path = await write_config(setup)
        req = registries.apply(req, setup, path)
        if setup.hosts:
            net = " on the host network" if setup.host_network else ""
            self.log.appendPlainText(f"Registries over plain HTTP{net}: {', '.join(setup.hosts)}")
        try:
            result = await buildx.create(req, progress=self.log.appendPlainText)
        except buildx.BuildxError as exc:
            left = "" if req.keep_on_failure else "\nNothing was left behind."
            self.show_error(str(exc), exc.hint + left)
            self._set_running(False)
            return
        finally:
            if path:  # buildx keeps its own copy of the config
                with contextlib.suppress(OSError):
                    os.unlink(path)
        self.result_ = result
        self._set_running(False)
        if result.error is not None:
            self.show_error(
                f"{result.error}\nThe builder {req.name!r} was kept (Remove deletes it).",
                result.error.hint,
            )
            self.created.emit(req.name)
            return
        self.created.emit(req.name)
        self.show_next(req.name, current=req.use)

    # --- after a success: what next -----------------------------------------------------------
    def created_name(self) -> str:
        """The builder this dialog created ('' before a success)."""
        return self.result_.builder.name if self.result_ and self.result_.builder else ""

    def show_next(self, name: str, *, current: bool) -> None:
        """Keep the log, say the builder is ready and offer what to do next."""
        state = "is the current builder" if current else "is ready"
        then = "build with it." if current else "use it (builds that name no builder pick it)"
        then += "" if current else ", or build with it."
        self.next_label.setText(f"Builder {name} {state}. Next: {then}")
        self.next_label.show()
        self.create_button.hide()
        self.use_button.setVisible(not current)
        self.build_button.show()
        self.build_button.setDefault(True)
        self.build_button.setFocus()

    def use_created(self) -> None:
        name = self.created_name() or self.name.text().strip()
        self.use_button.setEnabled(False)
        self.tasks.start("use", self._use(name))

    async def _use(self, name: str) -> None:
        self.log.appendPlainText(f"$ docker buildx use {name}")
        try:
            await buildx.use(name)
        except buildx.BuildxError as exc:
            self.use_button.setEnabled(True)
            self.show_error(str(exc), exc.hint)
            return
        self.use_button.hide()
        self.show_next(name, current=True)
        self.created.emit(name)

    def _build_with(self) -> None:
        self.build_requested.emit(self.created_name() or self.name.text().strip())
        self.accept()

    def reject(self) -> None:
        """Escape (and the window's close button) cancel a creation in flight first."""
        if self.running():
            self.cancel_or_close()
            return
        super().reject()

    def cancel_or_close(self) -> None:
        if self.running():
            self.tasks.cancel("create")
            self.cancel_button.setEnabled(False)
            self.log.appendPlainText("Cancelling: stopping buildx, removing what was created…")
            return
        super().reject()

    def _cancelled(self, req: buildx.CreateRequest) -> None:
        self._set_running(False)
        self.cancel_button.setEnabled(True)
        self.log.appendPlainText(
            "Cancelled." + ("" if req.keep_on_failure else " Nothing was left behind.")
        )

    def _set_running(self, running: bool) -> None:
        self.create_button.setEnabled(not running)
        self.cancel_button.setText("Cancel" if running else "Close")
        for w in (self.name, self.driver, self.add_node_button, self.registry_box, *self.nodes):
            w.setEnabled(not running)

    def show_error(self, message: str, hint: str = "") -> None:
        text = escape(message, quote=False).replace("\n", "<br>")
        if hint:
            text += "<br><i>" + escape(hint, quote=False).replace("\n", "<br>") + "</i>"
        self.error.setText(text)
        self.error.show()

    def _unexpected(self, failure: TaskFailure) -> None:
        self._set_running(False)
        self.show_error(failure.message, failure.hint)

    def done(self, result: int) -> None:
        self.tasks.cancel_all()
        super().done(result)


def _placeholder(combo: QComboBox, text: str) -> None:
    edit = combo.lineEdit()
    if edit is not None:
        edit.setPlaceholderText(text)

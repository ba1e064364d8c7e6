"""The Emulators area: binfmt_misc handlers, what each gives the builders, and changing them.

Every change asks first and says exactly what runs (the shell/docker command); without the
privileges, nothing is attempted and the command to run by hand is shown instead.
"""

from __future__ import annotations

import asyncio
import html
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from mabgui.core import buildx
from mabgui.core import overview as binfmt_builders
from mabgui.core.binfmt import Backend, BinfmtError, BinfmtState, Handler, LocalBinfmt
from mabgui.core.binfmt import backend as binfmt_backend
from mabgui.core.binfmt.daemon import DEFAULT_INSTALLER_IMAGE, DEFAULT_SHELL_IMAGE, DaemonBinfmt
from mabgui.core.errors import MabguiError
from mabgui.core.overview import BuilderPlatforms, StaleBuilder
from mabgui.core.platform import Platform
from mabgui.ui.models.emulators import (
    COL_BUILDERS,
    COL_ENABLED,
    COL_FLAGS,
    COL_INTERPRETER,
    COL_NAME,
    COL_PLATFORMS,
    COL_WARNING,
    EmulatorsModel,
)
from mabgui.ui.tasks import TaskRunner
from mabgui.ui.views.emulators.install_dialog import InstallDialog

ListBuilders = Callable[[], Any]
_BACKENDS = (
    ("auto", "Automatic"),
    ("local", "This host's kernel"),
    ("daemon", "Docker daemon (privileged containers)"),
)
_STYLES = {
    "error": "background:#fff5f5; border:1px solid #feb2b2; border-radius:4px; padding:6px;",
    "warn": "background:#fffaf0; border:1px solid #fbd38d; border-radius:4px; padding:6px;",
    "info": "background:#f0f7ff; border:1px solid #bee3f8; border-radius:4px; padding:6px;",
}


def _call(ref: weakref.ref[EmulatorsView], method: str, *args: Any) -> None:
    view = ref()
    if view is not None:
        getattr(view, method)(*args)


def _esc(text: str) -> str:
    return html.escape(text, quote=False)


def _detach(exc: BaseException) -> None:
    """Drop the tracebacks of a caught exception: their frames reference this view, and asyncio
    futures keep exceptions in reference cycles, so the garbage collector could otherwise free
    the view later from a worker thread (Qt objects must die on the GUI thread)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        e.__traceback__ = None
        todo += [e.__context__, e.__cause__]


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class EmulatorsView(QWidget):
    """Table of handlers with enable toggles, install/remove, and builder coverage."""

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        backend: Backend | None = None,
        list_builders: ListBuilders | None = None,
        settings: QSettings | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings or QSettings()
        # No reference cycle through self (a QWidget in a cycle may be collected off the GUI
        # thread by the garbage collector): the error handler holds the view weakly.
        this = weakref.ref(self)
        self.tasks = TaskRunner(on_error=lambda exc: _call(this, "_task_failed", exc))
        tasks = self.tasks  # work in flight stops with the widget
        self.destroyed.connect(lambda *_: tasks.cancel_all())
        self._fixed_backend = backend
        self._list_builders: ListBuilders = list_builders or binfmt_builders.list_builder_platforms
        self.backend: Backend = backend or self._make_backend()
        self.state: BinfmtState | None = None
        self.builders: list[BuilderPlatforms] | None = None
        self.stale: list[StaleBuilder] = []
        self._loaded = False
        # Hooks the tests replace: a yes/no question and the platform picker (None: dialogs).
        self.confirm: Callable[[str, str], bool] | None = None
        self.choose_platforms: Callable[[BinfmtState | None], list[Platform] | None] | None = None

        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        title = QLabel("<b>Emulators</b> — QEMU user emulators in binfmt_misc")
        top.addWidget(title)
        top.addStretch(1)
        top.addWidget(QLabel("Where:"))
        self.backend_box = QComboBox()
        for key, text in _BACKENDS:
            self.backend_box.addItem(text, key)
        current = str(self.settings.value("emulators/backend", "auto"))
        self.backend_box.setCurrentIndex(max(0, self.backend_box.findData(current)))
        self.backend_box.setEnabled(backend is None)
        self.backend_box.currentIndexChanged.connect(self._backend_changed)
        top.addWidget(self.backend_box)
        layout.addLayout(top)

        self.images = QWidget()
        images = QHBoxLayout(self.images)
        images.setContentsMargins(0, 0, 0, 0)
        self.shell_image = QLineEdit(
            str(self.settings.value("emulators/shell_image", DEFAULT_SHELL_IMAGE))
        )
        self.shell_image.setToolTip("An image with a POSIX shell, run --privileged to read and "
                                    "toggle handlers")  # fmt: skip
        self.installer_image = QLineEdit(
            str(self.settings.value("emulators/installer_image", DEFAULT_INSTALLER_IMAGE))
        )
        self.installer_image.setToolTip("Run --privileged with --install/--uninstall ARCHS")
        if isinstance(self.backend, DaemonBinfmt):
            self.shell_image.setText(self.backend.shell_image)
            self.installer_image.setText(self.backend.installer_image)
            self.shell_image.setReadOnly(backend is not None)
            self.installer_image.setReadOnly(backend is not None)
        images.addWidget(QLabel("Helper image:"))
        images.addWidget(self.shell_image, 1)
        images.addWidget(QLabel("Installer image:"))
        images.addWidget(self.installer_image, 1)
        self.shell_image.editingFinished.connect(self._images_changed)
        self.installer_image.editingFinished.connect(self._images_changed)
        layout.addWidget(self.images)

        buttons = QHBoxLayout()
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.install_button = QPushButton("Install emulators for…")
        self.install_button.clicked.connect(self.install)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Unregister the selected handler")
        self.remove_button.clicked.connect(self.remove_selected)
        self.fix_button = QPushButton("Add flag F…")
        self.fix_button.setToolTip(
            "Register the selected handler again with flag F (fix-binary), so containers can use it"
        )
        self.fix_button.clicked.connect(self.add_fix_binary)
        self.fix_button.hide()
        self.mount_button = QPushButton("Mount binfmt_misc…")
        self.mount_button.clicked.connect(self.mount)
        self.mount_button.hide()
        self.restart_button = QPushButton("Restart builder…")
        self.restart_button.clicked.connect(self.restart_builder)
        self.restart_button.hide()
        for b in (
            self.refresh_button,
            self.install_button,
            self.remove_button,
            self.fix_button,
            self.mount_button,
        ):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.restart_button)
        layout.addLayout(buttons)

        self.summary = QLabel("Not read yet.")
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.RichText)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.message.hide()
        layout.addWidget(self.message)
        self.warnings = QLabel()
        self.warnings.setWordWrap(True)
        self.warnings.setTextFormat(Qt.TextFormat.RichText)
        self.warnings.setStyleSheet(_STYLES["warn"])
        self.warnings.hide()
        layout.addWidget(self.warnings)

        self.model = EmulatorsModel(self)
        self.model.toggle_requested.connect(self.request_toggle)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        for col in (COL_NAME, COL_PLATFORMS, COL_ENABLED, COL_FLAGS):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        for col in (COL_INTERPRETER, COL_BUILDERS):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(COL_WARNING, QHeaderView.ResizeMode.Stretch)
        self.model.modelReset.connect(self._fit_columns)
        self.model.dataChanged.connect(self._fit_columns)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        layout.addWidget(self.table, 1)
        self._update_images_visibility()
        self._update_buttons()

    # --- backend --------------------------------------------------------------------------
    def _make_backend(self) -> Backend:
        kind = str(self.settings.value("emulators/backend", "auto"))
        if kind not in binfmt_backend.BACKEND_KINDS:
            kind = "auto"
        try:
            return binfmt_backend.make_backend(
                kind,  # type: ignore[arg-type]
                shell_image=str(self.settings.value("emulators/shell_image", DEFAULT_SHELL_IMAGE)),
                installer_image=str(
                    self.settings.value("emulators/installer_image", DEFAULT_INSTALLER_IMAGE)
                ),
            )
        except BinfmtError:
            return binfmt_backend.make_backend("daemon")

    def _backend_changed(self) -> None:
        self.settings.setValue("emulators/backend", self.backend_box.currentData())
        self.backend = self._make_backend()
        self._update_images_visibility()
        self.refresh()

    def _images_changed(self) -> None:
        self.settings.setValue("emulators/shell_image", self.shell_image.text().strip())
        self.settings.setValue("emulators/installer_image", self.installer_image.text().strip())
        if self._fixed_backend is None:
            self.backend = self._make_backend()

    def _update_images_visibility(self) -> None:
        self.images.setVisible(self.backend.kind == "daemon")

    # --- reading --------------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._loaded and _loop_running():
            self.refresh()

    def refresh(self) -> None:
        """Re-read the handlers (and then the builders) in the background."""
        self._loaded = True
        self.refresh_button.setEnabled(False)
        self.summary.setText(f"Reading binfmt_misc of {_esc(self.backend.describe())}…")
        self.tasks.start("refresh", self._refresh())

    async def _refresh(self) -> None:
        try:
            state = await self.backend.read()
        except BinfmtError as exc:
            self.refresh_button.setEnabled(True)
            self.summary.setText("Could not read binfmt_misc.")
            self.show_error(exc)
            return
        self.refresh_button.setEnabled(True)
        self._show_state(state)
        self.tasks.start("builders", self._refresh_builders())

    def _show_state(self, state: BinfmtState) -> None:
        self.state = state
        self.model.set_state(state)
        if not state.mounted:
            self.summary.setText(f"binfmt_misc is <b>not mounted</b> at {_esc(state.root)}.")
            command = (
                self.backend.command_for("mount") if isinstance(self.backend, LocalBinfmt) else ""
            )
            self.show_error(BinfmtError(
                "No foreign binary can run until binfmt_misc is mounted.", "", command
            ))  # fmt: skip
            self._update_buttons()
            return
        enabled = sum(1 for h in state.handlers if h.enabled)
        status = "enabled" if state.enabled else "<b>disabled globally</b> (no handler runs)"
        self.summary.setText(
            f"binfmt_misc of {_esc(self.backend.describe())}: {status} · "
            f"{len(state.handlers)} handlers, {enabled} enabled"
        )
        if not state.writable:
            self.show_message(
                "warn",
                "<b>Read-only</b>: this user cannot change binfmt_misc (it needs root). "
                "Changes show the command to run by hand; or pick “Docker daemon” above.",
            )
        else:
            self.message.hide()
        self._update_buttons()
        self._update_warnings()

    async def _refresh_builders(self) -> None:
        try:
            builders = list(await self._list_builders())
        except (MabguiError, OSError) as exc:
            _detach(exc)
            self.builders = None
            self.stale = []
            self.model.set_builders([], [])
            self._update_warnings(f"Builders unknown: {exc}")
            return
        self.builders = builders
        self.stale = (
            binfmt_builders.stale_builders(self.state, builders) if self.state is not None else []
        )
        self.model.set_builders(builders, self.stale)
        self._update_warnings()

    def _update_warnings(self, extra: str = "") -> None:
        lines = []
        for h in self.model.handlers():
            lines += [f"<b>{_esc(h.name)}</b>: {_esc(w)}" for w in h.warnings()]
        lines += [_esc(s.message) for s in self.stale]
        if extra:
            lines.append(_esc(extra))
        self.warnings.setText("<br>".join(lines))
        self.warnings.setVisible(bool(lines))
        restartable = self._stale_builder()
        self.restart_button.setVisible(restartable is not None)
        if restartable is not None:
            self.restart_button.setText(f"Restart {restartable.name}…")

    def _stale_builder(self) -> BuilderPlatforms | None:
        """The builder the restart button offers: one mabgui can restart first."""
        restartable = [
            s.builder for s in self.stale if buildx.restart_argv(s.builder.name, s.builder.driver)
        ]
        if restartable:
            return restartable[0]
        return self.stale[0].builder if self.stale else None

    def _fit_columns(self) -> None:
        """Long interpreters and builder lists get their width up to a cap (tooltips and
        resizing show the rest), so the warnings column stays readable."""
        for col, cap in ((COL_INTERPRETER, 280), (COL_BUILDERS, 180)):
            self.table.resizeColumnToContents(col)
            self.table.setColumnWidth(col, min(self.table.columnWidth(col), cap))

    # --- messages -------------------------------------------------------------------------
    def show_message(self, kind: str, text: str) -> None:
        self.message.setStyleSheet(_STYLES[kind])
        self.message.setText(text)
        self.message.show()

    def show_error(self, exc: BinfmtError) -> None:
        _detach(exc)
        text = f"<b>{_esc(str(exc))}</b>"
        if exc.hint:
            text += f"<br>{_esc(exc.hint)}"
        if exc.command:
            text += f"<br>To do it by hand, run:<pre style='margin:4px'>{_esc(exc.command)}</pre>"
        self.show_message("error", text)

    def _task_failed(self, exc: BaseException) -> None:
        _detach(exc)
        self.refresh_button.setEnabled(True)
        self.show_message("error", _esc(f"Unexpected error: {type(exc).__name__}: {exc}"))

    def _ask(self, title: str, text: str) -> bool:
        if self.confirm is not None:
            return self.confirm(title, text)
        answer = QMessageBox.question(
            self, title, text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
        )
        return answer == QMessageBox.StandardButton.Yes

    def _pick_platforms(self, state: BinfmtState | None) -> list[Platform] | None:
        if self.choose_platforms is not None:
            return self.choose_platforms(state)
        dialog = InstallDialog(state, self.backend.describe(), self)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.selected()

    # --- selection ------------------------------------------------------------------------
    def selected_handler(self) -> Handler | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.handler(rows[0].row()) if rows else None

    def _update_buttons(self) -> None:
        mounted = self.state is not None and self.state.mounted
        self.mount_button.setVisible(
            self.state is not None and not mounted and isinstance(self.backend, LocalBinfmt)
        )
        selected = self.selected_handler()
        self.remove_button.setEnabled(mounted and selected is not None)
        self.fix_button.setVisible(
            mounted
            and selected is not None
            and selected.is_qemu
            and not selected.fix_binary
            and isinstance(self.backend, LocalBinfmt)
        )
        self.install_button.setEnabled(mounted)

    def _no_privileges(self, action: str, target: str) -> bool:
        """True (and the command shown) when this backend cannot write: nothing is tried."""
        if self.state is None or self.state.writable:
            return False
        self.show_error(
            BinfmtError(
                f"Cannot {action} {target}: changing binfmt_misc needs root.",
                "Run the command below, then Refresh; or pick “Docker daemon” above.",
                self.backend.command_for(action, target),
            )
        )
        return True

    # --- actions --------------------------------------------------------------------------
    def request_toggle(self, name: str, enabled: bool) -> None:
        action = "enable" if enabled else "disable"
        if self._no_privileges(action, name):
            return
        command = self.backend.command_for(action, name)
        effect = (
            f"{name} will run foreign binaries again."
            if enabled
            else f"Builds and containers needing {name} will fail with 'exec format error'."
        )
        if not self._ask(
            f"{action.capitalize()} {name}?",
            f"{action.capitalize()} {name} in {self.backend.describe()}?\n{effect}\n\n"
            f"This runs:\n{command}",
        ):
            return
        self.model.set_pending(name, True)
        self.tasks.start(f"toggle:{name}", self._toggle(name, enabled))

    async def _toggle(self, name: str, enabled: bool) -> None:
        try:
            handler = await self.backend.set_enabled(name, enabled)
        except BinfmtError as exc:
            self.model.set_pending(name, False)
            self.show_error(exc)
            return
        self.model.update_handler(handler)
        self.show_message("info", f"{_esc(name)} is now "
                          f"<b>{'enabled' if handler.enabled else 'disabled'}</b>.")  # fmt: skip
        if self.state is not None:
            self.state = BinfmtState(
                self.state.root, self.state.mounted, self.state.writable, self.state.enabled,
                [handler if h.name == name else h for h in self.state.handlers],
            )  # fmt: skip
            if self.builders is not None:
                self.stale = binfmt_builders.stale_builders(self.state, self.builders)
                self.model.set_builders(self.builders, self.stale)
            self._update_warnings()

    def remove_selected(self) -> None:
        handler = self.selected_handler()
        if handler is None:
            return
        if self._no_privileges("remove", handler.name):
            return
        command = self.backend.command_for("remove", handler.name)
        if not self._ask(
            f"Remove {handler.name}?",
            f"Unregister {handler.name} from {self.backend.describe()}? "
            "It can be installed again later.\n\n"
            f"This runs:\n{command}",
        ):
            return
        self.tasks.start("change", self._remove(handler.name))

    async def _remove(self, name: str) -> None:
        try:
            await self.backend.remove(name)
        except BinfmtError as exc:
            self.show_error(exc)
            return
        self.show_message("info", f"{_esc(name)} was removed.")
        self.refresh()

    def install(self) -> None:
        platforms = self._pick_platforms(self.state)
        if not platforms:
            return
        self.install_platforms(platforms)

    def install_platforms(self, platforms: Sequence[Platform]) -> None:
        target = " ".join(str(p) for p in platforms)
        try:
            command = self.backend.command_for("install", target)
        except BinfmtError as exc:
            self.show_error(exc)
            return
        if self._no_privileges("install", target):
            return
        if not self._ask(
            "Install emulators?",
            f"Register emulators for {', '.join(str(p) for p in platforms)} in "
            f"{self.backend.describe()}?\n\nThis runs:\n{command}",
        ):
            return
        self.show_message("info", f"Installing emulators for {_esc(target)}…")
        self.tasks.start("change", self._install(list(platforms)))

    async def _install(self, platforms: list[Platform]) -> None:
        try:
            result = await self.backend.install(platforms)
        except BinfmtError as exc:
            self.show_error(exc)
            return
        parts = []
        if result.installed:
            parts.append(f"Installed: {', '.join(result.installed)}.")
        if result.already:
            parts.append(f"Already installed: {', '.join(result.already)}.")
        self.show_message("info", _esc(" ".join(parts) or "Nothing new was installed."))
        self._show_state(result.state)
        if self.builders is not None:
            self.tasks.start("builders", self._refresh_builders())

    def add_fix_binary(self) -> None:
        handler = self.selected_handler()
        backend = self.backend
        if handler is None or not isinstance(backend, LocalBinfmt) or handler.fix_binary:
            return
        flags = handler.flags + "F"
        if self._no_privileges("reregister", f"{handler.name} {flags}"):
            return
        command = backend.command_for("reregister", f"{handler.name} {flags}")
        if not self._ask(
            f"Add flag F to {handler.name}?",
            f"Register {handler.name} again with flags {flags}: the kernel then opens "
            f"{handler.interpreter} once, now, and containers can use it.\n\n"
            f"This runs:\n{command}",
        ):
            return
        self.tasks.start("change", self._reregister(backend, handler.name, flags))

    async def _reregister(self, backend: LocalBinfmt, name: str, flags: str) -> None:
        try:
            handler = await backend.reregister(name, flags)
        except BinfmtError as exc:
            self.show_error(exc)
            self.refresh()
            return
        self.show_message("info", f"{_esc(name)} now has flags <b>{_esc(handler.flags)}</b>.")
        self.refresh()

    def mount(self) -> None:
        backend = self.backend
        if not isinstance(backend, LocalBinfmt):
            return
        if not self._ask(
            "Mount binfmt_misc?",
            f"Mount binfmt_misc at {backend.root}? Needs root.\n\n"
            f"This runs:\n{backend.command_for('mount')}",
        ):
            return
        self.tasks.start("change", self._mount(backend))

    async def _mount(self, backend: LocalBinfmt) -> None:
        try:
            state = await backend.mount()
        except BinfmtError as exc:
            self.show_error(exc)
            return
        self._show_state(state)

    def restart_builder(self) -> None:
        builder = self._stale_builder()
        if builder is None:
            return
        commands = buildx.restart_argv(builder.name, builder.driver)
        if not commands:
            self.show_error(BinfmtError(
                f"{builder.name} uses the docker driver: its BuildKit is part of dockerd.",
                "Restart the Docker daemon (sudo systemctl restart docker, or Docker Desktop → "
                "Restart) so it lists the newly enabled emulators.",
            ))  # fmt: skip
            return
        text = "\n".join(" ".join(c) for c in commands)
        if not self._ask(
            f"Restart {builder.name}?",
            f"Restart the builder {builder.name} so BuildKit detects the emulators? "
            f"Builds running on it are cancelled.\n\nThis runs:\n{text}",
        ):
            return
        self.tasks.start("restart", self._restart(builder))

    async def _restart(self, builder: BuilderPlatforms) -> None:
        self.show_message("info", f"Restarting {_esc(builder.name)}…")
        try:
            await buildx.restart(builder.name, driver=builder.driver)
        except MabguiError as exc:
            self.show_error(BinfmtError(str(exc), exc.hint))
            return
        self.show_message("info", f"{_esc(builder.name)} was restarted.")
        await self._refresh_builders()

"""The Emulators area: binfmt_misc handlers, what each gives the builders, and changing them.

Every change asks first and says exactly what runs (the shell/docker command); without the
privileges, nothing is attempted and the command to run by hand is shown instead.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QSettings
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from mabgui.core import overview as binfmt_builders
from mabgui.core.binfmt import (
    Backend,
    BinfmtError,
    BinfmtState,
    Handler,
    LocalBinfmt,
    check_handler_name,
    is_handler_name,
)
from mabgui.core.overview import BuilderPlatforms, StaleBuilder
from mabgui.core.platform import Platform
from mabgui.ui.models.emulators import EmulatorsModel
from mabgui.ui.tasks import TaskFailure, TaskManager
from mabgui.ui.views.emulators.coverage import BuilderCoverage
from mabgui.ui.views.emulators.header import Header
from mabgui.ui.views.emulators.install_dialog import InstallDialog
from mabgui.ui.views.emulators.messages import Messages
from mabgui.ui.views.emulators.table import handlers_table

ListBuilders = Callable[[], Any]


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class EmulatorsView(BuilderCoverage, QWidget):
    """Table of handlers with enable toggles, install/remove, and builder coverage."""

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        backend: Backend | None = None,
        list_builders: ListBuilders | None = None,
        settings: QSettings | None = None,
        native: Platform | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings or QSettings()
        # Work in flight stops with the widget; the manager holds the handler weakly.
        self.tasks = TaskManager(self, on_failure=self._task_failed)
        self._list_builders: ListBuilders = list_builders or binfmt_builders.list_builder_platforms
        self.header = Header(self.settings, backend)
        self.header.changed.connect(self._backend_changed)
        self.backend: Backend = self.header.backend
        self.images = self.header.images  # the daemon's images, shown for that backend only
        self.state: BinfmtState | None = None
        self.builders: list[BuilderPlatforms] | None = None
        self.stale: list[StaleBuilder] = []
        # The platform the engine's daemon runs natively (from `docker info`, passed down by the
        # window): no emulator is needed for it. Unknown until then: no builder is called stale.
        self.native: Platform | None = native
        self._loaded = False
        # Hooks the tests replace: a yes/no question and the platform picker (None: dialogs).
        self.confirm: Callable[[str, str], bool] | None = None
        self.choose_platforms: Callable[[BinfmtState | None], list[Platform] | None] | None = None

        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
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

        self.messages = Messages()
        self.summary = self.messages.summary
        self.message = self.messages.message
        self.warnings = self.messages.warnings
        layout.addWidget(self.messages)
        self.model = EmulatorsModel(self)
        self.model.toggle_requested.connect(self.request_toggle)
        self.table = handlers_table(self.model)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        layout.addWidget(self.table, 1)
        self._update_buttons()

    # --- backend --------------------------------------------------------------------------
    def _backend_changed(self, reread: bool) -> None:
        self.backend = self.header.backend
        if reread:
            self.refresh()

    # --- reading --------------------------------------------------------------------------
    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not _loop_running():
            return
        if not self._loaded:
            self.refresh()
        elif self.state is not None:
            # Builders come and go in the Builders area (or a terminal): coming back here
            # re-reads them, so no warning names a builder that no longer exists.
            self.tasks.start("builders", self._refresh_builders())

    def refresh(self) -> None:
        """Re-read the handlers (and then the builders) in the background."""
        self._loaded = True
        self.refresh_button.setEnabled(False)
        self.summary.setText(f"Reading binfmt_misc of {html.escape(self.backend.describe())}…")
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
            self.summary.setText(f"binfmt_misc is <b>not mounted</b> at {html.escape(state.root)}.")
            command = (
                self.backend.command_for("mount") if isinstance(self.backend, LocalBinfmt) else ""
            )
            self.show_error(BinfmtError(
                "No foreign binary can run until binfmt_misc is mounted.", "", command
            ))  # fmt: skip
            self._update_buttons()
            return
        self._update_summary()
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

    def _update_summary(self) -> None:
        """The counts line, from the state as it is now (after every toggle, remove, install)."""
        state = self.state
        if state is None or not state.mounted:
            return
        enabled = sum(1 for h in state.handlers if h.enabled)
        status = "enabled" if state.enabled else "<b>disabled globally</b> (no handler runs)"
        self.summary.setText(
            f"binfmt_misc of {html.escape(self.backend.describe())}: {status} · "
            f"{len(state.handlers)} handlers, {enabled} enabled"
        )

    # --- messages -------------------------------------------------------------------------
    def show_message(self, kind: str, text: str) -> None:
        self.messages.show_message(kind, text)

    def show_error(self, exc: BinfmtError) -> None:
        self.messages.show_error(exc)

    def _task_failed(self, failure: TaskFailure) -> None:
        self.refresh_button.setEnabled(True)
        hint = f"<br>{html.escape(failure.hint)}" if failure.hint else ""
        self.show_message("error", f"<b>{html.escape(failure.message)}</b>{hint}")

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
        dialog = InstallDialog(state, self.backend.describe(), self, native=self.native)
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

    def _refused(self, action: str, target: str) -> bool:
        """True (and why shown) when nothing may be tried: a handler name mabgui never writes
        with, or a backend without the privileges (then the command to run by hand)."""
        name = target.split(" ")[0]
        if action != "install" and not is_handler_name(name):
            try:
                check_handler_name(name)
            except BinfmtError as exc:
                self.show_error(exc)
            return True
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
        if self._refused(action, name):
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
        self.show_message("info", f"{html.escape(name)} is now "
                          f"<b>{'enabled' if handler.enabled else 'disabled'}</b>.")  # fmt: skip
        if self.state is not None:
            self.state = self.state.with_handler(handler)
            self._update_summary()
            if self.builders is not None:
                self._update_stale()
            else:
                self._update_warnings()

    def remove_selected(self) -> None:
        handler = self.selected_handler()
        if handler is None:
            return
        if self._refused("remove", handler.name):
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
        self.show_message("info", f"{html.escape(name)} was removed.")
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
        if self._refused("install", target):
            return
        if not self._ask(
            "Install emulators?",
            f"Register emulators for {', '.join(str(p) for p in platforms)} in "
            f"{self.backend.describe()}?\n\nThis runs:\n{command}",
        ):
            return
        self.show_message("info", f"Installing emulators for {html.escape(target)}…")
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
        self.show_message("info", html.escape(" ".join(parts) or "Nothing new was installed."))
        self._show_state(result.state)
        if self.builders is not None:
            self.tasks.start("builders", self._refresh_builders())

    def add_fix_binary(self) -> None:
        handler = self.selected_handler()
        backend = self.backend
        if handler is None or not isinstance(backend, LocalBinfmt) or handler.fix_binary:
            return
        flags = handler.flags + "F"
        if self._refused("reregister", f"{handler.name} {flags}"):
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
        self.show_message(
            "info", f"{html.escape(name)} now has flags <b>{html.escape(handler.flags)}</b>."
        )
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

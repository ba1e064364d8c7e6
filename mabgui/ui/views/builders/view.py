"""The Builders area: every buildx builder, its nodes and platforms; use, bootstrap, stop, remove.

Renders :func:`mabgui.core.overview.overview` as a tree (builders → nodes) with platform chips,
explains what buildx leaves cryptic in a details pane (nodes in error, emulators a node does not
list, the docker driver without the containerd image store) and runs the actions through a
:class:`~mabgui.ui.tasks.TaskRunner`: a refresh replaces one in flight, a running action can be
cancelled (buildx's process group is stopped), and a hanging node never freezes the window.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from PySide6.QtCore import QItemSelection, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QSplitter,
    QTextBrowser,
    QToolBar,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from mabgui.core import buildx, overview
from mabgui.core.buildx import Builder, Node
from mabgui.core.errors import MabguiError
from mabgui.core.overview import Overview
from mabgui.ui.models.builders import (
    COL_BUILDKIT,
    COL_DRIVER,
    COL_ENDPOINT,
    COL_NAME,
    COL_PLATFORMS,
    COL_STATUS,
    BuildersModel,
    ObjectRole,
)
from mabgui.ui.resources import monospace_font
from mabgui.ui.tasks import TaskFailure, TaskManager
from mabgui.ui.views.builders.chips import ChipsDelegate, legend_html
from mabgui.ui.views.builders.details import builder_html, error_html
from mabgui.ui.views.builders.dialog import NewBuilderDialog

SLOW_NOTICE_MS = 3000


class BuildersView(QWidget):
    """Builders → nodes with status, BuildKit version and platform chips, plus actions."""

    build_requested = Signal(str)  # "Build with it" in the New builder dialog

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._select_next = ""  # a builder to select once listed (one just created)
        self.tasks = TaskManager(self, on_failure=self._task_failed)
        self.model = BuildersModel(self)
        self.overview: Overview | None = None
        self.details_builder: Builder | None = None  # from `buildx inspect`
        self.disk_usage: buildx.DiskUsage | None = None
        self.dialog: NewBuilderDialog | None = None
        self.confirm: QMessageBox | None = None
        self._loaded = False
        self._refresh_gen = 0
        self._action_name = ""

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        # A tool bar folds what does not fit into its extension menu: the view stays narrow.
        bar = QToolBar("Builders")
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)

        def act(text: str, tip: str, slot: Callable[[], object], key: str = "") -> QAction:
            action = QAction(text, self)
            action.setToolTip(f"{tip} ({key})" if key else tip)
            if key:
                # Active while the focus is in this area (the window's F5 stays the engine's).
                action.setShortcut(QKeySequence(key))
                action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
                self.addAction(action)
            action.triggered.connect(lambda _checked=False: slot())
            bar.addAction(action)
            button = bar.widgetForAction(action)
            if button is not None:  # tool bar buttons take no focus by default: Tab reaches them
                button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
                button.setAccessibleName(text.rstrip("…"))
            return action

        self.refresh_act = act(
            "Refresh", "List the builders again (docker buildx ls)", self.refresh, "Ctrl+R"
        )
        self.new_act = act(
            "New multi-arch builder…",
            "Create a docker-container, remote or kubernetes builder, one or more nodes",
            self.new_builder,
            "Ctrl+N",
        )
        bar.addSeparator()
        self.use_act = act(
            "Use", "Make it the current builder (docker buildx use)", self.use_selected, "Ctrl+U"
        )
        self.bootstrap_act = act(
            "Bootstrap",
            "Start BuildKit on every node (docker buildx inspect --bootstrap)",
            self.bootstrap_selected,
            "Ctrl+B",
        )
        self.stop_act = act(
            "Stop", "Stop its BuildKit daemons (docker buildx stop)", self.stop_selected, "Ctrl+T"
        )
        self.remove_act = act(
            "Remove…", "Remove the builder (docker buildx rm)", self.remove_selected, "Del"
        )
        self.inspect_act = act(
            "Inspect",
            "Driver options, flags, labels, GC policy (docker buildx inspect)",
            self.inspect_selected,
            "Ctrl+I",
        )
        self.cancel_act = act(
            "Cancel", "Stop the running buildx command", self.cancel_action, "Esc"
        )
        self.cancel_act.setVisible(False)
        self._tips = {a: a.toolTip() for a in (self.bootstrap_act, self.stop_act, self.remove_act)}
        layout.addWidget(bar)

        self.status = QLabel("Builders not loaded yet")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status)

        self.tree = QTreeView()
        self.tree.setModel(self.model)
        self.tree.setItemDelegateForColumn(COL_PLATFORMS, ChipsDelegate(self.tree))
        # Rows grow when the platform chips wrap (every chip stays visible).
        self.tree.setUniformRowHeights(False)
        self.tree.setAlternatingRowColors(False)
        self.tree.setSelectionBehavior(QTreeView.SelectionBehavior.SelectRows)
        self.tree.setSelectionMode(QTreeView.SelectionMode.SingleSelection)
        header = self.tree.header()
        header.setStretchLastSection(True)
        for col in (COL_NAME, COL_DRIVER, COL_ENDPOINT, COL_STATUS, COL_BUILDKIT):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        # The chips come right after the name, wide enough for a few per line (they wrap and
        # the row grows): at 1024 px they no longer end up beyond the right edge.
        header.moveSection(header.visualIndex(COL_PLATFORMS), 1)
        header.setSectionResizeMode(COL_PLATFORMS, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(COL_PLATFORMS, 250)
        header.sectionResized.connect(self._section_resized)
        self.tree.selectionModel().selectionChanged.connect(self._selection_changed)
        self.tree.doubleClicked.connect(lambda _i: self.inspect_selected())
        self.legend = QLabel(legend_html())
        self.legend.setWordWrap(True)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.tree, 1)
        left_layout.addWidget(self.legend)

        self.details = QTextBrowser()
        self.details.setOpenLinks(False)
        self.details.anchorClicked.connect(self._anchor_clicked)
        self.details.setPlaceholderText("Select a builder to see its nodes, options and notes.")
        self.activity = QPlainTextEdit()
        self.activity.setTabChangesFocus(True)
        self.activity.setReadOnly(True)
        self.activity.setPlaceholderText("buildx output of Use, Bootstrap, Stop and Remove")
        self.activity.setFont(monospace_font())
        self.activity.setMaximumBlockCount(2000)
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.details)
        right.addWidget(self.activity)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 1)

        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([680, 320])
        layout.addWidget(splitter, 1)
        self._update_buttons()

    # --- loading --------------------------------------------------------------------------------
    def _section_resized(self, column: int, _old: int, _new: int) -> None:
        if column == COL_PLATFORMS:  # the chips wrap again: rows take their new heights
            self.tree.doItemsLayout()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._loaded:
            self._loaded = True
            self.refresh()

    def refresh(self) -> None:
        """List the builders; a refresh still in flight is cancelled (latest wins)."""
        self._loaded = True
        self._refresh_gen += 1
        gen = self._refresh_gen
        self._set_status("Loading builders…")
        self.tasks.start("refresh", self._refresh())
        QTimer.singleShot(SLOW_NOTICE_MS, self, lambda: self._slow_notice(gen))

    def refresh_and_select(self, name: str) -> None:
        self._select_next = name
        self.refresh()

    def refreshing(self) -> bool:
        return self.tasks.running("refresh")

    def _slow_notice(self, gen: int) -> None:
        if self.refreshing() and gen == self._refresh_gen:
            self._set_status(
                "Still loading builders: a node is slow to answer (buildx gives up on it after "
                f"{buildx.NODE_TIMEOUT_S} s). The window stays usable."
            )

    async def _refresh(self) -> None:
        selected = self.selected_builder()
        try:
            ov = await overview.overview()
        except MabguiError as exc:
            self._set_status(error_html(str(exc), exc.hint), error=True)
            return
        self.overview = ov
        self.model.set_overview(ov)
        self.tree.expandAll()
        if self._select_next and self.model.builder_row(self._select_next) is not None:
            self.select(self._select_next)  # the builder just created
            selected, self._select_next = self.selected_builder(), ""
        if selected is None or self.model.builder_row(selected.name) is None:
            current = ov.current
            if current is not None:
                self.tree.setCurrentIndex(self.model.builder_index(current.name))
        names = ", ".join(b.name for b in ov.builders if b.current) or "none"
        status = f"{len(ov.builders)} builder(s) · current: {names}"
        if ov.facts is not None and ov.facts.context:
            status += f" · context {ov.facts.context}"
        if ov.facts is not None and ov.facts.buildx_version:
            status += f" · buildx {ov.facts.buildx_version}"
        if ov.daemon_error:
            status += f" · {ov.daemon_error}"
        self._set_status(status + f" · updated {time.strftime('%H:%M:%S')}")
        self._update_buttons()
        self._show_details()

    # --- selection and details ------------------------------------------------------------------
    def selected_builder(self) -> Builder | None:
        index = self.tree.currentIndex()
        return self.model.builder_of(index) if index.isValid() else None

    def selected_node(self) -> Node | None:
        index = self.tree.currentIndex()
        obj = index.data(ObjectRole) if index.isValid() else None
        return obj if isinstance(obj, Node) else None

    def select(self, name: str) -> None:
        self.tree.setCurrentIndex(self.model.builder_index(name))

    def _selection_changed(self, _sel: QItemSelection, _desel: QItemSelection) -> None:
        builder = self.selected_builder()
        if self.details_builder is not None and (
            builder is None or builder.name != self.details_builder.name
        ):
            self.details_builder = None
            self.disk_usage = None
        self._update_buttons()
        self._show_details()

    def _update_buttons(self) -> None:
        b = self.selected_builder()
        busy = self.tasks.running("action")
        ok = b is not None and not busy and not b.error
        docker = b is not None and b.driver == "docker"
        self.use_act.setEnabled(ok and b is not None and not b.current)
        self.bootstrap_act.setEnabled(ok and not docker)
        self.stop_act.setEnabled(ok and not docker)
        self.remove_act.setEnabled(b is not None and not busy and not docker)
        self.inspect_act.setEnabled(b is not None and not busy)
        why = {
            self.bootstrap_act: "The docker driver's BuildKit is part of dockerd: always running.",
            self.stop_act: "The docker driver's BuildKit is part of dockerd: always running.",
            self.remove_act: "A docker-driver builder belongs to its docker context: "
            "`docker context rm` removes it.",
        }
        for action, tip in self._tips.items():
            action.setToolTip(why[action] if docker else tip)
        self.cancel_act.setVisible(busy)

    def _show_details(self) -> None:
        b = self.selected_builder()
        if b is None or self.overview is None:
            self.details.clear()
            return
        self.details.setHtml(self.details_html(b))

    def details_html(self, b: Builder) -> str:
        """The details pane for ``b``: notes first, then each node with what inspect knows."""
        ov = self.overview
        assert ov is not None
        return builder_html(ov, b, self.details_builder, self.disk_usage)

    def _anchor_clicked(self, url: QUrl) -> None:
        action = url.toString().removeprefix("mabgui:")
        handlers: dict[str, Callable[[], object]] = {
            "inspect": self.inspect_selected,
            "du": self.disk_usage_selected,
            "bootstrap": self.bootstrap_selected,
            "restart": self.restart_selected,
            "new-builder": self.new_builder,
            "remove": self.remove_selected,
            "pin-native": self.pin_native_selected,
        }
        handler = handlers.get(action)
        if handler is not None:
            handler()

    # --- actions --------------------------------------------------------------------------------
    def _run_action(self, label: str, coro: Awaitable[Any], refresh: bool = True) -> None:
        self._action_name = label
        self._set_status(f"{label}…")
        self.activity.appendPlainText(f"— {label}")
        self.tasks.start("action", self._action(label, coro, refresh))
        self._update_buttons()

    async def _action(self, label: str, coro: Awaitable[Any], refresh: bool) -> None:
        try:
            await coro
        except buildx.BuildxError as exc:
            self.activity.appendPlainText(str(exc) + (f"\nhint: {exc.hint}" if exc.hint else ""))
            self._set_status(error_html(f"{label} failed: {exc}", exc.hint), error=True)
            self._after_action(refresh, keep_status=True)
            return
        self._set_status(f"{label}: done")
        self._after_action(refresh)

    def _after_action(self, refresh: bool, keep_status: bool = False) -> None:
        # Called from inside the "action" task: it still counts as running until it returns.
        QTimer.singleShot(0, self._update_buttons)
        if refresh:
            status = self.status.text() if keep_status else None
            error = keep_status
            self.tasks.start("refresh", self._refresh_keeping(status, error))

    async def _refresh_keeping(self, status: str | None, error: bool) -> None:
        await self._refresh()
        if status is not None:
            self._set_status(status, error=error)

    def cancel_action(self) -> None:
        if self.tasks.running("action"):
            self.tasks.cancel("action")
            self.activity.appendPlainText("cancelled: buildx was stopped")
            status = f"{self._action_name}: cancelled (buildx was stopped)"
            self._set_status(status)
            QTimer.singleShot(0, self._update_buttons)
            self.tasks.start("refresh", self._refresh_keeping(status, False))

    def use_selected(self) -> None:
        b = self.selected_builder()
        if b is not None:
            self._run_action(f"Use {b.name}", buildx.use(b.name))

    def bootstrap_selected(self) -> None:
        b = self.selected_builder()
        if b is not None:
            self._run_action(
                f"Bootstrap {b.name}",
                buildx.bootstrap(b.name, progress=self.activity.appendPlainText),
            )

    def restart_selected(self) -> None:
        b = self.selected_builder()
        if b is None:
            return

        self._run_action(
            f"Restart {b.name}",
            buildx.restart(b.name, driver=b.driver, progress=self.activity.appendPlainText),
        )

    def pin_native_selected(self) -> None:
        """Re-pin each node of the selected builder to the platform it runs natively, so buildx
        sends every platform to the node that runs it without QEMU (docker/buildx#366)."""
        b = self.selected_builder()
        if b is None:
            return
        from mabgui.core.buildx import routing

        self._run_action(
            f"Pin {b.name}'s nodes to their native platforms",
            routing.pin_native(b.name, progress=self.activity.appendPlainText),
        )

    def stop_selected(self) -> None:
        b = self.selected_builder()
        if b is not None:
            self._run_action(f"Stop {b.name}", buildx.stop(b.name))

    def remove_selected(self) -> None:
        """Ask first (with "keep the BuildKit state"), then ``docker buildx rm``."""
        b = self.selected_builder()
        if b is None or b.name == "default":
            return
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Remove builder")
        box.setText(f"Remove the builder {b.name!r} and its {len(b.nodes)} node(s)?")
        box.setInformativeText(
            "Its BuildKit containers are removed; the build cache too unless you keep it."
        )
        keep = QCheckBox("Keep the BuildKit state (build cache)")
        box.setCheckBox(keep)
        box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.button(QMessageBox.StandardButton.Yes).setText("Remove")
        name = b.name

        def finished(result: int) -> None:
            self.confirm = None
            if result == QMessageBox.StandardButton.Yes:
                self._run_action(
                    f"Remove {name}", self._remove(name, keep.isChecked()), refresh=True
                )
            box.deleteLater()

        box.finished.connect(finished)
        self.confirm = box
        box.open()

    async def _remove(self, name: str, keep_state: bool) -> None:
        report = await buildx.remove([name], keep_state=keep_state)
        if report:
            self.activity.appendPlainText(report)

    def inspect_selected(self) -> None:
        b = self.selected_builder()
        if b is not None:
            self.tasks.start("inspect", self._inspect(b.name))

    async def _inspect(self, name: str) -> None:
        try:
            details = await buildx.inspect(name)
        except buildx.BuildxError as exc:
            self._set_status(error_html(f"Inspect {name} failed: {exc}", exc.hint), error=True)
            return
        current = self.selected_builder()
        if current is not None and current.name == name:
            self.details_builder = details
            self._show_details()

    def disk_usage_selected(self) -> None:
        b = self.selected_builder()
        if b is not None:
            self.tasks.start("du", self._disk_usage(b.name))

    async def _disk_usage(self, name: str) -> None:
        # A BuildxError goes to the task manager: _task_failed shows its message and hint.
        self.disk_usage = await buildx.disk_usage(name)
        self._show_details()

    def new_builder(self) -> NewBuilderDialog:
        """Open the New multi-arch builder dialog (non-blocking); refresh when it created one."""
        if self.dialog is not None:
            self.dialog.raise_()
            return self.dialog
        taken = {b.name for b in self.model.builders()}
        name, i = "multiarch", 1
        while name in taken:
            i += 1
            name = f"multiarch-{i}"
        dialog = NewBuilderDialog(self, suggested_name=name)
        dialog.created.connect(self.refresh_and_select)
        dialog.build_requested.connect(self.build_requested)
        dialog.finished.connect(lambda _r: self._dialog_closed(dialog))
        self.dialog = dialog
        dialog.load_contexts()
        dialog.open()
        return dialog

    def _dialog_closed(self, dialog: NewBuilderDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None
        dialog.deleteLater()

    # --- status ---------------------------------------------------------------------------------
    def _set_status(self, text: str, error: bool = False) -> None:
        """Plain text, or (``error``) the rich text of :func:`.details.error_html` in red."""
        self.status.setTextFormat(Qt.TextFormat.RichText if error else Qt.TextFormat.PlainText)
        self.status.setText(text)
        self.status.setStyleSheet("color: #c53030;" if error else "")

    def _task_failed(self, failure: TaskFailure) -> None:
        self._set_status(error_html(failure.message, failure.hint), error=True)
        QTimer.singleShot(0, self._update_buttons)

"""The main window: navigation between the four areas, the engine status and the diagnosis."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from html import escape
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, QSize, QUrl, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QStackedWidget,
    QStyle,
    QVBoxLayout,
    QWidget,
)

import mabgui
from mabgui import APP_NAME
from mabgui.core import log
from mabgui.ui import settings as saved
from mabgui.ui import tasks
from mabgui.ui.engine_status import EngineStatus
from mabgui.ui.resources import app_icon
from mabgui.ui.tasks import TaskFailure, TaskManager

if TYPE_CHECKING:
    from mabgui.core import doctor
    from mabgui.core.platform import Platform
    from mabgui.ui.views.manifests.view import ManifestsView

AREAS = ("Builders", "Emulators", "Builds", "Manifests")
# Each area's view is created (and its module imported) when it first shows: the window
# appears without the plotting, registry and progress code of areas nobody has opened yet.
_AREA_CLASSES = {
    "Builders": ("mabgui.ui.views.builders.view", "BuildersView"),
    "Emulators": ("mabgui.ui.views.emulators.view", "EmulatorsView"),
    "Builds": ("mabgui.ui.views.builds.view", "BuildsView"),
    "Manifests": ("mabgui.ui.views.manifests.view", "ManifestsView"),
}
_AREA_ICONS = {
    "Builders": QStyle.StandardPixmap.SP_ComputerIcon,
    "Emulators": QStyle.StandardPixmap.SP_DriveHDIcon,
    "Builds": QStyle.StandardPixmap.SP_MediaPlay,
    "Manifests": QStyle.StandardPixmap.SP_FileDialogDetailedView,
}


class DiagnosisBanner(QFrame):
    """What is missing for multi-platform builds, shown above the areas until it is fixed."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("diagnosisBanner")
        self.setStyleSheet(
            "#diagnosisBanner { background: #fff5f5; border: 1px solid #feb2b2;"
            " border-radius: 6px; }"
        )
        layout = QHBoxLayout(self)
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.dismiss = QPushButton("Dismiss")
        self.dismiss.clicked.connect(self.hide)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.dismiss)
        self._layout = layout
        self._polished = False
        self.hide()

    def show_diagnosis(self, diagnosis: doctor.Diagnosis) -> None:
        from mabgui.core import doctor

        # The window is open: the X11 libraries check is for `mabgui doctor` and the CLI.
        problems = [
            c
            for c in diagnosis.checks
            if c.status is not doctor.Status.OK and c.id != "display-libraries"
        ]
        if not problems:
            self.hide()
            return
        title = (
            "Multi-platform builds cannot run yet"
            if not diagnosis.multiplatform_ready
            else "Multi-platform builds can run, with warnings"
        )
        items = "".join(
            f"<li><b>{c.title}</b>: {escape(c.detail, quote=False)}"
            + (f"<br><i>Fix:</i> <code>{escape(c.fix, quote=False)}</code>" if c.fix else "")
            + "</li>"
            for c in problems
        )
        self.text.setText(f"<b>{title}</b><ul style='margin:2px'>{items}</ul>")
        if not self._polished:
            # Here, not at start-up: Qt's namespace costs ~13 ms to load, before the first paint.
            from PySide6.QtCore import Qt

            self._polished = True
            self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self._layout.setAlignment(self.dismiss, Qt.AlignmentFlag.AlignTop)
        self.show()


class AreaViews(Mapping[str, QWidget]):
    """The areas' views by name; looking one up creates it in its place in the stack."""

    def __init__(self, window: MainWindow) -> None:
        self._window = window
        self._views: dict[str, QWidget] = {}
        self._placeholders: dict[str, QWidget] = {}

    def add_placeholder(self, name: str) -> QWidget:
        placeholder = QWidget()
        self._placeholders[name] = placeholder
        return placeholder

    def created(self) -> dict[str, QWidget]:
        """The views created so far (the others were never shown)."""
        return dict(self._views)

    def __getitem__(self, name: str) -> QWidget:
        view = self._views.get(name)
        if view is not None:
            return view
        module_name, class_name = _AREA_CLASSES[name]
        view = getattr(importlib.import_module(module_name), class_name)()
        assert isinstance(view, QWidget)
        self._views[name] = view
        self._window.area_created(name, view, self._placeholders.pop(name))
        return view

    def __iter__(self) -> Iterator[str]:
        return iter(AREAS)

    def __len__(self) -> int:
        return len(AREAS)


class MainWindow(QMainWindow):
    """Builders, Emulators, Builds and Manifests behind a navigation list.

    Signals:
        closed: the window was closed (the app then shuts its work down and quits).
    """

    closed = Signal()

    def __init__(self, settings: QSettings | None = None, *, defer_area: bool = False) -> None:
        """``defer_area``: the area shown first is created by :meth:`create_current_area`
        (the app calls it after the window's first paint, so the frame shows at once)."""
        super().__init__()
        self._defer_area = defer_area
        self.settings = settings or QSettings()
        self.tasks = TaskManager(self, on_failure=self._task_failed)
        self.diagnosis: doctor.Diagnosis | None = None
        self._native: Platform | None = None  # the engine's platform, once diagnosed
        self.setWindowTitle("mabgui — multi-arch builds")
        self.setWindowIcon(app_icon())

        self.nav = QListWidget()
        self.nav.setObjectName("navigation")
        self.nav.setIconSize(QSize(22, 22))
        self.nav.setFixedWidth(140)
        self.stack = QStackedWidget()
        self.views = AreaViews(self)
        for name in AREAS:
            item = QListWidgetItem(self.style().standardIcon(_AREA_ICONS[name]), name)
            item.setSizeHint(QSize(130, 36))
            self.nav.addItem(item)
            self.stack.addWidget(self.views.add_placeholder(name))
        self.nav.currentRowChanged.connect(self.show_area)

        self.banner = DiagnosisBanner()
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(6, 6, 6, 6)
        right_layout.addWidget(self.banner)
        right_layout.addWidget(self.stack, 1)
        central = QWidget()
        central_layout = QHBoxLayout(central)
        central_layout.setContentsMargins(0, 0, 0, 0)
        central_layout.setSpacing(0)
        central_layout.addWidget(self.nav)
        central_layout.addWidget(right, 1)
        self.setCentralWidget(central)

        self.engine_status = EngineStatus()
        self.engine_status.retry_requested.connect(self.check_engine)
        self.statusBar().addPermanentWidget(self.engine_status)
        # The menu titles now; their actions (shortcuts load Qt's key enums, ~20 ms) with the
        # first area when start-up defers it.
        self.file_menu = self.menuBar().addMenu("&File")
        self.view_menu = self.menuBar().addMenu("&View")
        self.help_menu = self.menuBar().addMenu("&Help")
        self._menus_filled = False
        if not defer_area:
            self._build_menus()
        self._restore_geometry()
        self.nav.setCurrentRow(saved.read_int(self.settings, "window/area", 0) % len(AREAS))

    def show_area(self, row: int) -> None:
        """Show the area at ``row`` of the navigation, creating its view the first time."""
        if not 0 <= row < len(AREAS):
            return
        if self._defer_area:
            self.stack.setCurrentIndex(row)  # its placeholder, until create_current_area
            return
        self.stack.setCurrentWidget(self.views[AREAS[row]])

    def create_current_area(self) -> None:
        """End the deferral: create and show the area the navigation points at."""
        self._defer_area = False
        self._build_menus()
        self.show_area(self.nav.currentRow())

    def area_created(self, name: str, view: QWidget, placeholder: QWidget) -> None:
        """Put a newly created area view where its placeholder was, and wire it."""
        index = self.stack.indexOf(placeholder)
        current = self.stack.currentIndex() == index
        self.stack.insertWidget(index, view)
        self.stack.removeWidget(placeholder)
        placeholder.deleteLater()
        if current:
            self.stack.setCurrentWidget(view)
        if name == "Builds":
            view.inspect_requested.connect(self.inspect_image)  # type: ignore[attr-defined]
        elif name == "Builders":
            view.build_requested.connect(self.build_with)  # type: ignore[attr-defined]
        elif name == "Emulators" and self._native is not None:
            view.set_native_platform(self._native)  # type: ignore[attr-defined]

    # --- menus ------------------------------------------------------------------------------
    def _build_menus(self) -> None:
        if self._menus_filled:
            return
        self._menus_filled = True
        file_menu = self.file_menu
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)

        view_menu = self.view_menu
        for i, name in enumerate(AREAS):
            action = QAction(name, self)
            action.setShortcut(QKeySequence(f"Ctrl+{i + 1}"))
            action.triggered.connect(lambda _=False, row=i: self.nav.setCurrentRow(row))
            view_menu.addAction(action)
        view_menu.addSeparator()
        recheck = QAction("Check the &engine again", self)
        recheck.setShortcut(QKeySequence.StandardKey.Refresh)
        recheck.triggered.connect(self.check_engine)
        view_menu.addAction(recheck)

        help_menu = self.help_menu
        self.show_log_action = QAction("Show &log folder", self)
        self.show_log_action.setToolTip(str(log.log_dir()))
        self.show_log_action.triggered.connect(self.show_log_folder)
        help_menu.addAction(self.show_log_action)
        about = QAction("&About mabgui", self)
        about.triggered.connect(self.show_about)
        help_menu.addAction(about)

    def about_text(self) -> str:
        return (
            f"<h3>{APP_NAME} {mabgui.__version__}</h3>"
            "<p>Build and inspect multi-architecture container images: buildx builders, "
            "QEMU emulators in binfmt_misc, multi-platform builds with live progress per "
            "architecture, and registry manifests as a per-platform digest tree.</p>"
            "<p>Every feature also works headless: <code>mabgui --help</code>.</p>"
        )

    def show_about(self) -> None:
        QMessageBox.about(self, f"About {APP_NAME}", self.about_text())

    def show_log_folder(self) -> bool:
        """Open the log folder (commands run, task failures with tracebacks) in the file manager."""
        folder = log.log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def build_with(self, builder: str) -> None:
        """Open the Builds area's form with ``builder`` chosen (after the New builder dialog)."""
        self.nav.setCurrentRow(AREAS.index("Builds"))
        self.views["Builds"].form.choose_builder(builder)  # type: ignore[attr-defined]

    def inspect_image(self, reference: str) -> None:
        """Show ``reference`` (e.g. a build's pushed result) in the Manifests area."""
        self.nav.setCurrentRow(AREAS.index("Manifests"))
        manifests: ManifestsView = self.views["Manifests"]  # type: ignore[assignment]
        manifests.open_reference(reference)

    # --- engine -------------------------------------------------------------------------------
    def check_engine(self) -> None:
        """Diagnose the engine in the background; the window stays usable meanwhile."""
        self.engine_status.show_checking()
        self.tasks.start("doctor", self._check_engine())

    async def _check_engine(self) -> None:
        from mabgui.core import doctor  # imported after the first paint

        diagnosis = await doctor.diagnose()
        self.diagnosis = diagnosis
        self.engine_status.show_diagnosis(diagnosis)
        self.banner.show_diagnosis(diagnosis)
        daemon = diagnosis.check("daemon")
        if daemon is not None and daemon.data.get("architecture"):
            # the engine's native platform, from its `docker info` (the Emulators area needs it)
            os_type = daemon.data.get("os_type") or "linux"
            from mabgui.core.platform import Platform

            self._native = Platform.try_parse(f"{os_type}/{daemon.data['architecture']}")
            emulators = self.views.created().get("Emulators")
            if emulators is not None:
                emulators.set_native_platform(self._native)  # type: ignore[attr-defined]

    def _task_failed(self, failure: TaskFailure) -> None:
        self.engine_status.show_error(failure.text)

    # --- geometry -----------------------------------------------------------------------------
    def _restore_geometry(self) -> None:
        geometry = saved.read_bytes(self.settings, "window/geometry")
        if geometry is None or not self.restoreGeometry(geometry):
            self.resize(1200, 760)
        state = saved.read_bytes(self.settings, "window/state")
        if state is not None:
            self.restoreState(state)

    def save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.setValue("window/area", self.nav.currentRow())
        self.settings.sync()

    def task_managers(self) -> list[TaskManager]:
        """The task managers of the window and of every view, panel and dialog under it."""
        return tasks.managers_under(self)

    task_runners = task_managers  # the former name

    async def shutdown(self, timeout: float = tasks.SHUTDOWN_BOUND_S) -> bool:
        """Cancel every refresh, action and build in flight; wait at most ``timeout`` seconds.

        Builds and buildx calls stop their process groups when cancelled, so nothing outlives
        the window; a task that ignores its cancellation is left behind (and logged) rather than
        holding the close. Returns whether everything ended in time.
        """
        stubborn = await tasks.shutdown(self.task_managers(), timeout)
        return not stubborn

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_settings()
        for manager in self.task_managers():
            manager.cancel_all()
        super().closeEvent(event)
        self.closed.emit()

"""The Emulators area's header: where binfmt_misc is changed (this host's kernel or the Docker
daemon's) and, for the daemon, the two images it runs; both remembered in the settings."""

from __future__ import annotations

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from mabgui.core.binfmt import Backend, BinfmtError
from mabgui.core.binfmt import backend as binfmt_backend
from mabgui.core.binfmt.daemon import DEFAULT_INSTALLER_IMAGE, DEFAULT_SHELL_IMAGE, DaemonBinfmt
from mabgui.ui import settings as saved

_BACKENDS = (
    ("auto", "Automatic"),
    ("local", "This host's kernel"),
    ("daemon", "Docker daemon (privileged containers)"),
)


class Header(QWidget):
    """Title, the backend choice and the daemon's images. ``backend`` is the current backend;
    ``changed`` says a new one is in place (True: the handlers must be read again)."""

    changed = Signal(bool)

    def __init__(
        self, settings: QSettings, fixed: Backend | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self._fixed = fixed
        self.backend: Backend = fixed or self.make_backend()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.addWidget(QLabel("<b>Emulators</b> — QEMU user emulators in binfmt_misc"))
        top.addStretch(1)
        top.addWidget(QLabel("Where:"))
        self.backend_box = QComboBox()
        for key, text in _BACKENDS:
            self.backend_box.addItem(text, key)
        current = saved.read_str(self.settings, "emulators/backend", "auto")
        self.backend_box.setCurrentIndex(max(0, self.backend_box.findData(current)))
        self.backend_box.setEnabled(fixed is None)
        self.backend_box.currentIndexChanged.connect(self._backend_changed)
        top.addWidget(self.backend_box)
        layout.addLayout(top)

        self.images = QWidget()
        images = QHBoxLayout(self.images)
        images.setContentsMargins(0, 0, 0, 0)
        self.shell_image = QLineEdit(self._setting("shell_image", DEFAULT_SHELL_IMAGE))
        self.shell_image.setToolTip("An image with a POSIX shell, run --privileged to read and "
                                    "toggle handlers")  # fmt: skip
        self.installer_image = QLineEdit(self._setting("installer_image", DEFAULT_INSTALLER_IMAGE))
        self.installer_image.setToolTip("Run --privileged with --install/--uninstall ARCHS")
        if isinstance(self.backend, DaemonBinfmt):
            self.shell_image.setText(self.backend.shell_image)
            self.installer_image.setText(self.backend.installer_image)
            self.shell_image.setReadOnly(fixed is not None)
            self.installer_image.setReadOnly(fixed is not None)
        images.addWidget(QLabel("Helper image:"))
        images.addWidget(self.shell_image, 1)
        images.addWidget(QLabel("Installer image:"))
        images.addWidget(self.installer_image, 1)
        self.shell_image.editingFinished.connect(self._images_changed)
        self.installer_image.editingFinished.connect(self._images_changed)
        layout.addWidget(self.images)
        self._update_images_visibility()

    def _setting(self, key: str, default: str) -> str:
        return saved.read_str(self.settings, f"emulators/{key}", default)

    def make_backend(self) -> Backend:
        """The backend the settings name; the daemon's when "local" cannot work here."""
        kind = self._setting("backend", "auto")
        if kind not in binfmt_backend.BACKEND_KINDS:
            kind = "auto"
        try:
            return binfmt_backend.make_backend(
                kind,  # type: ignore[arg-type]
                shell_image=self._setting("shell_image", DEFAULT_SHELL_IMAGE),
                installer_image=self._setting("installer_image", DEFAULT_INSTALLER_IMAGE),
            )
        except BinfmtError:
            return binfmt_backend.make_backend("daemon")

    def _backend_changed(self) -> None:
        self.settings.setValue("emulators/backend", self.backend_box.currentData())
        self.backend = self.make_backend()
        self._update_images_visibility()
        self.changed.emit(True)

    def _images_changed(self) -> None:
        self.settings.setValue("emulators/shell_image", self.shell_image.text().strip())
        self.settings.setValue("emulators/installer_image", self.installer_image.text().strip())
        if self._fixed is None:
            self.backend = self.make_backend()
            self.changed.emit(False)

    def _update_images_visibility(self) -> None:
        self.images.setVisible(self.backend.kind == "daemon")

"""The "Install emulators for…" dialog: one checkbox per platform QEMU can emulate."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from mabgui.core.binfmt import INSTALLABLE_PLATFORMS, BinfmtState
from mabgui.core.platform import Platform


class InstallDialog(QDialog):
    """Pick platforms; those an enabled handler already serves (or the native one) are shown
    checked or greyed out and cannot be picked again.

    ``native`` is the platform of the engine's daemon (from `docker info`), not of the machine
    mabgui runs on; when it is not known yet, no platform is marked native.
    """

    def __init__(
        self,
        state: BinfmtState | None,
        where: str,
        parent: QWidget | None = None,
        native: Platform | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Install emulators")
        layout = QVBoxLayout(self)
        intro = QLabel(f"Register QEMU user emulators in binfmt_misc of {where} for:")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        grid = QGridLayout()
        self.boxes: dict[Platform, QCheckBox] = {}
        for i, text in enumerate(INSTALLABLE_PLATFORMS):
            platform = Platform.parse(text)
            box = QCheckBox(text)
            served = [
                h.name
                for h in (state.handlers if state else [])
                if platform in h.platforms and h.enabled
            ]
            if native is not None and platform.family == native.family:
                box.setEnabled(False)
                box.setText(f"{text} (native)")
            elif served:
                box.setChecked(True)
                box.setEnabled(False)
                box.setText(f"{text} (installed: {', '.join(served)})")
            box.toggled.connect(self._update_ok)
            self.boxes[platform] = box
            grid.addWidget(box, i // 2, i % 2)
        layout.addLayout(grid)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText("Install…")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self._update_ok()

    def selected(self) -> list[Platform]:
        return [p for p, box in self.boxes.items() if box.isEnabled() and box.isChecked()]

    def _update_ok(self) -> None:
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(bool(self.selected()))

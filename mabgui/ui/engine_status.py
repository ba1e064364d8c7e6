"""The status-bar widget that shows which engine mabgui talks to, or why it cannot."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

if TYPE_CHECKING:  # the diagnosis module loads after the first paint
    from mabgui.core import doctor


class EngineStatus(QWidget):
    """Docker context, server and buildx versions, or "Docker is not reachable: …" with Retry.

    Signals:
        retry_requested: the user pressed Retry.
    """

    retry_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel("Checking the Docker engine…")
        self.retry = QPushButton("Retry")
        self.retry.setVisible(False)
        self.retry.clicked.connect(self.retry_requested)
        layout.addWidget(self.label)
        layout.addWidget(self.retry)

    def show_checking(self) -> None:
        self.label.setText("Checking the Docker engine…")
        self.label.setStyleSheet("")
        self.retry.setVisible(False)

    def show_diagnosis(self, diagnosis: doctor.Diagnosis) -> None:
        from mabgui.core import doctor

        daemon = diagnosis.check("daemon")
        buildx = diagnosis.check("buildx")
        if daemon is None or daemon.status is doctor.Status.FAIL:
            detail = daemon.detail if daemon else "unknown error"
            if not detail.startswith("Docker is not reachable"):
                detail = f"Docker is not reachable: {detail}"
            self.label.setText(detail)
            self.label.setToolTip(daemon.fix if daemon else "")
            self.label.setStyleSheet("color: #c53030; font-weight: bold;")
            self.retry.setVisible(True)
            return
        data = daemon.data
        parts = [
            f"context {data.get('context')}",
            f"Docker {data.get('server_version')} "
            f"({data.get('os_type')}/{data.get('architecture')})",
        ]
        if buildx is not None and buildx.status is doctor.Status.OK:
            parts.append(f"buildx {buildx.data.get('version')}")
        else:
            parts.append("buildx missing")
        self.label.setText(" · ".join(parts))
        self.label.setToolTip(data.get("endpoint", ""))
        self.label.setStyleSheet("")
        self.retry.setVisible(buildx is None or buildx.status is not doctor.Status.OK)

    def show_error(self, message: str) -> None:
        self.label.setText(f"Docker is not reachable: {message}")
        self.label.setStyleSheet("color: #c53030; font-weight: bold;")
        self.retry.setVisible(True)

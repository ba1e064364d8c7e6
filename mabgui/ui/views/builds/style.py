"""Colours, state icons and duration formatting shared by the Builds widgets."""

from __future__ import annotations

import html

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPen, QPixmap, QPolygonF

from mabgui.core.platform import Platform
from mabgui.core.progress import StepState

STATE_COLORS: dict[StepState, str] = {
    StepState.QUEUED: "#a0aec0",
    StepState.RUNNING: "#dd6b20",
    StepState.CACHED: "#718096",
    StepState.DONE: "#38a169",
    StepState.ERROR: "#e53e3e",
    StepState.CANCELED: "#b7b7b7",
}

STATE_TEXT: dict[StepState, str] = {
    StepState.QUEUED: "queued",
    StepState.RUNNING: "running",
    StepState.CACHED: "cached",
    StepState.DONE: "done",
    StepState.ERROR: "failed",
    StepState.CANCELED: "canceled",
}

# Lane colours, in platform order (the log's platform marker uses the same).
LANE_COLORS = ("#3182ce", "#805ad5", "#d69e2e", "#319795", "#d53f8c", "#2f855a", "#9c4221")
SHARED_COLOR = "#4a5568"
STDERR_COLOR = "#c05621"
ERROR_BG = "#fff5f5"
ERROR_BORDER = "#e53e3e"

_icons: dict[str, QIcon] = {}


def lane_color(index: int) -> str:
    return LANE_COLORS[index % len(LANE_COLORS)]


def _pixmap(size: int = 14) -> QPixmap:
    pixmap = QPixmap(size, size)
    pixmap.fill(Qt.GlobalColor.transparent)
    return pixmap


def state_icon(state: StepState) -> QIcon:
    """A small drawn icon: ✓ done, ● running, ✕ failed, ○ queued, ≡ cached, – canceled."""
    key = f"state:{state}"
    icon = _icons.get(key)
    if icon is not None:
        return icon
    pixmap = _pixmap()
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    color = QColor(STATE_COLORS[state])
    rect = QRectF(1.5, 1.5, 11, 11)
    if state is StepState.QUEUED:
        painter.setPen(QPen(color, 1.5))
        painter.drawEllipse(rect)
    else:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QBrush(color))
        painter.drawEllipse(rect)
        white = QPen(QColor("white"), 1.8)
        white.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setPen(white)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        if state is StepState.DONE:
            painter.drawPolyline(QPolygonF([QPointF(4, 7.2), QPointF(6.2, 9.5), QPointF(10, 4.8)]))
        elif state is StepState.ERROR:
            painter.drawLine(QPointF(4.5, 4.5), QPointF(9.5, 9.5))
            painter.drawLine(QPointF(9.5, 4.5), QPointF(4.5, 9.5))
        elif state is StepState.CACHED:
            for y in (5.0, 7.0, 9.0):
                painter.drawLine(QPointF(4.5, y), QPointF(9.5, y))
        elif state is StepState.CANCELED:
            painter.drawLine(QPointF(4.5, 7), QPointF(9.5, 7))
        elif state is StepState.RUNNING:
            painter.setBrush(QBrush(QColor("white")))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.drawEllipse(QRectF(5, 5, 4, 4))
    painter.end()
    icon = QIcon(pixmap)
    _icons[key] = icon
    return icon


def color_icon(color: str) -> QIcon:
    """A filled square (platform markers in the log and the filters)."""
    key = f"color:{color}"
    icon = _icons.get(key)
    if icon is None:
        pixmap = _pixmap(10)
        pixmap.fill(QColor(color))
        icon = QIcon(pixmap)
        _icons[key] = icon
    return icon


def short_platform(platform: Platform | None) -> str:
    """``arm64``, ``arm/v7``; ``shared`` for steps of no platform."""
    if platform is None:
        return "shared"
    text = str(platform)
    return text[len("linux/") :] if text.startswith("linux/") else text


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 0.05:
        return "0.0s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{rest:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def escape(text: str) -> str:
    """``text`` for Qt rich text content: :func:`html.escape` leaving quotes as typed (an
    attribute value needs ``html.escape(value)``, which quotes them)."""
    return html.escape(text, quote=False)

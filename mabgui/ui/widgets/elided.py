"""A one-line label that elides its text to the width it gets and then shows it in a tooltip.

A QLabel either wraps or is cut at its edge without a mark; this one never is: the cut shows an
ellipsis (where ``mode`` says) and the tooltip holds the full text.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget


class ElidedLabel(QLabel):
    """Plain text, elided to fit; ``full_text()`` is what was set."""

    def __init__(
        self,
        text: str = "",
        parent: QWidget | None = None,
        mode: Qt.TextElideMode = Qt.TextElideMode.ElideMiddle,
        min_chars: int = 8,
    ) -> None:
        super().__init__(parent)
        self._full = ""
        self._mode = mode
        self._min_chars = min_chars
        self._own_tip = ""
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setText(text)

    def setText(self, text: str) -> None:
        if text == self._full and super().text():
            return
        self._full = text
        self._elide()

    def full_text(self) -> str:
        return self._full

    def set_tooltip_extra(self, tip: str) -> None:
        """A tooltip of its own (shown whether or not the text is cut)."""
        self._own_tip = tip
        self._elide()

    def is_elided(self) -> bool:
        return super().text() != self._full

    def minimumSizeHint(self) -> QSize:
        metrics = self.fontMetrics()
        width = metrics.horizontalAdvance("M" * min(self._min_chars, len(self._full) or 1))
        return QSize(width, super().minimumSizeHint().height())

    def sizeHint(self) -> QSize:
        metrics = self.fontMetrics()
        margins = self.contentsMargins()
        width = metrics.horizontalAdvance(self._full) + margins.left() + margins.right() + 2
        return QSize(width, super().sizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        margins = self.contentsMargins()
        width = max(0, self.width() - margins.left() - margins.right())
        shown = self.fontMetrics().elidedText(self._full, self._mode, width)
        QLabel.setText(self, shown)
        tips = [t for t in (self._full if shown != self._full else "", self._own_tip) if t]
        self.setToolTip("\n".join(tips))

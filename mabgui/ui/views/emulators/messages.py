"""The Emulators area's texts under the buttons: a summary of the state, one message (info,
warning or error, with the command to run by hand) and the warnings about handlers/builders."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from mabgui.core.binfmt import BinfmtError

_STYLES = {
    "error": "background:#fff5f5; border:1px solid #feb2b2; border-radius:4px; padding:6px;",
    "warn": "background:#fffaf0; border:1px solid #fbd38d; border-radius:4px; padding:6px;",
    "info": "background:#f0f7ff; border:1px solid #bee3f8; border-radius:4px; padding:6px;",
}


def detach(exc: BaseException) -> None:
    """Drop the tracebacks of a caught exception: their frames reference the view, and asyncio
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


def _label(style: str = "") -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    if style:
        label.setStyleSheet(style)
    return label


class Messages(QWidget):
    """``summary`` (always shown), ``message`` (the last outcome) and ``warnings``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.summary = _label()
        self.summary.setText("Not read yet.")
        self.message = _label()
        self.message.hide()
        self.warnings = _label(_STYLES["warn"])
        self.warnings.hide()
        for label in (self.summary, self.message, self.warnings):
            layout.addWidget(label)

    def show_message(self, kind: str, text: str) -> None:
        """Show rich ``text`` (already escaped) styled as ``error``, ``warn`` or ``info``."""
        self.message.setStyleSheet(_STYLES[kind])
        self.message.setText(text)
        self.message.show()

    def show_error(self, exc: BinfmtError) -> None:
        """The error, what to do, and the command to run by hand in a block of its own."""
        detach(exc)
        text = f"<b>{html.escape(str(exc))}</b>"
        if exc.advice:
            text += f"<br>{html.escape(exc.advice)}"
        if exc.command:
            command = html.escape(exc.command)
            text += f"<br>To do it by hand, run:<pre style='margin:4px'>{command}</pre>"
        self.show_message("error", text)

    def show_warnings(self, lines: list[tuple[str, str]]) -> None:
        """Plain-text warnings, one a line, each ``(subject, text)`` with the subject (when
        there is one) in bold; hidden when there is none."""
        self.warnings.setText(
            "<br>".join(
                (f"<b>{html.escape(subject)}</b>: " if subject else "") + html.escape(text)
                for subject, text in lines
            )
        )
        self.warnings.setVisible(bool(lines))

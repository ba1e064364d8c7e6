"""Walk every visible label, button, tab and header of a window: what is cut, what overlaps.

A text may be shortened only with an ellipsis and a tooltip holding it; a button is never
narrower than its text; two visible sibling widgets never overlap. Widgets clipped by a scroll
area (scrolled out of sight) are not judged: they are reachable by scrolling.
"""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractScrollArea,
    QCheckBox,
    QComboBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QTabBar,
    QWidget,
)

ELLIPSIS = "…"
_SLACK = 2  # px of rounding between a text's advance and the room a style gives it


def _name(widget: QWidget) -> str:
    text = ""
    if isinstance(widget, QLabel | QAbstractButton):
        text = widget.text()
    text = text.replace("\n", " ")
    if len(text) > 50:
        text = text[:47] + "..."
    name = widget.objectName() or type(widget).__name__
    parent = widget.parentWidget()
    where = type(parent).__name__ if parent is not None else ""
    return f"{name} {text!r} in {where}"


def _on_screen(widget: QWidget) -> bool:
    if not widget.isVisible() or widget.width() <= 1 or widget.height() <= 1:
        return False
    return not widget.visibleRegion().isEmpty()


def _clipped(widget: QWidget) -> str | None:
    """A widget cut at its right edge by an ancestor that cannot scroll sideways to it."""
    if widget.visibleRegion().boundingRect().width() >= widget.width() - _SLACK:
        return None
    parent = widget.parentWidget()
    while parent is not None:
        if isinstance(parent, QAbstractScrollArea):
            policy = parent.horizontalScrollBarPolicy()
            if (
                policy != Qt.ScrollBarPolicy.ScrollBarAlwaysOff
                and parent.horizontalScrollBar().maximum() > 0
            ):
                return None  # scrolling sideways reaches the rest
            break
        parent = parent.parentWidget()
    if isinstance(widget, QAbstractScrollArea | QTabBar | QHeaderView):
        return None  # they scroll (or elide) their own contents
    if not isinstance(widget, _LEAVES):
        return None
    return f"cut at its right edge with no way to scroll to it: {_name(widget)}"


def _combo_problem(combo: QComboBox) -> str | None:
    if combo.isEditable():
        return None
    text = combo.currentText()
    if not text:
        return None
    room = combo.width() - 34  # frame, margins and the arrow
    if combo.itemIcon(combo.currentIndex()).isNull() is False:
        room -= combo.iconSize().width() + 4
    need = combo.fontMetrics().horizontalAdvance(text)
    if need > room + _SLACK and not combo.toolTip():
        return f"combo box text cut ({need} > {room} px) without tooltip: {text!r}"
    return None


def _plain(label: QLabel) -> str:
    text = label.text()
    if label.buddy() is not None:  # "&Platform": the & marks the shortcut, it is not drawn
        text = text.replace("&&", "\0").replace("&", "").replace("\0", "&")
    if label.textFormat() == Qt.TextFormat.PlainText:
        return text
    if label.textFormat() == Qt.TextFormat.RichText or ("<" in text and ">" in text):
        doc = QTextDocument()
        doc.setHtml(text)
        return doc.toPlainText()
    return text


def _label_problem(label: QLabel) -> str | None:
    text = _plain(label)
    if not text.strip() or not label.pixmap().isNull():
        return None
    room = label.contentsRect().width() - 2 * label.margin() - label.indent()
    if label.wordWrap():
        need = label.heightForWidth(label.width())
        if need > label.height() + _SLACK and not label.toolTip():
            return f"wrapped label cut vertically ({need} > {label.height()} px): {_name(label)}"
        return None
    metrics = label.fontMetrics()
    lines = text.split("\n")
    need = max(metrics.horizontalAdvance(line) for line in lines)
    if need <= room + _SLACK:
        return None
    if ELLIPSIS in text and label.toolTip():
        return None  # elided on purpose, the full text in the tooltip
    return f"label cut without an ellipsis and tooltip ({need} > {room} px): {_name(label)}"


def _button_problem(button: QAbstractButton) -> str | None:
    if not button.text() or isinstance(button, QTabBar):
        return None
    hint = button.sizeHint().width()
    if isinstance(button, QCheckBox):
        hint = button.minimumSizeHint().width()
    if button.width() + _SLACK < hint:
        return f"button narrower than its text ({button.width()} < {hint} px): {_name(button)}"
    return None


def _tab_problems(bar: QTabBar) -> list[str]:
    found = []
    for i in range(bar.count()):
        rect = bar.tabRect(i)
        if rect.isEmpty() or not bar.rect().intersects(rect):
            continue  # scrolled out of the bar (its scroll buttons reach it)
        need = bar.tabSizeHint(i).width()
        if rect.width() + _SLACK < need and not bar.tabToolTip(i):
            found.append(f"tab {bar.tabText(i)!r} cut ({rect.width()} < {need} px) without tooltip")
    return found


def _header_problems(header: QHeaderView) -> list[str]:
    model = header.model()
    if model is None or header.isHidden():
        return []
    found = []
    metrics = header.fontMetrics()
    viewport = header.viewport().rect() if header.viewport() is not None else header.rect()
    orientation = header.orientation()
    for section in range(header.count()):
        if header.isSectionHidden(section):
            continue
        position = header.sectionViewportPosition(section)
        size = header.sectionSize(section)
        if orientation == Qt.Orientation.Horizontal:
            visible = position < viewport.right() and position + size > 0
        else:
            continue
        text = str(model.headerData(section, orientation) or "")
        if not text or not visible:
            continue
        if position + size > viewport.right() + _SLACK + 1:
            scroller = header.parentWidget()
            scrolls = isinstance(scroller, QAbstractScrollArea) and (
                scroller.horizontalScrollBar().maximum() > 0
            )
            if not scrolls:
                found.append(f"header {text!r} runs off its view without a scroll bar")
                continue
        need = metrics.horizontalAdvance(text) + 8
        if size + _SLACK < need:
            tip = model.headerData(section, orientation, Qt.ItemDataRole.ToolTipRole)
            if not tip:
                found.append(f"header {text!r} cut ({size} < {need} px) without tooltip")
    return found


_LEAVES = (QLabel, QAbstractButton, QLineEdit, QComboBox, QAbstractItemView)


def _overlaps(parent: QWidget) -> list[str]:
    children = [
        c
        for c in parent.findChildren(QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly)
        if isinstance(c, _LEAVES) and c.isVisible() and not c.isWindow()
    ]
    found = []
    for i, a in enumerate(children):
        for b in children[i + 1 :]:
            shared: QRect = a.geometry().intersected(b.geometry())
            if shared.width() > 2 and shared.height() > 2:
                found.append(f"{_name(a)} overlaps {_name(b)} ({shared.width()}×{shared.height()})")
    return found


def problems(window: QWidget) -> list[str]:
    """Every cut text and overlap among the visible widgets of ``window``."""
    found: list[str] = []
    for widget in [window, *window.findChildren(QWidget)]:
        if not _on_screen(widget):
            continue
        clipped = _clipped(widget)
        if clipped:
            found.append(clipped)
            continue
        if isinstance(widget, QComboBox):
            problem = _combo_problem(widget)
            if problem:
                found.append(problem)
        if isinstance(widget, QLabel):
            problem = _label_problem(widget)
            if problem:
                found.append(problem)
        elif isinstance(widget, QTabBar):
            found += _tab_problems(widget)
        elif isinstance(widget, QAbstractButton):
            problem = _button_problem(widget)
            if problem:
                found.append(problem)
        elif isinstance(widget, QHeaderView):
            found += _header_problems(widget)
        found += _overlaps(widget)
    return found

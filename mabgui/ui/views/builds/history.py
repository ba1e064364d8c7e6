"""Past builds (the core's history in the user data dir): reopen one, reuse its spec, delete."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from mabgui.core.build import history
from mabgui.core.progress import StepState
from mabgui.ui.models.table import Column, ObjectRole, RowsTableModel
from mabgui.ui.tasks import TaskFailure, TaskManager
from mabgui.ui.views.builds.style import STATE_COLORS, escape, format_duration, state_icon

_Index = QModelIndex | QPersistentModelIndex


def entry_state(entry: history.HistoryEntry) -> StepState:
    if entry.ok:
        return StepState.DONE
    return StepState.CANCELED if entry.canceled else StepState.ERROR


def entry_image(entry: history.HistoryEntry) -> str:
    tags = entry.spec.get("tags") or []
    context = str(entry.spec.get("context") or "")
    return ", ".join(str(t) for t in tags) if tags else context


def _result_text(entry: history.HistoryEntry) -> str:
    if entry.ok:
        return "succeeded"
    return "canceled" if entry.canceled else "failed"


def _platforms_text(entry: history.HistoryEntry) -> str:
    return ", ".join(p[len("linux/") :] if p.startswith("linux/") else p for p in entry.platforms)


def _tooltip(entry: history.HistoryEntry) -> str:
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry.started))
    lines = [f"build {escape(entry.id)}, started {started}"]
    lines += [f"{escape(p)}: {escape(s)}" for p, s in entry.platforms.items()]
    if entry.digest:
        lines.append(escape(entry.digest))
    if entry.error:
        lines.append(f"<span style='color:#c53030'>{escape(entry.error[:300])}</span>")
    return "<br>".join(lines)


_COLUMNS: tuple[Column[history.HistoryEntry], ...] = (
    Column(
        "Started",
        lambda e: time.strftime("%m-%d %H:%M", time.localtime(e.started)),  # the year: tooltip
        tooltip=_tooltip,
        sort_key=lambda e: e.started,
    ),
    Column(
        "Result",
        _result_text,
        tooltip=_tooltip,
        decoration=lambda e: state_icon(entry_state(e)),
        foreground=lambda e: QColor(STATE_COLORS[entry_state(e)]),
    ),
    Column("Platforms", _platforms_text, tooltip=_tooltip),
    Column(
        "Duration",
        lambda e: format_duration(e.duration_s),
        tooltip=_tooltip,
        sort_key=lambda e: e.duration_s or 0.0,
    ),
    Column("Image / context", entry_image, tooltip=_tooltip),
)


class HistoryModel(RowsTableModel[history.HistoryEntry]):
    """Saved builds, newest first."""

    COL_WHEN = 0
    COL_RESULT = 1
    COL_PLATFORMS = 2
    COL_DURATION = 3
    COL_IMAGE = 4
    HEADERS = tuple(c.header for c in _COLUMNS)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(_COLUMNS, parent)

    @property
    def entries(self) -> list[history.HistoryEntry]:
        return self.rows()

    def set_entries(self, entries: list[history.HistoryEntry]) -> None:
        self.set_rows(entries)


class HistoryPanel(QWidget):
    """The history list with Reopen / Use this spec / Delete.

    Signals:
        reopen_requested(object): show this ``HistoryEntry`` as it ran.
        respec_requested(object): copy this entry's spec into the form.
    """

    reopen_requested = Signal(object)
    respec_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tasks = TaskManager(self, on_failure=self._task_failed)
        self.model = HistoryModel(self)
        self.view = QTreeView()
        self.view.setModel(self.model)
        self.view.setRootIsDecorated(False)
        self.view.setUniformRowHeights(True)
        self.view.setAlternatingRowColors(True)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        # Every column stays on screen in the narrow side panel: the short ones fit their
        # contents, platforms and image share the rest (elided; the tooltip has it all).
        header = self.view.header()
        header.setStretchLastSection(False)
        header.setMinimumSectionSize(40)
        for col in (HistoryModel.COL_WHEN, HistoryModel.COL_RESULT, HistoryModel.COL_DURATION):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        for col in (HistoryModel.COL_PLATFORMS, HistoryModel.COL_IMAGE):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Stretch)
        self.view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.view.doubleClicked.connect(lambda _i: self._reopen())
        self.view.selectionModel().selectionChanged.connect(lambda *_a: self._selection())
        self.reopen_button = QPushButton("Reopen")
        self.reopen_button.setToolTip("Show this build's lanes, log and timeline as it ran")
        self.reopen_button.clicked.connect(self._reopen)
        self.respec_button = QPushButton("Use spec")
        self.respec_button.setToolTip("Copy this build's spec into the form")
        self.respec_button.clicked.connect(self._respec)
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(self._delete)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color:#718096;")
        buttons = QHBoxLayout()
        for button in (self.reopen_button, self.respec_button, self.delete_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.view, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        self._selection()

    def refresh(self) -> None:
        self.tasks.start("refresh", self._refresh())

    async def _refresh(self) -> None:
        try:
            entries = await asyncio.to_thread(history.list_entries)
        except (OSError, history.HistoryError) as exc:
            self.status.setText(f"Cannot read the build history: {exc}")
            return
        self.model.set_entries(entries)
        if entries:
            self.status.setText(f"{len(entries)} saved builds in {history.history_dir()}")
        else:
            self.status.setText("No build yet: every build you start is saved here.")
        if entries:
            self.view.setCurrentIndex(self.model.index(0, 0))
        self._selection()

    def selected(self) -> history.HistoryEntry | None:
        index = self.view.currentIndex()
        if not index.isValid():
            return None
        entry = self.model.data(self.model.index(index.row(), 0), ObjectRole)
        return entry if isinstance(entry, history.HistoryEntry) else None

    def _selection(self) -> None:
        has = self.selected() is not None
        for button in (self.reopen_button, self.respec_button, self.delete_button):
            button.setEnabled(has)

    def _reopen(self) -> None:
        entry = self.selected()
        if entry is not None:
            self.reopen_requested.emit(entry)

    def _respec(self) -> None:
        entry = self.selected()
        if entry is not None:
            self.respec_requested.emit(entry)

    def _delete(self) -> None:
        entry = self.selected()
        if entry is not None:
            self.tasks.start("delete", self._delete_entry(entry))

    async def _delete_entry(self, entry: history.HistoryEntry) -> None:
        await asyncio.to_thread(history.delete, entry)
        await self._refresh()

    def _task_failed(self, failure: TaskFailure) -> None:
        self.status.setText(failure.text)

"""Every build the builder ran: BuildKit's records merged with mabgui's, in the Builds area.

The list appears from ``history ls`` alone (fast), then platforms fill in from ``history
inspect`` (cached on disk). Opening a record replays ``history logs --progress rawjson`` into
the Builds view's own lanes (``progress_ready``); the Details tab shows ``history inspect``
(a click on a base image emits ``image_requested`` for Manifests). Export / delete (with
confirmation) / compare / open a ``.dockerbuild`` bundle. With a buildx older than v0.20 the
list holds mabgui's own builds and the note says why.

The loaders are constructor arguments (defaulting to the core's adapters) so GUI tests can
feed recorded records; the engine tests use the real ones.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTabWidget,
    QTextBrowser,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from mabgui.core.build import bkhistory, bundle
from mabgui.core.build import bkhistory_parse as P
from mabgui.core.progress import BuildProgress
from mabgui.ui.tasks import TaskFailure, TaskManager
from mabgui.ui.views.builds.bkcompare_view import CompareDialog, TrendDialog
from mabgui.ui.views.builds.bkhistory_model import BkHistoryModel, details_html
from mabgui.ui.views.builds.style import escape

# (all builders, pages of `history ls`: 1 = the newest 50, None = all) → records, no platforms
Lister = Callable[[bool, int | None], Awaitable[bkhistory.Listing]]
Filler = Callable[[list[P.Record]], Awaitable[list[P.Record]]]  # the same, with platforms
Shower = Callable[[P.Record], Awaitable[tuple[BuildProgress, P.Details | None]]]


async def _default_lister(all_builders: bool, pages: int | None) -> bkhistory.Listing:
    return await bkhistory.merged(all_builders=all_builders, details=False, pages=pages)


async def _default_shower(record: P.Record) -> tuple[BuildProgress, P.Details | None]:
    from mabgui.core.build import history

    if record.source == "mabgui":
        progress = await asyncio.to_thread(history.load, record.mabgui_id)
        return progress, None
    return await bkhistory.show(record.ref)


class BkHistoryPanel(QWidget):
    """The merged history list, its Details tab and its actions.

    Signals:
        progress_ready(object, str): a record's replayed :class:`BuildProgress` and a title.
        image_requested(str): a base image (``name@sha256:…``) clicked in the materials.
    """

    progress_ready = Signal(object, str)
    image_requested = Signal(str)
    loaded = Signal()

    REFRESH_MS = 15_000  # while visible: builds run elsewhere show up

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        lister: Lister = _default_lister,
        shower: Shower = _default_shower,
        filler: Filler = bkhistory.fill_platforms,
    ) -> None:
        super().__init__(parent)
        self.lister = lister
        self.shower = shower
        self.filler = filler
        # Asked before deleting; tests replace it.
        self.confirm: Callable[[str], bool] = self._ask
        self.tasks = TaskManager(self, on_failure=self._task_failed)
        self.model = BkHistoryModel(self)
        self.view = QTreeView()
        self.view.setModel(self.model)
        self.view.setRootIsDecorated(False)
        self.view.setUniformRowHeights(True)
        self.view.setAlternatingRowColors(True)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.view.doubleClicked.connect(lambda _i: self.open_selected())
        self.view.selectionModel().selectionChanged.connect(lambda *_a: self._selection())

        self.all_builders = QCheckBox("All builders")
        self.all_builders.toggled.connect(lambda _on: self.refresh())
        self.open_button = QPushButton("Open")
        self.open_button.setToolTip("Show this build's lanes, log and timeline (history logs)")
        self.open_button.clicked.connect(self.open_selected)
        self.compare_button = QPushButton("Compare")
        self.compare_button.setToolTip("Select two builds of the same name")
        self.compare_button.clicked.connect(self.compare_selected)
        self.trend_button = QPushButton("Trend")
        self.trend_button.setToolTip("Duration per platform over the last builds of this name")
        self.trend_button.clicked.connect(self.trend_selected)
        self.export_button = QPushButton("Export…")
        self.export_button.clicked.connect(self._choose_export)
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(self.delete_selected)
        self.bundle_button = QPushButton("Open .dockerbuild…")
        self.bundle_button.clicked.connect(self._choose_bundle)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color:#975a16;")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color:#718096;")
        self.details = QTextBrowser()
        self.details.setOpenLinks(False)
        self.details.anchorClicked.connect(self._link)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.details, "Details")

        top = QHBoxLayout()
        for w in (
            self.open_button,
            self.compare_button,
            self.trend_button,
            self.export_button,
            self.delete_button,
        ):
            top.addWidget(w)
        top.addStretch(1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.all_builders)
        bottom.addWidget(self.bundle_button)
        bottom.addStretch(1)
        bottom.addWidget(self.refresh_button)
        upper = QWidget()
        ul = QVBoxLayout(upper)
        ul.setContentsMargins(0, 0, 0, 0)
        ul.addWidget(self.note)
        ul.addWidget(self.view, 1)
        ul.addLayout(top)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(upper)
        split.addWidget(self.tabs)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(split, 1)
        layout.addLayout(bottom)
        layout.addWidget(self.status)
        self.timer = QTimer(self)
        self.timer.setInterval(self.REFRESH_MS)
        self.timer.timeout.connect(self._auto_refresh)
        self._selection()

    # --- listing --------------------------------------------------------------------------
    def refresh(self) -> None:
        self.tasks.start("refresh", self._refresh())

    def _auto_refresh(self) -> None:
        if self.isVisible() and not self.tasks.running("refresh"):
            self.poll()

    def poll(self) -> asyncio.Task[Any]:
        """Merge the newest page in (what the timer does while the panel is shown)."""
        return self.tasks.start("refresh", self._poll())

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self.timer.start()

    def hideEvent(self, event: Any) -> None:
        super().hideEvent(event)
        self.timer.stop()

    async def _refresh(self) -> None:
        """The newest 50 at once, then every page, then platforms chunk by chunk."""
        all_builders = self.all_builders.isChecked()
        self._show_listing(await self.lister(all_builders, 1))
        self._show_listing(await self.lister(all_builders, None))
        await self._fill()
        self.loaded.emit()

    async def _poll(self) -> None:
        """Every few seconds while shown: the newest page, merged in (builds run elsewhere)."""
        listing = await self.lister(self.all_builders.isChecked(), 1)
        rows = self.model.rows()
        index = {r.ref: i for i, r in enumerate(rows)}
        fresh = []
        for rec in listing.records:
            i = index.get(rec.ref)
            if i is None:
                fresh.append(rec)
            elif rows[i].status != rec.status:  # a running build finished
                rows[i] = replace(rec, platforms=rows[i].platforms)
        merged = sorted(fresh + rows, key=lambda r: r.started or 0.0, reverse=True)
        self.model.set_records(merged)
        self._selection()
        await self._fill()

    async def _fill(self, chunk: int = 20) -> None:
        """Platforms (``history inspect``, cached on disk) for the rows without them."""
        missing = [
            r for r in self.model.row_objects() if r.source == "buildkit" and not r.platforms
        ]
        for start in range(0, len(missing), chunk):
            filled = {r.ref: r for r in await self.filler(missing[start : start + chunk])}
            for row, rec in enumerate(self.model.row_objects()):
                new = filled.get(rec.ref)
                if new is not None and new.platforms != rec.platforms:
                    self.model.replace_row(row, new)

    def _show_listing(self, listing: bkhistory.Listing) -> None:
        self.model.set_records(listing.records)
        self.note.setText(listing.note)
        self.note.setVisible(bool(listing.note))
        count = len(listing.records)
        self.status.setText(f"{count} build{'s' if count != 1 else ''}")
        self._selection()

    # --- selection ------------------------------------------------------------------------
    def selected(self) -> list[P.Record]:
        rows = sorted({i.row() for i in self.view.selectionModel().selectedRows()})
        objects = self.model.row_objects()
        return [objects[r] for r in rows if 0 <= r < len(objects)]

    def select_refs(self, refs: Sequence[str]) -> None:
        """Select the rows of ``refs`` (tests and the compare shortcut)."""
        sel = self.view.selectionModel()
        sel.clearSelection()
        from PySide6.QtCore import QItemSelectionModel

        for row, rec in enumerate(self.model.row_objects()):
            if rec.ref in refs:
                sel.select(
                    self.model.index(row, 0),
                    QItemSelectionModel.SelectionFlag.Select
                    | QItemSelectionModel.SelectionFlag.Rows,
                )
        self._selection()

    def _selection(self) -> None:
        chosen = self.selected()
        bk = [r for r in chosen if r.source == "buildkit"]
        self.open_button.setEnabled(len(chosen) == 1)
        self.compare_button.setEnabled(len(chosen) == 2)
        self.trend_button.setEnabled(len(chosen) == 1)
        self.export_button.setEnabled(bool(bk) and len(bk) == len(chosen))
        self.delete_button.setEnabled(bool(chosen))

    # --- open / details -------------------------------------------------------------------
    def open_selected(self) -> None:
        chosen = self.selected()
        if len(chosen) == 1:
            self.tasks.start("open", self._open(chosen[0]))

    async def _open(self, record: P.Record) -> None:
        self.status.setText(f"Opening {record.name}…")
        progress, details = await self.shower(record)
        self.details.setHtml(details_html(record, details, progress))
        self.tabs.setCurrentWidget(self.details)
        when = (
            time.strftime("%Y-%m-%d %H:%M", time.localtime(record.started))
            if record.started
            else ""
        )
        self.progress_ready.emit(
            progress, f"{escape(record.source)} build of {when} · <b>{escape(record.name)}</b>"
        )
        self.status.setText(f"Opened {record.name}")

    def _link(self, url: QUrl) -> None:
        text = url.toString()
        if text.startswith("image:"):
            self.image_requested.emit(text[len("image:") :])

    # --- export / delete / bundles ----------------------------------------------------------
    def _choose_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export build records", "builds.dockerbuild", "Build bundles (*.dockerbuild)"
        )
        if path:
            self.export_to(path)

    def export_to(self, path: str) -> asyncio.Task[Any]:
        refs = [r.ref for r in self.selected() if r.source == "buildkit"]
        return self.tasks.start("export", self._export(refs, path))

    async def _export(self, refs: list[str], path: str) -> None:
        await bkhistory.export(refs, path)
        self.status.setText(f"Exported {len(refs)} record(s) to {path}")

    def _ask(self, text: str) -> bool:
        answer = QMessageBox.question(self, "Delete build records", text)
        return answer == QMessageBox.StandardButton.Yes

    def delete_selected(self) -> asyncio.Task[Any] | None:
        chosen = self.selected()
        if not chosen:
            return None
        names = ", ".join(r.name for r in chosen[:5]) + (" …" if len(chosen) > 5 else "")
        if not self.confirm(
            f"Delete {len(chosen)} build record(s)? ({names})\nThis cannot be undone."
        ):
            return None
        return self.tasks.start("delete", self._delete(chosen))

    async def _delete(self, records: list[P.Record]) -> None:
        from mabgui.core.build import history

        for r in records:
            if r.mabgui_id:
                await asyncio.to_thread(history.delete, r.mabgui_id)
        refs = [r.ref for r in records if r.source == "buildkit"]
        if refs:
            await bkhistory.remove(refs)
        await self._refresh()

    def _choose_bundle(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open a build bundle", "", "Build bundles (*.dockerbuild);;All files (*)"
        )
        if path:
            self.open_bundle(path)

    def open_bundle(self, path: str) -> asyncio.Task[Any]:
        return self.tasks.start("open", self._open_bundle(path))

    async def _open_bundle(self, path: str) -> None:
        records = await asyncio.to_thread(bundle.open_bundle, path)
        rec = records[0]
        ok = rec.progress.result is not None and rec.progress.result.ok
        status = "completed" if ok else "failed"
        fake = P.Record(ref=rec.ref, name=rec.name, status=status, builder="", source="bundle")
        self.details.setHtml(details_html(fake, rec.details(), rec.progress))
        self.progress_ready.emit(rec.progress, f"bundle · <b>{escape(rec.name or rec.ref)}</b>")
        self.status.setText(f"Opened {path} ({len(records)} record(s))")

    # --- compare --------------------------------------------------------------------------
    def compare_selected(self) -> asyncio.Task[Any] | None:
        chosen = self.selected()
        if len(chosen) != 2:
            return None
        return self.tasks.start("compare", self._compare(chosen))

    async def _compare(self, chosen: list[P.Record]) -> None:
        older, newer = sorted(chosen, key=lambda r: r.started or 0.0)
        (pa, _da), (pb, _db) = await asyncio.gather(self.shower(older), self.shower(newer))
        dialog = CompareDialog(older, newer, pa, pb, self)
        self.compare_dialog = dialog
        dialog.show()

    TREND_BUILDS = 10

    def trend_selected(self) -> asyncio.Task[Any] | None:
        chosen = self.selected()
        if len(chosen) != 1:
            return None
        same = [r for r in self.model.row_objects() if r.name == chosen[0].name]
        return self.tasks.start("compare", self._trend(chosen[0].name, same[: self.TREND_BUILDS]))

    async def _trend(self, name: str, records: list[P.Record]) -> None:
        from mabgui.core.build import bkcompare

        self.status.setText(f"Loading the last {len(records)} builds of {name}…")
        loaded = await asyncio.gather(*(self.shower(r) for r in records))
        builds = [(r.ref, r.started, p) for r, (p, _d) in zip(records, loaded, strict=True)]
        dialog = TrendDialog(name, bkcompare.trend(builds), self)
        self.trend_dialog = dialog
        dialog.show()
        self.status.setText(f"Trend of {len(records)} builds of {name}")

    def _task_failed(self, failure: TaskFailure) -> None:
        self.status.setText(failure.text)

"""The "All builds" list model (merged build records) and the Details tab's HTML."""

from __future__ import annotations

import time
from collections.abc import Sequence
from html import escape as html_escape
from typing import Any

from PySide6.QtGui import QColor

from mabgui.core.build import bkhistory_parse as P
from mabgui.core.progress import BuildProgress, StepState
from mabgui.ui.models.table import RIGHT, Column, RowsTableModel
from mabgui.ui.views.builds.style import STATE_COLORS, escape, format_duration, state_icon

_STATE = {
    "completed": StepState.DONE,
    "failed": StepState.ERROR,
    "canceled": StepState.CANCELED,
    "running": StepState.RUNNING,
}


def _state(r: P.Record) -> StepState:
    return _STATE.get(r.status, StepState.QUEUED)


def _platforms(r: P.Record) -> str:
    return ", ".join(p.removeprefix("linux/") for p in r.platforms)


def _steps(r: P.Record) -> str:
    if r.steps is None:
        return ""
    return f"{r.steps} ({r.cached_steps or 0} cached)"


def _tooltip(r: P.Record) -> str:
    lines = [escape(r.ref)]
    if r.mabgui_id:
        lines.append(f"started by mabgui (build {escape(r.mabgui_id)})")
    if r.error:
        lines.append(f"<span style='color:#c53030'>{escape(r.error[:300])}</span>")
    return "<br>".join(lines)


_COLUMNS: tuple[Column[P.Record], ...] = (
    Column(
        "Started",
        lambda r: (
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.started)) if r.started else ""
        ),
        tooltip=_tooltip,
        sort_key=lambda r: r.started or 0.0,
    ),
    Column(
        "Status",
        lambda r: r.status,
        tooltip=_tooltip,
        decoration=lambda r: state_icon(_state(r)),
        foreground=lambda r: QColor(STATE_COLORS[_state(r)]),
    ),
    Column("Name", lambda r: r.name, tooltip=_tooltip),
    Column("Platforms", _platforms, tooltip=_tooltip),
    Column(
        "Duration",
        lambda r: format_duration(r.duration_s),
        sort_key=lambda r: r.duration_s or 0.0,
        alignment=RIGHT,
    ),
    Column("Steps", _steps, sort_key=lambda r: r.steps or 0, alignment=RIGHT),
    Column(
        "Source",
        lambda r: "mabgui" if r.source == "mabgui" or r.mabgui_id else "buildkit",
        tooltip=lambda r: (
            "started by mabgui"
            if r.mabgui_id or r.source == "mabgui"
            else "started by another client (CLI, bake, …)"
        ),
    ),
    Column("Builder", lambda r: r.builder),
)


class BkHistoryModel(RowsTableModel[P.Record]):
    """Merged build records, newest first."""

    HEADERS = tuple(c.header for c in _COLUMNS)

    def __init__(self, parent: Any = None) -> None:
        super().__init__(_COLUMNS, parent)

    def set_records(self, records: Sequence[P.Record]) -> None:
        self.update_rows(records, lambda a, b: a.ref == b.ref)


def details_html(
    record: P.Record, details: P.Details | None, progress: BuildProgress | None
) -> str:
    """The Details tab: context, Dockerfile, args, platforms, materials (links), attachments,
    the error with its step."""
    rows: list[tuple[str, str]] = [("Name", escape(record.name)), ("Ref", escape(record.ref))]
    if details is not None:
        rows += [
            ("Context", escape(details.context)),
            ("Dockerfile", escape(details.dockerfile)),
            ("Target", escape(details.target or "(default)")),
            ("Platforms", escape(", ".join(details.platforms))),
            ("Steps", f"{details.steps}/{details.total_steps} ({details.cached_steps} cached)"),
        ]
        for key, value in details.build_args.items():
            rows.append((f"ARG {escape(key)}", escape(value)))
    html = ["<table cellspacing='4'>"]
    html += [f"<tr><td><b>{k}</b></td><td>{v}</td></tr>" for k, v in rows]
    html.append("</table>")
    if details is not None and details.materials:
        html.append("<h4>Materials</h4><ul>")
        for m in details.materials:
            label = escape(m.image or m.uri)
            if m.image:
                html.append(
                    f"<li><a href='image:{html_escape(m.image)}'>{label}</a> "
                    f"<small>{escape(m.platform)}</small></li>"
                )
            else:
                html.append(f"<li>{label}</li>")
        html.append("</ul>")
    if details is not None and details.attachments:
        html.append("<h4>Attachments</h4><ul>")
        for a in details.attachments:
            html.append(
                f"<li>{escape(a['platform'] or 'index')}: {escape(a['type'])}<br>"
                f"<small>{escape(a['digest'])}</small></li>"
            )
        html.append("</ul>")
    error = (details.error if details else "") or record.error
    if error or (progress is not None and progress.failed_steps):
        html.append("<h4 style='color:#c53030'>Error</h4>")
        if progress is not None:
            for p, lane in progress.lanes.items():
                step = lane.failed_step
                if step is not None and step.state is StepState.ERROR:
                    html.append(f"<p><b>{escape(str(p))}</b> at {escape(step.label)}</p>")
        html.append(f"<p style='white-space:pre-wrap'><code>{escape(error[:2000])}</code></p>")
    return "".join(html)

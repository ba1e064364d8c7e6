"""The Builders details pane as HTML: a builder's notes, its nodes, inspect's details.

Pure functions of the core's :class:`~mabgui.core.overview.Overview` and ``buildx`` records,
so the pane's text can be read and tested without the view. Links (``mabgui:ACTION``) are
handled by the view.
"""

from __future__ import annotations

from html import escape

from mabgui.core.buildx import Builder, DiskUsage, Node
from mabgui.core.overview import Note, Overview
from mabgui.ui.models.builders import KIND_WORDS, STATUS_COLORS
from mabgui.ui.views.builders.chips import chip_label

NOTE_COLORS = {"error": "#c53030", "warning": "#b7791f", "info": "#3b6fd8"}
ACTION_WORDS = {
    "bootstrap": "Bootstrap",
    "restart": "Stop and bootstrap",
    "new-builder": "New multi-arch builder…",
    "remove": "Remove…",
    "pin-native": "Pin each node to its native platform",
}


def builder_html(
    ov: Overview, b: Builder, inspected: Builder | None, disk_usage: DiskUsage | None
) -> str:
    """The details pane for ``b``: notes first, then each node with what inspect knows.

    ``inspected``: ``buildx inspect``'s fuller view (used only when it is ``b``'s);
    ``disk_usage``: the build-cache usage last asked for (shown only when it is ``b``'s).
    """
    if inspected is not None and inspected.name != b.name:
        inspected = None
    color = STATUS_COLORS.get(b.status, "#2d3748")
    parts = [
        f"<h3 style='margin:0'>{escape(b.name)}{' (current)' if b.current else ''}</h3>",
        f"<p>driver <b>{escape(b.driver or '?')}</b> · status "
        f"<b style='color:{color}'>{escape(b.status or '?')}</b>"
        + (f" · last activity {escape(b.last_activity)}" if b.last_activity else "")
        + "</p>",
    ]
    for note in ov.notes(b):
        parts.append(note_html(note))
    for node in b.nodes:
        parts.append(node_html(ov, node, inspected.node(node.name) if inspected else None))
    if inspected is None:
        parts.append("<p><a href='mabgui:inspect'>Inspect</a> for driver options, flags, "
                     "labels and the GC policy.</p>")  # fmt: skip
    if disk_usage is not None and disk_usage.builder == b.name:
        du = disk_usage
        parts.append(
            f"<p><b>Build cache</b>: {du.records} records, {_mb(du.total)} total, "
            f"{_mb(du.reclaimable)} reclaimable, {_mb(du.shared)} shared</p>"
        )
    elif b.status == "running":
        parts.append("<p><a href='mabgui:du'>Show the build-cache disk usage</a></p>")
    return "".join(parts)


def node_html(ov: Overview, node: Node, inspected: Node | None) -> str:
    """One node: endpoint, status, platforms, native platform, and inspect's details."""
    full = inspected or node
    rows = [("Endpoint", escape(node.endpoint) + (f" → {escape(node.host)}" if node.host
             and node.host != node.endpoint else ""))]  # fmt: skip
    color = STATUS_COLORS.get(node.status, "#2d3748")
    rows.append(("Status", f"<span style='color:{color}'>{escape(node.status or '?')}</span>"))
    if node.error:
        rows.append(("Error", f"<span style='color:#c53030'>{escape(node.error)}</span>"))
    if node.buildkit:
        rows.append(("BuildKit", escape(node.buildkit)))
    chips = ov.chips(node)
    if chips:
        rows.append(("Platforms", ", ".join(
            f"<span title='{escape(KIND_WORDS[c.kind])}'>{escape(chip_label(c))}</span>"
            + ("*" if c.pinned else "") for c in chips)))  # fmt: skip
    native = node.native_platform
    if native is not None:
        why = (
            "the daemon's architecture"
            if node.daemon_platform is not None
            else "the first platform its BuildKit reports"
        )
        rows.append(("Native", f"{escape(str(native))} ({why})"))
    opts = full.driver_opts or node.driver_opts
    if opts:
        rows.append(("Driver options", escape(", ".join(f"{k}={v}" for k, v in opts.items()))))
    flags = full.flags or node.flags
    if flags:
        rows.append(("BuildKit flags", f"<code>{escape(' '.join(flags))}</code>"))
    for i, rule in enumerate(full.gc_policy):
        rows.append((f"GC rule #{i}", escape(str(rule))))
    labels = full.labels or node.labels
    if labels:
        rows.append(("Labels", "<br>".join(f"{escape(k)}: {escape(v)}" for k, v in labels.items())))
    body = "".join(
        f"<tr><td style='color:#718096; padding-right:8px' valign='top'>{k}</td><td>{v}</td></tr>"
        for k, v in rows
    )
    return f"<h4 style='margin-bottom:2px'>Node {escape(node.name)}</h4><table>{body}</table>"


def note_html(note: Note) -> str:
    """A note (error, warning, info) as a coloured box, with its one-click action if any."""
    color = NOTE_COLORS.get(note.level, "#2d3748")
    detail = escape(note.detail).replace("\n", "<br>")
    action = (
        f" <a href='mabgui:{note.action}'>{ACTION_WORDS[note.action]}</a>"
        if note.action in ACTION_WORDS
        else ""
    )
    return (
        f"<table width='100%' style='margin:4px 0' cellpadding='4'><tr>"
        f"<td style='background:{color}' width='3'></td><td>"
        f"<b style='color:{color}'>{escape(note.title)}</b><br>{detail}{action}</td></tr></table>"
    )


def error_html(message: str, hint: str) -> str:
    """An error and its hint as rich text (the status line's)."""
    text = escape(message).replace("\n", "<br>")
    return text + (f"<br><i>{escape(hint)}</i>" if hint else "")


def _mb(value: int) -> str:
    return f"{value / 1e6:.1f} MB"

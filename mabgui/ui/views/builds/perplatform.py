"""What a per-platform build ended with, shown on the Builds view (a hook, not a view).

The lanes and the failure banner are the ordinary ones (one lane per platform's build); this
adds which platforms the pushed index holds and how to add a failed one back, and points
"Open in Manifests" at the index even when a platform failed (it was pushed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QListWidgetItem

from mabgui.core.perplatform import PerPlatformResult
from mabgui.ui.views.builds.style import escape

if TYPE_CHECKING:
    from mabgui.ui.views.builds.view import BuildsView


def result_html(result: PerPlatformResult) -> str:
    index = result.index
    failed = [str(o.platform) for o in result.failed]
    if index is None:
        return f"<b>No index was pushed</b>: {escape(result.index_error or 'nothing built')}"
    text = (
        f"<b>Index pushed</b> to {escape(index.reference)} with "
        f"<b>{escape(', '.join(index.platforms))}</b>"
    )
    if failed:
        text += (
            f"; <b>{escape(', '.join(failed))}</b> failed and is not in it. Rebuild it alone"
            f" and append it: <code>mabgui build --per-platform --append --platform"
            f" {escape(failed[0])} -t {escape(result.target)} …</code>"
        )
    return text


def show_result(view: BuildsView, result: PerPlatformResult) -> None:
    """Say plainly which platforms the pushed index holds (banner, messages, result row)."""
    item = QListWidgetItem(result.summary())
    if not result.ok:
        item.setForeground(Qt.GlobalColor.darkYellow)
    view.messages.addItem(item)
    if not result.ok:
        banner = view.error.text() if not view.error.isHidden() else ""
        view.show_error("<br>".join(t for t in (banner, result_html(result)) if t))
    if result.index is not None:
        view.result_ref = f"{result.index.reference}@{result.index.digest}"
        view.result_ref_label.setText(view.result_ref)
        view.inspect_button.setEnabled(True)
        view.inspect_button.setToolTip(f"Open {view.result_ref} in the Manifests view")
        view.result_row.setVisible(True)

"""The run header of the Builds area: what runs, its state, its result, and its error.

The widgets live in :class:`RunHeader`; the texts they show are built by pure functions
(:func:`state_html`, :func:`failure_html`) from the core's progress model, so they can be read
and tested without the view.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mabgui.core.progress import BuildProgress, BuildResult, StepState
from mabgui.ui.views.builds.lanes import shown_state
from mabgui.ui.views.builds.style import (
    ERROR_BG,
    ERROR_BORDER,
    STATE_COLORS,
    STATE_TEXT,
    escape,
    format_duration,
)
from mabgui.ui.widgets.elided import ElidedLabel

# (label, speed): 0 = all at once; else stream seconds per wall second
REPLAY_SPEEDS = (("at once", 0.0), ("real time", 1.0), ("4× speed", 4.0), ("16× speed", 16.0))


class RunHeader(QWidget):
    """Title, state line, replay controls, Cancel and the pushed result row.

    The view connects the buttons and places :attr:`error` (the error box) below the header;
    this widget only lays them out.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.form_button = QToolButton()
        self.form_button.setText("Build form")
        self.form_button.setCheckable(True)
        self.form_button.setChecked(True)
        self.form_button.setShortcut(QKeySequence("Ctrl+Shift+F"))
        self.form_button.setToolTip(
            "Show or hide the build form and history (Ctrl+Shift+F); it folds away while a "
            "build runs so the run gets the width"
        )
        self.form_button.setAccessibleName("Show the build form")
        self.title = ElidedLabel("No build yet", mode=Qt.TextElideMode.ElideRight)
        title_font = self.title.font()
        title_font.setBold(True)
        title_font.setPointSizeF(title_font.pointSizeF() * 1.1)
        self.title.setFont(title_font)
        self.state = QLabel()
        self.state.setTextFormat(Qt.TextFormat.RichText)
        self.state.setWordWrap(True)
        self.state.setMinimumWidth(120)
        self.open_button = QPushButton("Open recording…")
        self.open_button.setToolTip(
            "Show a stream recorded with docker buildx build --progress=rawjson 2> file "
            "(plain or .gz), e.g. from CI, exactly like a live build"
        )
        self.replay_speed = QComboBox()
        self.replay_speed.setToolTip(
            "How fast a recording plays: at once, or paced by its own timestamps"
        )
        self.replay_speed.setAccessibleName("Replay speed")
        for speed_text, speed in REPLAY_SPEEDS:
            self.replay_speed.addItem(speed_text, speed)
        speed_label = QLabel("&Replay")
        speed_label.setBuddy(self.replay_speed)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.setToolTip("Stop the build (Esc)")
        # The result: the pushed reference and digest, to copy or open in Manifests.
        self.result_label = QLabel("Pushed")
        self.result_ref_label = ElidedLabel(mode=Qt.TextElideMode.ElideMiddle)
        self.result_ref_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the pushed reference with its digest")
        self.inspect_button = QPushButton("Open in Manifests")
        self.inspect_button.setEnabled(False)
        self.inspect_button.setToolTip("Open the pushed image in the Manifests view")

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.form_button)
        top.addWidget(self.title, 1)
        top.addWidget(self.cancel_button)
        second = QHBoxLayout()
        second.setContentsMargins(0, 0, 0, 0)
        second.addWidget(self.state, 1)
        second.addWidget(speed_label)
        second.addWidget(self.replay_speed)
        second.addWidget(self.open_button)
        self.result_row = QWidget()
        result_layout = QHBoxLayout(self.result_row)
        result_layout.setContentsMargins(0, 0, 0, 0)
        result_layout.addWidget(self.result_label)
        result_layout.addWidget(self.result_ref_label, 1)
        result_layout.addWidget(self.copy_button)
        result_layout.addWidget(self.inspect_button)
        self.result_row.hide()

        self.error = QLabel()
        self.error.setObjectName("buildError")
        self.error.setWordWrap(True)
        self.error.setTextFormat(Qt.TextFormat.RichText)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.setStyleSheet(
            f"#buildError {{ background:{ERROR_BG}; border:1px solid {ERROR_BORDER};"
            " border-radius:6px; padding:6px; color:#742a2a; }"
        )
        self.error.hide()

        header = QVBoxLayout(self)
        header.setContentsMargins(0, 0, 0, 0)
        header.setSpacing(2)
        header.addLayout(top)
        header.addLayout(second)
        header.addWidget(self.result_row)

    def show_reference(self, reference: str) -> None:
        """Show the pushed reference (empty: nothing pushed, the row hides)."""
        self.inspect_button.setEnabled(bool(reference))
        self.inspect_button.setToolTip(
            f"Open {reference} in the Manifests view"
            if reference
            else "Only a build pushed to a registry can be inspected"
        )
        self.result_ref_label.setText(reference)
        self.result_row.setVisible(bool(reference))


def state_html(progress: BuildProgress, duration: float | None) -> str:
    """The state line: the outcome, its duration, the lanes' counts, the failed platforms."""
    lanes = list(progress.lanes.values())
    failed = [ln for ln in lanes if ln.failed_step is not None]
    finished = [ln for ln in lanes if ln.completed is not None and ln.steps]
    parts = []
    if progress.result is not None:
        result = progress.result
        if result.ok:
            word = f"<b style='color:{STATE_COLORS[StepState.DONE]}'>succeeded</b>"
        elif result.canceled:
            word = f"<b style='color:{STATE_COLORS[StepState.CANCELED]}'>canceled</b>"
        else:
            word = f"<b style='color:{STATE_COLORS[StepState.ERROR]}'>failed</b>"
        parts.append(word)
    elif progress.steps:
        parts.append(f"<b style='color:{STATE_COLORS[StepState.RUNNING]}'>running</b>")
    else:
        parts.append("starting…")
    if duration is not None:
        parts.append(format_duration(duration))
    if lanes and progress.result is not None:
        counts: dict[str, int] = {}
        for lane in lanes:
            word = STATE_TEXT[shown_state(lane, progress.result)]
            counts[word] = counts.get(word, 0) + 1
        parts.append(", ".join(f"{n} {word}" for word, n in counts.items()))
    elif lanes:
        parts.append(f"{len(finished)}/{len(lanes)} platforms finished")
    if failed:
        parts.append("failed: " + ", ".join(escape(str(ln.platform)) for ln in failed))
    parts.append(f"{len(progress.log):,} log lines")
    return " · ".join(parts)


def failure_html(progress: BuildProgress | None, result: BuildResult) -> str:
    """The error box's text for a build that did not succeed: each failed step and why."""
    if result.canceled:
        return "<b>Build canceled.</b>"
    lines = []
    if progress is not None:
        for lane in progress.lanes.values():
            step = lane.failed_step
            if step is not None:
                lines.append(
                    f"<b>{escape(str(lane.platform))}</b> failed at "
                    f"<b>{escape(step.label)}</b>: {escape(step.error)}"
                )
        for step in progress.shared:
            if step.state is StepState.ERROR:
                lines.append(f"<b>{escape(step.label)}</b>: {escape(step.error)}")
    if not lines:
        lines.append(escape(result.error or "the build failed"))
    return "<b>Build failed.</b><br>" + "<br>".join(lines)

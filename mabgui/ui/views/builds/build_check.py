"""What the form says before a build starts: routing warnings and push refusals, each with its
one-click fix.

- A multi-node builder that would build a platform under QEMU while another node runs it
  natively (buildx's rule, docker/buildx#366): a warning while the platforms are picked, and
  "Pin each node to its native platform" (:func:`mabgui.core.buildx.routing.pin_native`).
- A push the chosen builder cannot make (a loopback registry from BuildKit's own network, plain
  HTTP not configured): the build is refused with the reason, and "Recreate builder b with host
  network and 127.0.0.1:5000 over HTTP" (:func:`mabgui.core.preflight_push.recreate_for_push`),
  after a confirmation (the builder's cache goes with it).

The facts come from core (:func:`mabgui.core.preflight_push.plan_build`); nothing is parsed here.

Signals:
    changed(): a fix changed the builders (the form lists them again).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QLabel, QMessageBox, QPushButton, QVBoxLayout, QWidget

from mabgui.core import buildx, preflight, preflight_push
from mabgui.core.build import BuildSpec, OutputKind, Validation
from mabgui.core.buildx import routing
from mabgui.core.platform import Platform
from mabgui.ui.tasks import TaskFailure, TaskManager

_WARN = "color:#975a16;"
_ERROR = "color:#c53030;"


class BuildCheck(QFrame):
    """The routing warning or push refusal of the build in the form (hidden when none)."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tasks = TaskManager(self, on_failure=self._failed)
        self.kind = ""  # "routing", "push" or ""
        self.builder = ""
        self.tags: tuple[str, ...] = ()
        self.confirm: QMessageBox | None = None
        self.plan: preflight_push.BuildPlan | None = None  # of the last build started
        self._fix_text = ""
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.fix_button = QPushButton()
        self.fix_button.clicked.connect(self.fix)
        self.progress = QLabel()
        self.progress.setWordWrap(True)
        self.progress.setStyleSheet("color:#718096;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 4)
        layout.addWidget(self.text)
        layout.addWidget(self.fix_button)
        layout.addWidget(self.progress)
        self.clear()

    # --- what is shown ------------------------------------------------------------------------
    def clear(self) -> None:
        self.kind = ""
        self.text.setText("")
        self.fix_button.hide()
        if not self.fixing():
            self.progress.setText("")
            self.hide()

    def show_routing(
        self, builder: buildx.Builder | None, platforms: Iterable[Platform]
    ) -> list[routing.RoutingProblem]:
        """Warn about the platforms ``builder`` would emulate though a node runs them natively."""
        wanted = list(platforms)
        problems = (
            routing.misrouted(builder, wanted)
            if builder is not None and len(builder.nodes) > 1
            else []
        )
        if self.kind == "push" and builder is not None and builder.name == self.builder:
            return problems  # the refusal stays until the next start (or another builder)
        if not problems:
            self.clear()
            return problems
        assert builder is not None
        items = "".join(f"<li>{escape(p.message)}</li>" for p in problems)
        self._show(
            "routing",
            f"<b>Warning:</b><ul style='margin:2px'>{items}</ul>{escape(problems[0].reason)}",
            _WARN,
        )
        self.builder = builder.name
        if problems[0].unpinned:
            self._offer("Pin each node to its native platform")
        else:
            self.text.setText(self.text.text() + f"<br>Fix: {escape(problems[0].fix)}")
        return problems

    def show_refusal(self, plan: preflight_push.BuildPlan, tags: Sequence[str]) -> None:
        """The push cannot work: say why (briefly: the form lists the reasons) and the fix."""
        name = plan.builder.name if plan.builder is not None else ""
        self._show("push", f"<b>Builder {escape(name)} cannot push there.</b>", _ERROR)
        self.builder = name
        self.tags = tuple(tags)
        if plan.fix:
            self._offer(plan.fix, f"Recreate builder {name}…")
        else:
            fixes = " ".join(p.partition(". Fix: ")[2] for p in plan.push)
            self.text.setText(self.text.text() + f"<br>Fix: {escape(fixes)}")

    def fix_text(self) -> str:
        """The fix offered, in full ('' when none)."""
        return self._fix_text if self.offers_fix() else ""

    def offers_fix(self) -> bool:
        """A one-click fix is offered (its button is shown)."""
        return self.kind != "" and not self.fix_button.isHidden()

    def _show(self, kind: str, html: str, style: str) -> None:
        self.kind = kind
        self.text.setStyleSheet(style)
        self.text.setText(html)
        self.fix_button.hide()
        self.show()

    def _offer(self, label: str, button: str = "") -> None:
        """Offer the fix ``label`` (the button says ``button``, short: the form is narrow)."""
        self._fix_text = label
        if button:
            self.text.setText(self.text.text() + f"<br>Fix: {escape(label)}.")
        self.fix_button.setText(button or label)
        self.fix_button.setToolTip(label)
        self.fix_button.setEnabled(not self.fixing())
        self.fix_button.show()

    # --- before a build -----------------------------------------------------------------------
    async def preflight(self, spec: BuildSpec) -> Validation:
        """The GUI build's checks (``BuildRun(preflight=…)``): :func:`preflight.validate` plus
        the push refusal (shown with its fix); :attr:`plan` then holds each platform's node."""
        self.plan = None
        plan = await preflight_push.plan_build(
            spec.builder, list(spec.platforms), list(spec.tags), spec.output is OutputKind.PUSH
        )
        self.plan = plan
        if plan.push:
            self.show_refusal(plan, spec.tags)
            return Validation(errors=[p.partition(". Fix: ")[0] for p in plan.push])
        self.kind = ""
        self.show_routing(plan.builder, spec.platforms)
        return await preflight.validate(spec)

    # --- the fix ------------------------------------------------------------------------------
    def fixing(self) -> bool:
        return self.tasks.running("fix")

    def fix(self) -> None:
        """Confirm, then run the offered fix in the background."""
        if self.kind == "routing":
            self._run_fix()  # pins change no data: no confirmation
            return
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Recreate the builder",
            f"{self.fix_text()}?\n\nThe builder is removed (with its build cache) and "
            "created again with the same nodes, host network for a registry on this machine "
            "and a buildkitd config marking the registries plain HTTP.",
            QMessageBox.StandardButton.Ok | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.button(QMessageBox.StandardButton.Ok).setText("Recreate")
        box.finished.connect(
            lambda r: self._run_fix() if r == QMessageBox.StandardButton.Ok else None
        )
        self.confirm = box
        box.open()

    def _run_fix(self) -> None:
        self.fix_button.setEnabled(False)
        if self.kind == "routing":
            self.tasks.start("fix", self._pin(self.builder))
        else:
            self.tasks.start("fix", self._recreate(self.builder, self.tags))

    async def _pin(self, name: str) -> None:
        builder = await routing.pin_native(name, progress=self.progress.setText)
        pins = ", ".join(f"{n.name} → {', '.join(map(str, n.pinned))}" for n in builder.nodes)
        self.clear()
        self._done(f"Pinned the nodes of {name}: {pins}.")

    async def _recreate(self, name: str, tags: Sequence[str]) -> None:
        await preflight_push.recreate_for_push(name, tags, progress=self.progress.setText)
        self.clear()
        self._done(f"Builder {name} was recreated: start the build again.")

    def _done(self, message: str) -> None:
        self.progress.setText(message)
        self.show()
        self.changed.emit()

    def _failed(self, failure: TaskFailure) -> None:
        self.fix_button.setEnabled(True)
        self.progress.setText(f"The fix failed: {failure.text}")
        self.show()

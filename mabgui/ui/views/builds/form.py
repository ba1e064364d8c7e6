"""The build spec form: context, Dockerfile, target, builder and its platforms, tags, args, output.

The platform checkboxes come from the selected builder (``docker buildx ls``, through
:mod:`mabgui.core.buildx`); platforms a builder does not list can still be typed under
"Other platforms" (the core's validation then says whether an emulator will cover them).

Why one module of ~550 lines: every field here maps onto one field of ``BuildSpec`` both ways
(``spec()`` / ``set_spec()``, the saved last spec, the Tab chain); kept together, a new build
option is one place to change. What is not a field lives beside it: the pre-build checks
(``build_check.py``), the per-platform result (``perplatform.py``).
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mabgui.core.build import BuildSpec, OutputKind, Secret, parse_build_arg
from mabgui.core.buildx import Builder
from mabgui.core.errors import MabguiError
from mabgui.core.platform import Platform, PlatformError, is_emulated
from mabgui.ui import settings as saved
from mabgui.ui.tasks import TaskFailure, TaskManager
from mabgui.ui.views.builds.build_check import BuildCheck
from mabgui.ui.views.builds.style import escape

SETTINGS_KEY = "builds/last_spec"
OUTPUT_LABELS = {
    OutputKind.CACHE: "Build cache only",
    OutputKind.PUSH: "Push to the registry (--push)",
    OutputKind.LOAD: "Load into the image store (--load)",
    OutputKind.LOCAL: "Local directory (type=local)",
    OutputKind.OCI: "OCI layout tarball (type=oci)",
    OutputKind.DEFAULT: "buildx default (no output flag)",
}
# Item data is a string: PySide6 mishandles the refcount of bools stored in item data.
TRISTATE = (("buildx default", "default"), ("on", "on"), ("off", "off"))
_TRISTATE_VALUE: dict[str, bool | None] = {"default": None, "on": True, "off": False}
_TRISTATE_KEY = {value: key for key, value in _TRISTATE_VALUE.items()}


class SpecError(ValueError):
    """The form holds values that do not make a spec; ``errors`` lists each problem."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def split_words(text: str) -> list[str]:
    return [w for w in text.replace(",", " ").split() if w]


class BuildForm(QWidget):
    """Edits a :class:`~mabgui.core.build.BuildSpec`.

    Signals:
        start_requested(object): Start was pressed with a spec that parsed (a ``BuildSpec``).
    """

    start_requested = Signal(object)
    platforms_shown = Signal()  # the checkboxes changed (the form's minimum width may too)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tasks = TaskManager(self, on_failure=self._task_failed)
        self._builder_platforms: dict[str, list[Platform]] = {}
        self._builder_unlisted: dict[str, list[Platform]] = {}
        self._native: dict[str, Platform] = {}
        self.platform_boxes: dict[Platform, QCheckBox] = {}
        # Nothing is wanted until the builders load: then the current builder's native platforms.
        self._wanted: set[Platform] = set()
        self._builder_natives: dict[str, tuple[Platform, ...]] = {}
        self._browse_buttons: list[QToolButton] = []

        self.builder = QComboBox()
        self.builder.addItem("default")
        self.builder.currentTextChanged.connect(self._builder_changed)
        self.refresh_builders_button = QToolButton()
        self.refresh_builders_button.setText("↻")
        self.refresh_builders_button.setToolTip("Reload the builders (docker buildx ls)")
        self.refresh_builders_button.clicked.connect(self.load_builders)
        builder_row = QHBoxLayout()
        builder_row.addWidget(self.builder, 1)
        builder_row.addWidget(self.refresh_builders_button)

        self.context = QLineEdit()
        self.context.setPlaceholderText("directory with the sources")
        self.dockerfile = QLineEdit()
        self.dockerfile.setPlaceholderText("CONTEXT/Dockerfile")
        self.target = QLineEdit()
        self.target.setPlaceholderText("last stage")

        self.platforms_box = QGroupBox("Platforms")
        self.platforms_note = QLabel("Loading the builder's platforms…")
        self.platforms_note.setWordWrap(True)
        self.platforms_note.setStyleSheet("color:#718096;")
        self.platforms_grid = QGridLayout()
        self.platforms_grid.setContentsMargins(0, 0, 0, 0)
        self.extra_platforms = QLineEdit()
        self.extra_platforms.setPlaceholderText("other platforms, e.g. linux/arm/v7")
        box_layout = QVBoxLayout(self.platforms_box)
        box_layout.setContentsMargins(6, 4, 6, 4)
        box_layout.addWidget(self.platforms_note)
        box_layout.addLayout(self.platforms_grid)
        box_layout.addWidget(self.extra_platforms)

        self.tags = QLineEdit()
        self.tags.setPlaceholderText("registry/repo:tag, … (needed to push)")
        self.build_args = QPlainTextEdit()
        self.build_args.setPlaceholderText("KEY=VALUE, one per line")
        self.build_args.setFixedHeight(52)
        self.build_args.setTabChangesFocus(True)  # Tab moves on; it never types a tab here
        self.secrets = QPlainTextEdit()
        self.secrets.setPlaceholderText("id=ID,src=PATH, one per line (the value is never stored)")
        self.secrets.setFixedHeight(40)
        self.secrets.setTabChangesFocus(True)
        self.output = QComboBox()
        for kind, label in OUTPUT_LABELS.items():
            self.output.addItem(label, kind)
        self.output_dest = QLineEdit()
        self.output.currentIndexChanged.connect(lambda _i: self._output_changed())
        self.no_cache = QCheckBox("No cache")
        self.pull = QCheckBox("Pull base images")
        self.per_platform = QCheckBox("Per platform (keep the platforms that succeed)")
        self.per_platform.setToolTip(
            "Push only: each platform is its own build, pushed by digest; the index of the "
            "platforms that succeeded goes to the one tag (mabgui build --per-platform)"
        )
        self.provenance = QComboBox()
        self.sbom = QComboBox()
        for combo in (self.provenance, self.sbom):
            for label, value in TRISTATE:
                combo.addItem(label, value)
        flags = QHBoxLayout()
        flags.addWidget(self.no_cache)
        flags.addWidget(self.pull)
        flags.addStretch(1)

        self.start_button = QPushButton("Start build")
        self.start_button.setDefault(True)
        self.start_button.setStyleSheet("font-weight:bold;")
        self.start_button.clicked.connect(self.start)
        self.problems = QLabel()
        self.problems.setWordWrap(True)
        self.problems.setTextFormat(Qt.TextFormat.RichText)
        self.problems.setStyleSheet("color:#c53030;")
        self.problems.hide()
        self.check = BuildCheck()  # routing warning / push refusal, with its one-click fix
        self.check.changed.connect(self.load_builders)
        self._builders: dict[str, Builder] = {}  # as last listed, pins included

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow("Builder", builder_row)
        form.addRow("Context", self._with_browse(self.context, self._browse_context))
        form.addRow("Dockerfile", self._with_browse(self.dockerfile, self._browse_dockerfile))
        form.addRow("Target", self.target)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(form)
        layout.addWidget(self.platforms_box)
        form2 = QFormLayout()
        form2.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form2.addRow("Tags", self.tags)
        form2.addRow("Build args", self.build_args)
        form2.addRow("Secrets", self.secrets)
        form2.addRow("Output", self.output)
        form2.addRow("", self.per_platform)
        form2.addRow("Destination", self.output_dest)
        form2.addRow("Provenance", self.provenance)
        form2.addRow("SBOM", self.sbom)
        layout.addLayout(form2)
        layout.addLayout(flags)
        layout.addWidget(self.problems)
        layout.addWidget(self.check)
        layout.addWidget(self.start_button)
        layout.addStretch(1)
        self._output_changed()
        self._fill_platforms()
        self.restore()

    def _update_tab_order(self) -> None:
        """Tab follows the layout: the platform boxes (created later) come right after the
        target, not after everything else."""
        chain: list[QWidget] = [
            self.builder,
            self.refresh_builders_button,
            self.context,
            *self._browse_buttons[:1],
            self.dockerfile,
            *self._browse_buttons[1:2],
            self.target,
            *self.platform_boxes.values(),
            self.extra_platforms,
            self.tags,
            self.build_args,
            self.secrets,
            self.output,
            self.per_platform,
            self.output_dest,
            self.provenance,
            self.sbom,
            self.no_cache,
            self.pull,
            self.start_button,
        ]
        for first, second in itertools.pairwise(chain):
            QWidget.setTabOrder(first, second)

    def tab_chain(self) -> list[QWidget]:
        """The form's widgets in the order Tab visits them, from the builder."""
        chain: list[QWidget] = [self.builder]
        widget = self.builder.nextInFocusChain()
        for _ in range(1000):
            if widget is None or widget is self.builder:
                break
            if self.isAncestorOf(widget) and widget.focusPolicy() & Qt.FocusPolicy.TabFocus:
                chain.append(widget)
            widget = widget.nextInFocusChain()
        return chain

    def _with_browse(self, edit: QLineEdit, slot: Any) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(edit, 1)
        button = QToolButton()
        button.setText("…")
        button.setToolTip("Browse…")
        button.setAccessibleName("Browse")
        button.clicked.connect(slot)
        self._browse_buttons.append(button)
        row.addWidget(button)
        return box

    # --- builders and platforms ---------------------------------------------------------------
    def builder_platforms(self) -> dict[str, list[Platform]]:
        """The platforms of each builder as last loaded (empty until loaded)."""
        return {name: list(p) for name, p in self._builder_platforms.items()}

    def load_builders(self) -> None:
        """List the buildx builders in the background (their platforms fill the checkboxes)."""
        self.platforms_note.setText("Loading the builders (docker buildx ls)…")
        self.tasks.start("builders", self._load_builders())

    async def _load_builders(self) -> None:
        from mabgui.core import overview as ov

        try:
            overview = await ov.overview()
        except MabguiError as exc:
            self.platforms_note.setText(f"Cannot list the builders: {exc}")
            return
        unlisted: dict[str, list[Platform]] = {}
        for b in overview.builders:
            for node in b.nodes:
                for chip in overview.chips(node):
                    if chip.kind == "unlisted" and chip.platform not in unlisted.get(b.name, []):
                        unlisted.setdefault(b.name, []).append(chip.platform)
        self._builders = {b.name: b for b in overview.builders}
        self.set_builders(
            {b.name: b.platforms for b in overview.builders},
            current=next((b.name for b in overview.builders if b.current), None),
            unlisted=unlisted,
            natives={b.name: tuple(b.native_platforms()) for b in overview.builders},
        )

    def set_builders(
        self,
        platforms: dict[str, list[Platform]],
        current: str | None = None,
        unlisted: dict[str, list[Platform]] | None = None,
        natives: dict[str, tuple[Platform, ...]] | None = None,
    ) -> None:
        """Offer these builders (name → platforms they list).

        ``unlisted`` are platforms a builder does not list although an emulator for them is
        registered (it started before the emulator): buildx still builds them, so they are
        offered too, marked. ``natives`` are the platforms each builder's nodes run without
        emulation (decided per node); unknown, nothing is marked QEMU.
        """
        selected = self.builder.currentText()
        self._builder_platforms = dict(platforms)
        self._builder_unlisted = dict(unlisted or {})
        self._builder_natives = dict(natives or {})
        if not self._wanted and not any(b.isChecked() for b in self.platform_boxes.values()):
            first = selected if selected in platforms else (current or next(iter(platforms), ""))
            self._wanted = set(self._builder_natives.get(first, ())[:1])
        self.builder.blockSignals(True)
        self.builder.clear()
        for name in platforms:
            self.builder.addItem(name)
        keep = selected if selected in platforms else (current or next(iter(platforms), ""))
        self.builder.setCurrentText(keep)
        self.builder.blockSignals(False)
        self._fill_platforms()

    def choose_builder(self, name: str) -> None:
        """Pick builder ``name`` (one just created: listed again, its platforms filled in)."""
        if self.builder.findText(name) < 0:
            self.builder.addItem(name)
        self.builder.setCurrentText(name)
        self.load_builders()

    def _builder_changed(self, _name: str) -> None:
        self._fill_platforms()

    def _typed_platforms(self) -> list[Platform]:
        """The platforms typed under "Other platforms" that parse (the rest stay as typed)."""
        typed = []
        for word in split_words(self.extra_platforms.text()):
            platform = Platform.try_parse(word)
            if platform is not None and platform not in typed:
                typed.append(platform)
        return typed

    def _fill_platforms(self) -> None:
        """Checkboxes for the builder's platforms; the chosen set is exactly what is ticked
        plus what is typed: a typed platform the builder lists becomes its ticked box (so
        unticking it later really drops it), a ticked one it does not list is typed."""
        if self.platform_boxes or self.extra_platforms.text().strip():
            self._wanted = {p for p, box in self.platform_boxes.items() if box.isChecked()}
            self._wanted.update(self._typed_platforms())
        for box in self.platform_boxes.values():
            self.platforms_grid.removeWidget(box)
            box.setParent(None)
            box.deleteLater()
        self.platform_boxes = {}
        name = self.builder.currentText()
        listed = self._builder_platforms.get(name, [])
        unlisted = [p for p in self._builder_unlisted.get(name, []) if p not in listed]
        offered = listed + unlisted
        natives = self._builder_natives.get(name, ())
        for i, platform in enumerate(offered):
            emulated = bool(natives) and all(is_emulated(platform, n) for n in natives)
            if platform in unlisted:
                box = QCheckBox(f"{platform} (QEMU*)")
                box.setToolTip(
                    f"An emulator for {platform} is registered in binfmt_misc but builder "
                    f"{name!r} does not list it (it started before the emulator was "
                    "registered). buildx still builds it under QEMU."
                )
            else:
                box = QCheckBox(str(platform) + (" (QEMU)" if emulated else ""))
                box.setToolTip(
                    "runs under QEMU emulation on this machine" if emulated else "runs natively"
                )
            box.setChecked(platform in self._wanted)
            box.toggled.connect(lambda _on: self.check_routing())
            self.platform_boxes[platform] = box
            self.platforms_grid.addWidget(box, i // 2, i % 2)
        if unlisted:
            self.platforms_note.setText(
                f"Platforms builder {name!r} offers (* not listed by it, but an emulator is "
                "registered: buildx builds them anyway):"
            )
        elif offered:
            self.platforms_note.setText(f"Platforms builder {name!r} lists:")
        elif self._builder_platforms:
            self.platforms_note.setText(f"Builder {name!r} lists no platform (not bootstrapped?)")
        kept = [
            word
            for word in split_words(self.extra_platforms.text())
            if Platform.try_parse(word) not in self.platform_boxes
        ]
        typed = set(self._typed_platforms())
        kept += [str(p) for p in sorted(self._wanted) if p not in offered and p not in typed]
        self.extra_platforms.setText(", ".join(kept))
        self._update_tab_order()
        self.check_routing()
        self.platforms_shown.emit()

    def set_platforms(self, platforms: list[Platform]) -> None:
        """Check exactly ``platforms`` (those the builder does not list go to "Other")."""
        self._wanted = set(platforms)
        extra = []
        for platform in platforms:
            if platform not in self.platform_boxes:
                extra.append(str(platform))
        for platform, box in self.platform_boxes.items():
            box.setChecked(platform in self._wanted)
        self.extra_platforms.setText(", ".join(extra))
        self.check_routing()

    def chosen_platforms(self) -> list[Platform]:
        """What is ticked plus what is typed (and parses)."""
        ticked = [p for p, box in self.platform_boxes.items() if box.isChecked()]
        return ticked + [p for p in self._typed_platforms() if p not in ticked]

    def check_routing(self) -> None:
        """Warn when a node of the builder would emulate a platform another runs natively."""
        self.check.show_routing(self._builders.get(self.builder.currentText()),
                                self.chosen_platforms())  # fmt: skip

    # --- spec ---------------------------------------------------------------------------------
    def spec(self) -> BuildSpec:
        """The spec the form describes; :class:`SpecError` lists what does not parse."""
        errors: list[str] = []
        platforms = [p for p, box in self.platform_boxes.items() if box.isChecked()]
        for word in split_words(self.extra_platforms.text()):
            try:
                platform = Platform.parse(word)
            except PlatformError as exc:
                errors.append(f"platform: {exc}")
                continue
            if platform not in platforms:
                platforms.append(platform)
        build_args: dict[str, str] = {}
        for line in self.build_args.toPlainText().splitlines():
            if not line.strip():
                continue
            try:
                key, value = parse_build_arg(line.strip())
            except ValueError as exc:
                errors.append(str(exc))
                continue
            build_args[key] = value
        secrets: list[Secret] = []
        for line in self.secrets.toPlainText().splitlines():
            if not line.strip():
                continue
            try:
                secrets.append(Secret.parse(line.strip()))
            except ValueError as exc:
                errors.append(str(exc))
        context = self.context.text().strip()
        if not context:
            errors.append("choose the build context (a directory)")
        if errors:
            raise SpecError(errors)
        output = self.output.currentData()
        return BuildSpec(
            context=context,
            dockerfile=self.dockerfile.text().strip(),
            target=self.target.text().strip(),
            platforms=platforms,
            tags=split_words(self.tags.text()),
            build_args=build_args,
            secrets=secrets,
            output=output if isinstance(output, OutputKind) else OutputKind(str(output)),
            output_dest=self.output_dest.text().strip(),
            no_cache=self.no_cache.isChecked(),
            pull=self.pull.isChecked(),
            provenance=_TRISTATE_VALUE.get(str(self.provenance.currentData())),
            sbom=_TRISTATE_VALUE.get(str(self.sbom.currentData())),
            builder=self.builder.currentText() or "default",
            per_platform=self.per_platform.isEnabled() and self.per_platform.isChecked(),
        )

    def set_spec(self, spec: BuildSpec) -> None:
        """Fill the form from ``spec`` (reopening a build from the history)."""
        if spec.builder and self.builder.findText(spec.builder) < 0:
            self.builder.addItem(spec.builder)
        self.builder.setCurrentText(spec.builder or "default")
        self.context.setText(spec.context)
        self.dockerfile.setText(spec.dockerfile)
        self.target.setText(spec.target)
        self.set_platforms(list(spec.platforms))
        self.tags.setText(", ".join(spec.tags))
        self.build_args.setPlainText("\n".join(f"{k}={v}" for k, v in spec.build_args.items()))
        self.secrets.setPlainText("\n".join(f"id={s.id},src={s.src}" for s in spec.secrets))
        self.output.setCurrentIndex(max(0, self.output.findData(spec.output)))
        self.output_dest.setText(spec.output_dest)
        self.no_cache.setChecked(spec.no_cache)
        self.pull.setChecked(spec.pull)
        self.per_platform.setChecked(spec.per_platform)
        self.provenance.setCurrentIndex(
            max(0, self.provenance.findData(_TRISTATE_KEY[spec.provenance]))
        )
        self.sbom.setCurrentIndex(max(0, self.sbom.findData(_TRISTATE_KEY[spec.sbom])))

    def start(self) -> None:
        try:
            spec = self.spec()
        except SpecError as exc:
            self.show_problems(exc.errors)
            return
        self.show_problems([])
        self.save(spec)
        self.start_requested.emit(spec)

    def show_problems(self, errors: list[str], warnings: tuple[str, ...] | list[str] = ()) -> None:
        if not errors and not warnings:
            self.problems.hide()
            self.problems.setText("")
            return
        items = "".join(f"<li>{escape(e)}</li>" for e in errors)
        items += "".join(f"<li style='color:#975a16'>{escape(w)}</li>" for w in warnings)
        title = "Cannot start the build:" if errors else "Warnings:"
        self.problems.setText(f"<b>{title}</b><ul style='margin:2px'>{items}</ul>")
        self.problems.show()

    def set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.start_button.setText("Building…" if running else "Start build")

    # --- persistence --------------------------------------------------------------------------
    def save(self, spec: BuildSpec) -> None:
        QSettings().setValue(SETTINGS_KEY, json.dumps(spec.to_json(redact=True)))

    def restore(self) -> bool:
        """Fill the form from the last spec; a corrupt setting is logged and forgotten."""
        return saved.apply(
            QSettings(),
            SETTINGS_KEY,
            lambda raw: self.set_spec(BuildSpec.from_json(json.loads(raw))),
        )

    # --- misc ---------------------------------------------------------------------------------
    def _output_changed(self) -> None:
        kind = self.output.currentData()
        needs_dest = kind in (OutputKind.LOCAL, OutputKind.OCI)
        self.output_dest.setEnabled(needs_dest)
        self.per_platform.setEnabled(kind == OutputKind.PUSH)  # it pushes by digest
        self.output_dest.setPlaceholderText(
            "directory" if kind is OutputKind.LOCAL else "file.tar" if needs_dest else "—"
        )

    def _browse_context(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Build context", self.context.text())
        if path:
            self.context.setText(path)

    def _browse_dockerfile(self) -> None:
        path, _f = QFileDialog.getOpenFileName(
            self, "Dockerfile", self.dockerfile.text() or self.context.text()
        )
        if path:
            self.dockerfile.setText(path)

    def _task_failed(self, failure: TaskFailure) -> None:
        self.platforms_note.setText(f"Cannot list the builders: {failure.text}")

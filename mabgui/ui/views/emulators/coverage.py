"""Which builders the emulators reach, in the Emulators area: the builders' platforms, the
running ones that miss an enabled emulator (stale: BuildKit reads binfmt_misc when it starts),
and restarting such a builder.

:class:`BuilderCoverage` is a mixin of :class:`~mabgui.ui.views.emulators.view.EmulatorsView`.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from mabgui.core import buildx
from mabgui.core import overview as binfmt_builders
from mabgui.core.binfmt import BinfmtError
from mabgui.core.errors import MabguiError
from mabgui.core.overview import BuilderPlatforms, StaleBuilder
from mabgui.core.platform import Platform
from mabgui.ui.views.emulators.messages import detach

if TYPE_CHECKING:
    from collections.abc import Callable

    from PySide6.QtWidgets import QPushButton

    from mabgui.core.binfmt import BinfmtState
    from mabgui.ui.models.emulators import EmulatorsModel
    from mabgui.ui.tasks import TaskManager
    from mabgui.ui.views.emulators.messages import Messages


class BuilderCoverage:
    """The builders side of an :class:`EmulatorsView` (a mixin)."""

    if TYPE_CHECKING:  # provided by the view
        tasks: TaskManager
        model: EmulatorsModel
        messages: Messages
        restart_button: QPushButton
        state: BinfmtState | None
        builders: list[BuilderPlatforms] | None
        stale: list[StaleBuilder]
        native: Platform | None
        _list_builders: Callable[[], Any]

        def show_message(self, kind: str, text: str) -> None: ...
        def show_error(self, exc: BinfmtError) -> None: ...
        def _ask(self, title: str, text: str) -> bool: ...

    async def _refresh_builders(self) -> None:
        try:
            builders = list(await self._list_builders())
        except (MabguiError, OSError) as exc:
            detach(exc)
            self.builders = None
            self.stale = []
            self.model.set_builders([], [])
            self._update_warnings(f"Builders unknown: {exc}")
            return
        self.builders = builders
        self._update_stale()

    def set_native_platform(self, native: Platform | None) -> None:
        """The engine's native platform (the daemon's arch), once the window knows it."""
        if native == self.native:
            return
        self.native = native
        if self.builders is not None:
            self._update_stale()

    def _update_stale(self) -> None:
        """Which running builders miss an enabled emulator's platform (needs the native one)."""
        builders = self.builders or []
        self.stale = (
            binfmt_builders.stale_builders(self.state, builders, self.native)
            if self.state is not None and self.native is not None
            else []
        )
        self.model.set_builders(builders, self.stale)
        self._update_warnings()

    def _update_warnings(self, extra: str = "") -> None:
        lines = [(h.name, w) for h in self.model.handlers() for w in h.warnings()]
        for stale in self.stale:
            message = stale.message
            if not buildx.restart_argv(stale.builder.name, stale.builder.driver):
                message += (
                    f" {stale.builder.name} uses the docker driver (its BuildKit is part of "
                    "dockerd): restart the Docker daemon."
                )
            lines.append(("", message))
        if extra:
            lines.append(("", extra))
        self.messages.show_warnings(lines)
        restartable = self._stale_builder()
        self.restart_button.setVisible(restartable is not None)
        if restartable is not None:
            self.restart_button.setText(f"Restart {restartable.name}…")

    def _stale_builder(self) -> BuilderPlatforms | None:
        """The builder the restart button offers: only one mabgui can restart (the docker
        driver's BuildKit is part of dockerd, so the warning says to restart the daemon)."""
        restartable = [
            s.builder for s in self.stale if buildx.restart_argv(s.builder.name, s.builder.driver)
        ]
        return restartable[0] if restartable else None

    def restart_builder(self) -> None:
        builder = self._stale_builder()
        if builder is None:
            return
        commands = buildx.restart_argv(builder.name, builder.driver)
        if not commands:
            self.show_error(BinfmtError(
                f"{builder.name} uses the docker driver: its BuildKit is part of dockerd.",
                "Restart the Docker daemon (sudo systemctl restart docker, or Docker Desktop → "
                "Restart) so it lists the newly enabled emulators.",
            ))  # fmt: skip
            return
        text = "\n".join(" ".join(c) for c in commands)
        if not self._ask(
            f"Restart {builder.name}?",
            f"Restart the builder {builder.name} so BuildKit detects the emulators? "
            f"Builds running on it are cancelled.\n\nThis runs:\n{text}",
        ):
            return
        self.tasks.start("restart", self._restart(builder))

    async def _restart(self, builder: BuilderPlatforms) -> None:
        self.show_message("info", f"Restarting {html.escape(builder.name)}…")
        try:
            await buildx.restart(builder.name, driver=builder.driver)
        except MabguiError as exc:
            self.show_error(BinfmtError(str(exc), exc.hint))
            return
        self.show_message("info", f"{html.escape(builder.name)} was restarted.")
        await self._refresh_builders()

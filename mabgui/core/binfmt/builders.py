"""Which builders list which platforms, next to the emulators that provide them.

A BuildKit node detects the platforms it can run when it starts: an emulator registered (or
enabled) afterwards is not used until the builder restarts. :func:`stale_builders` finds running
builders that miss an enabled handler's platform, so the UI can offer the restart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from mabgui.core import buildx
from mabgui.core.binfmt import BinfmtError, BinfmtState, Handler
from mabgui.core.platform import Platform, host_platform

BUILDX_TIMEOUT_S = 30.0
# Drivers whose nodes run on the daemon mabgui talks to (so its binfmt_misc is theirs).
LOCAL_DRIVERS = frozenset({"docker", "docker-container"})


@dataclass(frozen=True)
class BuilderPlatforms:
    """A buildx builder as this view needs it: status and the platforms its nodes list."""

    name: str
    driver: str
    status: str
    platforms: tuple[Platform, ...] = ()
    nodes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def running(self) -> bool:
        return self.status == "running"

    def lists(self, handler: Handler) -> bool:
        return any(p in self.platforms for p in handler.platforms)


def from_buildx(builder: buildx.Builder) -> BuilderPlatforms:
    """The part of a :class:`mabgui.core.buildx.Builder` this area needs."""
    states = [n.status for n in builder.nodes]
    status = "running" if "running" in states else (builder.status or "unknown")
    return BuilderPlatforms(
        name=builder.name,
        driver=builder.driver,
        status=status,
        platforms=tuple(builder.platforms),
        nodes=tuple(n.name for n in builder.nodes),
    )


async def list_builders() -> list[BuilderPlatforms]:
    """Every buildx builder with the platforms its nodes list (``docker buildx ls``)."""
    try:
        builders = await buildx.list_builders(BUILDX_TIMEOUT_S)
    except buildx.BuildxError as exc:
        raise BinfmtError(str(exc), exc.hint) from None
    return [from_buildx(b) for b in builders]


def listing_builders(handler: Handler, builders: Sequence[BuilderPlatforms]) -> list[str]:
    """Names of the builders that list at least one of the handler's platforms."""
    return [b.name for b in builders if b.lists(handler)]


@dataclass(frozen=True)
class StaleBuilder:
    builder: BuilderPlatforms
    handler: Handler

    @property
    def message(self) -> str:
        platforms = ", ".join(str(p) for p in self.handler.platforms)
        return (
            f"{self.handler.name} is enabled but the running builder {self.builder.name} "
            f"does not list {platforms}: restart it so BuildKit picks up the emulator."
        )


def stale_builders(
    state: BinfmtState, builders: Sequence[BuilderPlatforms], native: Platform | None = None
) -> list[StaleBuilder]:
    """Running local builders missing the platforms of an enabled emulator handler."""
    native = native or host_platform()
    out: list[StaleBuilder] = []
    if not state.enabled:
        return out
    for handler in state.handlers:
        if not handler.enabled or not handler.platforms:
            continue
        if all(p.family == native.family for p in handler.platforms):
            continue
        for b in builders:
            if b.running and b.driver in LOCAL_DRIVERS and not b.lists(handler):
                out.append(StaleBuilder(b, handler))
    return out


def restart_command(builder: BuilderPlatforms) -> list[list[str]]:
    """The commands that restart ``builder``'s BuildKit so it re-detects emulators."""
    if builder.driver == "docker":
        return []
    return [
        ["docker", "buildx", "stop", builder.name],
        ["docker", "buildx", "inspect", "--bootstrap", builder.name],
    ]


async def restart_builder(builder: BuilderPlatforms) -> None:
    """Stop and bootstrap the builder. The ``docker`` driver's BuildKit lives inside dockerd:
    that needs a daemon restart, which mabgui leaves to the user."""
    commands = restart_command(builder)
    if not commands:
        raise BinfmtError(
            f"{builder.name} uses the docker driver: its BuildKit is part of dockerd",
            "Restart the Docker daemon (sudo systemctl restart docker, or Docker Desktop → "
            "Restart) to make it list newly enabled emulators.",
        )
    try:
        await buildx.stop(builder.name)
        await buildx.bootstrap(builder.name)
    except buildx.BuildxError as exc:
        raise BinfmtError(f"restarting {builder.name} failed: {exc}", exc.hint) from None

"""What the Builders and Emulators views explain: builders joined with emulators and engine facts.

A join module above the areas (it may import :mod:`~mabgui.core.buildx`,
:mod:`~mabgui.core.binfmt` and :mod:`~mabgui.core.engine`; neither area imports the other).
Qt-free and pure except :func:`overview` and :func:`list_builder_platforms`, which ask.

Whether a platform is emulated is decided per builder node
(:attr:`~mabgui.core.buildx.Node.native_platform`), never from the machine mabgui runs on.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mabgui.core import binfmt, buildx, engine, log
from mabgui.core.binfmt import BinfmtState, Handler
from mabgui.core.buildx import Builder, Node, routing
from mabgui.core.engine import EngineFacts
from mabgui.core.platform import Platform

_log = log.get("buildx")

# --- the one rule: an emulated platform a node does not list ------------------------------------


def unlisted_emulated(
    listed: Iterable[Platform], native: Iterable[Platform], emulatable: Iterable[Platform]
) -> list[Platform]:
    """The ``emulatable`` platforms that are emulated (not of a ``native`` family) and that
    ``listed`` does not name (by family): the emulators BuildKit did not pick up. In the
    order of ``emulatable``.

    Empty when no native platform is known: emulation cannot be judged then.
    """
    natives = {p.family for p in native}
    if not natives:
        return []
    families = {p.family for p in listed}
    missing = (p for p in emulatable if p.family not in families and p.family not in natives)
    return list(dict.fromkeys(missing))  # in the order given, once each


# --- chips and notes of the Builders view --------------------------------------------------------


@dataclass(frozen=True)
class Chip:
    """A platform as the Builders view shows it on a node."""

    platform: Platform
    # "native" | "emulated" | "unknown" (native not known) | "unlisted" (emulator registered)
    kind: str
    pinned: bool = False


def platform_chips(node: Node, emulatable: Iterable[Platform] = ()) -> list[Chip]:
    """The node's platforms marked native/emulated (against the node's own native platform),
    then the emulatable ones it does not list.

    ``emulatable`` (this machine's binfmt_misc) only concerns nodes on the daemon mabgui asked
    that run on this kernel; other nodes get no ``unlisted`` chips.
    """
    native = node.native_platform
    chips = []
    for p in node.platforms:
        if native is None:
            kind = "unknown"
        else:
            kind = "native" if p.family == native.family else "emulated"
        chips.append(Chip(p, kind, p in node.pinned))
    here = node.daemon_platform is not None and (node.local or node.endpoint == "default")
    if here and native is not None and node.status == "running" and not node.pinned:
        for p in unlisted_emulated(node.platforms, [native], sorted(set(emulatable))):
            chips.append(Chip(p, "unlisted"))
    return chips


@dataclass(frozen=True)
class Note:
    """An explanation of something buildx leaves cryptic, with the action that fixes it."""

    level: str  # "error" | "warning" | "info"
    title: str
    detail: str
    action: str = ""  # "bootstrap" | "restart" | "new-builder" | "remove" | ""


def routing_note(problem: routing.RoutingProblem) -> Note:
    """A multi-node routing problem as a note (its action ``pin-native`` runs
    :func:`mabgui.core.buildx.routing.pin_native`)."""
    return Note(
        "warning",
        problem.message[:1].upper() + problem.message[1:],
        f"{problem.reason}\nFix: {problem.fix}",
        "pin-native" if problem.unpinned else "",
    )


def builder_notes(
    builder: Builder,
    *,
    emulatable: Iterable[Platform] = (),
    image_store: bool | None = None,
) -> list[Note]:
    """What the Builders view explains about ``builder`` (pure: tested on recorded data)."""
    notes: list[Note] = []
    if builder.error:
        notes.append(
            Note(
                "error",
                f"Builder {builder.name} cannot be loaded",
                builder.error + _hint(builder.error),
                "remove",
            )
        )
    for node in builder.nodes:
        if node.error:
            unreachable = "cannot connect to the docker daemon" in node.error.lower()
            notes.append(
                Note(
                    "error",
                    f"Node {node.name} is in error",
                    node.error + _hint(node.error),
                    "" if unreachable else "bootstrap",
                )
            )
        elif node.status in ("inactive", "stopped"):
            notes.append(
                Note(
                    "info",
                    f"Node {node.name} is {node.status}",
                    "BuildKit starts on the first build that uses this builder, "
                    "or now with Bootstrap.",
                    "bootstrap",
                )
            )
    if builder.driver == "docker" and image_store is False:
        notes.append(
            Note(
                "warning",
                "The docker driver cannot build several platforms here",
                "Without the containerd image store, Docker's built-in BuildKit can build and "
                "load only one platform at a time: a build with --platform "
                "linux/amd64,linux/arm64 fails. " + buildx.DOCKER_DRIVER_MULTIPLATFORM_FIX,
                "new-builder",
            )
        )
    emulatable = frozenset(emulatable)
    for node in builder.nodes:
        missing = [c.platform for c in platform_chips(node, emulatable) if c.kind == "unlisted"]
        if not missing:
            continue
        names = ", ".join(str(p) for p in missing)
        probe = (
            "BuildKit lists the emulators it finds working when it starts, so the emulator was "
            "probably registered later (or BuildKit's check failed). Builds for these platforms "
            "still run through binfmt_misc; "
        )
        if builder.driver == "docker":
            fix = probe + "restarting dockerd makes its built-in BuildKit list them."
            action = ""
        else:
            fix = probe + "Stop and Bootstrap the builder to list them."
            action = "restart"
        notes.append(
            Note(
                "info",
                f"{names} can be emulated here but node {node.name} does not list "
                + ("it" if len(missing) == 1 else "them"),
                f"QEMU is registered in binfmt_misc for {names}. {fix}",
                action,
            )
        )
    order = {"error": 0, "warning": 1, "info": 2}
    return sorted(notes, key=lambda n: order.get(n.level, 3))


def _hint(message: str) -> str:
    hint = buildx.explain(message)
    return f"\n{hint}" if hint else ""


# --- overview: builders with what is needed to explain them --------------------------------------


@dataclass(frozen=True)
class Overview:
    """Builders plus the facts that explain them: the engine (one ``docker info``), emulators."""

    builders: list[Builder]
    facts: EngineFacts | None = None
    emulatable: frozenset[Platform] = frozenset()

    @property
    def image_store(self) -> bool | None:
        return self.facts.image_store if self.facts is not None else None

    @property
    def daemon_error(self) -> str:
        return self.facts.error if self.facts is not None else ""

    @property
    def current(self) -> Builder | None:
        return next((b for b in self.builders if b.current), None)

    def builder(self, name: str) -> Builder | None:
        return next((b for b in self.builders if b.name == name), None)

    def chips(self, node: Node) -> list[Chip]:
        return platform_chips(node, self.emulatable)

    def notes(self, builder: Builder) -> list[Note]:
        notes = builder_notes(builder, emulatable=self.emulatable, image_store=self.image_store)
        return notes + [routing_note(p) for p in routing.routing_problems(builder)]

    def to_json(self) -> list[dict[str, Any]]:
        out = []
        for b in self.builders:
            data = b.to_json()
            for node, node_data in zip(b.nodes, data["nodes"], strict=True):
                chips = self.chips(node)
                node_data["emulated"] = [str(c.platform) for c in chips if c.kind == "emulated"]
                node_data["emulatable_unlisted"] = [
                    str(c.platform) for c in chips if c.kind == "unlisted"
                ]
            data["notes"] = [
                {"level": n.level, "title": n.title, "detail": n.detail, "action": n.action}
                for n in self.notes(b)
            ]
            out.append(data)
        return out


def enabled_emulators() -> frozenset[Platform]:
    """The platforms this machine's enabled binfmt_misc handlers run (empty off Linux)."""
    if not sys.platform.startswith("linux"):
        return frozenset()
    try:
        state = binfmt.read_state()  # a few small files under /proc: no thread needed
    except (OSError, binfmt.BinfmtError):
        return frozenset()
    return frozenset(state.enabled_platforms()) if state.enabled else frozenset()


async def overview(
    timeout_s: float = buildx.LS_TIMEOUT_S, facts: EngineFacts | None = None
) -> Overview:
    """Every builder with the engine's facts and the enabled emulators.

    ``facts`` from the caller's refresh are used as they are; without them ONE ``docker info``
    is asked here. Only the builder list is required: a daemon or binfmt_misc that cannot be
    read leaves the explanations that depend on it out.
    """
    # One after the other, in this task: no helper task can be left unstarted by a cancel.
    if facts is None:
        facts = await engine.engine_facts()
    builders = await buildx.list_builders(timeout_s, facts)
    try:  # a multi-node builder's pins decide where each platform is built
        builders = await routing.pinned_builders(builders)
    except buildx.BuildxError as exc:
        _log.warning("cannot read the builders' pinned platforms: %s", exc)
    return Overview(builders, facts, enabled_emulators())


# --- the Emulators view: which builders list an emulator's platforms -----------------------------


@dataclass(frozen=True)
class BuilderPlatforms:
    """A buildx builder as the Emulators view needs it: status, listed and native platforms."""

    name: str
    driver: str
    status: str
    platforms: tuple[Platform, ...] = ()
    nodes: tuple[str, ...] = field(default_factory=tuple)
    native: tuple[
        Platform, ...
    ] = ()  # what its nodes run natively (:meth:`Builder.native_platforms`)

    @property
    def running(self) -> bool:
        return self.status == "running"

    def lists(self, handler: Handler) -> bool:
        return any(p in self.platforms for p in handler.platforms)


def from_buildx(builder: Builder) -> BuilderPlatforms:
    """The part of a :class:`~mabgui.core.buildx.Builder` the Emulators view needs."""
    states = [n.status for n in builder.nodes]
    status = "running" if "running" in states else (builder.status or "unknown")
    return BuilderPlatforms(
        name=builder.name,
        driver=builder.driver,
        status=status,
        platforms=tuple(builder.platforms),
        nodes=tuple(n.name for n in builder.nodes),
        native=tuple(builder.native_platforms()),
    )


async def list_builder_platforms(facts: EngineFacts | None = None) -> list[BuilderPlatforms]:
    """Every buildx builder with the platforms its nodes list (``docker buildx ls``).

    Raises :class:`~mabgui.core.buildx.BuildxError` (a :class:`~mabgui.core.errors.MabguiError`).
    """
    return [from_buildx(b) for b in await buildx.list_builders(buildx.LS_TIMEOUT_S, facts)]


def listing_builders(handler: Handler, builders: Sequence[BuilderPlatforms]) -> list[str]:
    """Names of the builders that list at least one of the handler's platforms."""
    return [b.name for b in builders if b.lists(handler)]


@dataclass(frozen=True)
class StaleBuilder:
    builder: BuilderPlatforms
    handler: Handler
    missing: tuple[Platform, ...] = ()

    @property
    def message(self) -> str:
        platforms = ", ".join(str(p) for p in self.missing or self.handler.platforms)
        return (
            f"{self.handler.name} is enabled but the running builder {self.builder.name} "
            f"does not list {platforms}: restart it so BuildKit picks up the emulator."
        )


def stale_builders(
    state: BinfmtState, builders: Sequence[BuilderPlatforms], native: Platform | None = None
) -> list[StaleBuilder]:
    """Running builders on the daemon's kernel missing an enabled emulator handler's platforms.

    Each builder is judged against what its own nodes run natively; ``native`` (the daemon's
    platform, :attr:`EngineFacts.platform`) stands in for a builder whose nodes did not say.
    """
    out: list[StaleBuilder] = []
    if not state.enabled:
        return out
    for handler in state.handlers:
        if not handler.enabled or not handler.platforms:
            continue
        for b in builders:
            if not b.running or b.driver not in buildx.DAEMON_DRIVERS:
                continue
            natives = b.native or ((native,) if native is not None else ())
            missing = unlisted_emulated(b.platforms, natives, handler.platforms)
            if missing:
                out.append(StaleBuilder(b, handler, tuple(missing)))
    return out

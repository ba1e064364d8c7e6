"""Before a build: which builder will run it, on which node each platform, and can it push?

A join of buildx (builders, their network and buildkitd config), the registry references of the
tags and the daemon's insecure registries. Pure decisions live in
:func:`mabgui.core.buildx.registries.push_problem`; this module gathers the facts.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from mabgui.core import buildx, engine, log
from mabgui.core.buildx import registries, routing
from mabgui.core.errors import MabguiError
from mabgui.core.platform import Platform
from mabgui.core.registry.reference import try_parse_reference

_log = log.get("buildx")


class PushRefused(MabguiError):
    """The chosen builder cannot reach the registry a tag points at."""


def pick_builder(builders: Iterable[buildx.Builder], name: str | None) -> buildx.Builder | None:
    """The builder named ``name``, or the current one (buildx's choice without ``--builder``)."""
    items = list(builders)
    if name:
        return next((b for b in items if b.name == name), None)
    return next((b for b in items if b.current), None)


async def resolve_builder(name: str | None) -> buildx.Builder | None:
    """The builder a build will use (``None`` when buildx cannot list them)."""
    try:
        return pick_builder(await buildx.list_builders(), name)
    except buildx.BuildxError as exc:
        _log.warning("cannot list builders: %s", exc)
        return None


def registry_hosts(tags: Iterable[str]) -> list[str]:
    """The distinct registry hosts of ``tags`` (invalid tags are left to the spec check)."""
    hosts: dict[str, None] = {}
    for tag in tags:
        ref = try_parse_reference(tag)
        if ref is not None:
            hosts.setdefault(ref.registry, None)
    return list(hosts)


def push_problems(
    builder: buildx.Builder, tags: Sequence[str], insecure_registries: Iterable[str]
) -> list[str]:
    """One reason (with its fix) per registry of ``tags`` that ``builder`` cannot push to."""
    insecure = list(insecure_registries)
    out = []
    for host in registry_hosts(tags):
        problem = registries.push_problem(builder, host, insecure)
        if problem:
            out.append(problem)
    return out


async def check_push(builder: buildx.Builder | None, tags: Sequence[str]) -> None:
    """Raise :class:`PushRefused` when ``builder`` cannot push to a registry of ``tags``."""
    if builder is None or builder.driver != "docker-container":
        return
    try:
        insecure = (await engine.daemon_info()).insecure_registries
    except engine.EngineError as exc:
        _log.warning("cannot read the daemon's insecure registries: %s", exc)
        insecure = []
    problems = push_problems(builder, tags, insecure)
    if problems:
        reasons = [p.partition(". Fix: ")[0] for p in problems]
        fixes = [p.partition(". Fix: ")[2] for p in problems]
        raise PushRefused(
            "the push was refused: " + "\n".join(reasons),
            " ".join(f"Fix: {f}." for f in fixes if f) + " Nothing was started.",
        )


# --- the one-click fix: recreate the builder with mabgui's registry defaults ----------------------


def fixable(builder: buildx.Builder) -> bool:
    """Whether recreating ``builder`` with host network and HTTP registries can fix a push: a
    docker-container builder whose nodes all run on this machine's daemons."""
    return builder.driver == "docker-container" and all(
        not (n.host or n.endpoint).startswith(("tcp://", "ssh://")) for n in builder.nodes
    )


def recreate_request(
    builder: buildx.Builder, hosts: Iterable[str], insecure_registries: Iterable[str]
) -> tuple[buildx.CreateRequest, registries.RegistrySetup]:
    """The same builder (nodes, endpoints, pins, flags) with the registries of ``hosts`` that
    need plain HTTP, and the daemon's insecure ones, in its buildkitd config (host network for
    loopback ones). Pure: the config still has to be written (:func:`recreate_for_push`)."""
    insecure = list(insecure_registries)
    http_hosts = [h for h in hosts if registries.needs_http(h, insecure)]
    base = registries.node_config(builder.nodes[0]) if builder.nodes else ""
    setup = registries.plan([*insecure, *http_hosts], user_config=base)
    nodes = []
    for node in builder.nodes:
        opts = dict(node.driver_opts)
        if setup.host_network:
            opts.pop("network", None)  # registries.apply sets network=host
        nodes.append(
            buildx.NodeSpec(
                endpoint=node.endpoint,
                name=node.name,
                platforms=tuple(node.pinned),
                driver_opts=opts,
                buildkitd_flags=" ".join(node.flags),
            )
        )
    req = buildx.CreateRequest(
        name=builder.name,
        driver=builder.driver,
        nodes=tuple(nodes),
        bootstrap=True,
        use=builder.current,
    )
    return req, setup


def fix_summary(builder: buildx.Builder, tags: Sequence[str], insecure: Iterable[str]) -> str:
    """What the one-click fix does ("Recreate builder b with host network and 127.0.0.1:5000
    over HTTP")."""
    items = list(insecure)
    hosts = registry_hosts(tags)
    parts = ["host network"] if any(registries.is_loopback(h) for h in hosts) else []
    parts += [f"{h} over HTTP" for h in hosts if registries.needs_http(h, items)]
    return f"Recreate builder {builder.name} with {' and '.join(parts) or 'its registries'}"


@dataclass(frozen=True)
class Lane:
    """Where one platform of a build runs: its node, and whether natively (None: unknown)."""

    node: str
    native: bool | None


@dataclass(frozen=True)
class BuildPlan:
    """Before a build: the builder it uses, the node of each platform, and what is wrong."""

    builder: buildx.Builder | None
    lanes: Mapping[Platform, Lane] = field(default_factory=dict)
    misrouted: tuple[routing.RoutingProblem, ...] = ()  # warnings: the build still runs
    push: tuple[str, ...] = ()  # refusals, each with its fix
    fix: str = ""  # the one-click fix of ``push`` ('' when recreating cannot fix it)


def lanes(builder: buildx.Builder, platforms: Iterable[Platform]) -> dict[Platform, Lane]:
    """Per platform: buildx's node for it (:func:`routing.route`), native when that node's
    native platform is known."""
    known = routing.natives(builder)
    return {
        p: Lane(where.node, where.native if where.node in known else None)
        for p, where in routing.route(builder, platforms).items()
    }


async def plan_build(
    builder_name: str | None, platforms: Sequence[Platform], tags: Sequence[str], push: bool
) -> BuildPlan:
    """The join the GUI's build start needs (the CLI prints the same facts its own way)."""
    builder = await resolve_builder(builder_name or None)
    if builder is None:
        return BuildPlan(None)
    if len(builder.nodes) > 1:
        (builder,) = await routing.pinned_builders([builder])
    problems: list[str] = []
    fix = ""
    if push and builder.driver == "docker-container":
        try:
            insecure = (await engine.daemon_info()).insecure_registries
        except engine.EngineError as exc:
            _log.warning("cannot read the daemon's insecure registries: %s", exc)
            insecure = []
        problems = push_problems(builder, tags, insecure)
        if problems and fixable(builder):
            fix = fix_summary(builder, tags, insecure)
    return BuildPlan(
        builder,
        lanes(builder, platforms),
        tuple(routing.misrouted(builder, platforms)) if len(builder.nodes) > 1 else (),
        tuple(problems),
        fix,
    )


async def recreate_for_push(
    name: str, tags: Sequence[str], progress: buildx.ProgressCallback | None = None
) -> buildx.Builder:
    """Remove builder ``name`` and create it again so that it can push to ``tags``' registries.

    Its build cache goes with it. Raises :class:`~mabgui.core.buildx.BuildxError` (nothing is
    removed when the builder is not one :func:`fixable` accepts).
    """
    builder = await buildx.get_builder(name)
    if len(builder.nodes) > 1:
        builder = routing.with_pins([builder], await routing.load_pins())[0]
    if not fixable(builder):
        raise buildx.BuildxError(
            f"builder {name} cannot be fixed by recreating it: its nodes run on other machines",
            "Push to an address of the registry that every node reaches.",
        )
    try:
        insecure = (await engine.daemon_info()).insecure_registries
    except engine.EngineError as exc:
        _log.warning("cannot read the daemon's insecure registries: %s", exc)
        insecure = []
    req, setup = recreate_request(builder, registry_hosts(tags), insecure)
    path = registries.write_config(setup.config_text) if setup.config_text else ""
    req = registries.apply(req, setup, path)
    say = progress or (lambda _line: None)
    try:
        say(f"$ docker buildx rm -- {name}")
        await buildx.remove([name])
        result = await buildx.create(req, progress=progress)
    finally:
        if path:
            with contextlib.suppress(OSError):
                os.unlink(path)
    if result.error is not None:
        raise result.error
    if result.builder is None:
        return await buildx.get_builder(name)
    return result.builder

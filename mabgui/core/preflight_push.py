"""Before a build: which builder will run it, and can it push where the tags point?

A join of buildx (builders, their network and buildkitd config), the registry references of the
tags and the daemon's insecure registries. Pure decisions live in
:func:`mabgui.core.buildx.registries.push_problem`; this module gathers the facts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from mabgui.core import buildx, engine, log
from mabgui.core.buildx import registries
from mabgui.core.errors import MabguiError
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

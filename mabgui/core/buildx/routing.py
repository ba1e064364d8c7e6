"""Which node of a multi-node builder builds each platform, natively or under QEMU.

buildx's own rule (build/driver.go, ``nodeResolver.Resolve``), as a pure function:

1. Each requested platform is matched *strictly* against the platforms each node is **pinned**
   to (``create --platform``). When every platform finds a node that way, each goes there.
2. Otherwise buildx boots every node and matches each platform against the node's pinned plus
   detected (worker) platforms, with containerd's ``platforms.Only`` (amd64 also runs 386, arm64
   also runs arm/v8…v5): the first node that matches wins, unless a later node matches the
   platform more closely. No match at all goes to the first node.

So an unpinned 2-node builder (amd64 node first, an arm64 node second) builds linux/arm64 on the
amd64 node under QEMU, since that node's worker lists linux/arm64 too (docker/buildx#366). Native
is decided **per node**: the platform its worker lists first (never the machine mabgui runs on).

``docker buildx ls --format json`` merges pinned and detected platforms of a running node, so the
pins are read separately (:func:`load_pins`: the builder's node group, a public ``--format`` field
of both buildx 0.13 and 0.30). A node pinned to a platform it does not run natively lists that
platform first: its native platform is then taken to be the pinned one (buildx gives no other).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

from mabgui.core import log, process
from mabgui.core.buildx import (
    CHANGE_TIMEOUT_S,
    LS_TIMEOUT_S,
    Builder,
    BuildxError,
    Node,
    ProgressCallback,
    command_error,
    get_builder,
    run_buildx,
)
from mabgui.core.platform import Platform, is_emulated

_log = log.get("buildx")

PINS_TEMPLATE = "{{.Builder.Name}}\t{{json .Builder.NodeGroup.Nodes}}"


class Route(NamedTuple):
    """Where one platform of a build runs: the node, and whether natively there."""

    node: str
    native: bool


# --- containerd's platform matching (platforms.OnlyStrict / platforms.Only) -----------------------


def compatible_platforms(p: Platform) -> list[Platform]:
    """The platforms a node listing ``p`` can build, best first (containerd ``platformVector``)."""
    out = [p]
    if p.architecture == "amd64":
        level = int(p.variant[1:]) if p.variant[1:].isdigit() else 1
        out += [Platform(p.os, "amd64", f"v{v}" if v > 1 else "") for v in range(level - 1, 0, -1)]
        out.append(Platform(p.os, "386"))
    elif p.architecture == "arm":
        level = int(p.variant[1:]) if p.variant[1:].isdigit() else 7
        out += [Platform(p.os, "arm", f"v{v}") for v in range(level - 1, 4, -1)]
    elif p.architecture == "arm64":
        out += [Platform(p.os, "arm", f"v{v}") for v in range(8, 4, -1)]
    return out


def _matches(offered: Platform, wanted: Platform, strict: bool) -> bool:
    return offered == wanted if strict else wanted in compatible_platforms(offered)


def _closer(offered: Platform, wanted: Platform, best: Platform) -> bool:
    """containerd's ``Only(offered).Less(wanted, best)``: is ``wanted`` ranked before ``best``?"""
    for candidate in compatible_platforms(offered):
        hit_wanted, hit_best = candidate == wanted, candidate == best
        if hit_wanted and not hit_best:
            return True
        if hit_wanted or hit_best:
            return False
    return False


def _pick(lists: Sequence[Sequence[Platform]], wanted: Platform, strict: bool) -> int:
    """buildx's ``nodeResolver.get``: the index of the node for ``wanted``, or -1."""
    best, best_platform = -1, wanted
    for i, offered in enumerate(lists):
        for p in offered:
            if not _matches(p, wanted, strict):
                continue
            if best == -1 or (not strict and _closer(p, wanted, best_platform)):
                best, best_platform = i, p
    return best


# --- per node facts -------------------------------------------------------------------------------


def node_native(node: Node) -> Platform | None:
    """The platform the node's worker lists first (its native one); None when not reported."""
    if node.status != "running" or not node.platforms:
        return None
    return node.platforms[0]


def route(builder: Builder, platforms: Iterable[Platform]) -> dict[Platform, Route]:
    """Where buildx sends each of ``platforms`` on ``builder`` (pure; see the module docstring).

    Nodes that are not running have no detected platforms: only their pins count for them, as
    when buildx cannot boot them. ``native`` is False when the node's native platform is unknown.
    """
    wanted = list(dict.fromkeys(platforms))
    nodes = builder.nodes
    if not nodes or not wanted:
        return {}
    pinned = [list(n.pinned) for n in nodes]
    chosen = [_pick(pinned, p, strict=True) for p in wanted]
    if any(i < 0 for i in chosen):
        offered = [list(dict.fromkeys([*n.pinned, *n.platforms])) for n in nodes]
        chosen = [max(_pick(offered, p, strict=False), 0) for p in wanted]
    out = {}
    for p, i in zip(wanted, chosen, strict=True):
        native = node_native(nodes[i])
        out[p] = Route(nodes[i].name, native is not None and not is_emulated(p, native))
    return out


# --- the problem, and its fix ---------------------------------------------------------------------


@dataclass(frozen=True)
class RoutingProblem:
    """A platform built under QEMU on one node while another node runs it natively."""

    builder: str
    platform: Platform
    chosen_node: str  # where buildx sends it
    native_nodes: tuple[str, ...]  # nodes that run it natively
    unpinned: tuple[str, ...]  # nodes without a pin to their native platform
    pinned_nowhere: tuple[Platform, ...] = ()  # platforms of the build no node is pinned to

    @property
    def message(self) -> str:
        return (
            f"builder {self.builder} builds {self.platform} under QEMU on node "
            f"{self.chosen_node}, while node {', '.join(self.native_nodes)} runs it natively"
        )

    @property
    def reason(self) -> str:
        rule = (
            "buildx sends each platform to a pinned node only when every platform of the build is "
            "pinned; otherwise the first node that lists a platform gets it, emulated or not "
            "(docker/buildx#366)."
        )
        if self.unpinned:
            return f"{rule} Not pinned to their native platform: {', '.join(self.unpinned)}."
        names = ", ".join(str(p) for p in self.pinned_nowhere)
        return f"{rule} Every node is pinned, but no node is pinned to {names}."

    @property
    def fix(self) -> str:
        if self.unpinned:
            return f"mabgui builder pin-native {self.builder}"
        names = ", ".join(str(p) for p in self.pinned_nowhere)
        return (
            f"build {names} in a separate build, or pin it to a node too "
            f"(docker buildx create --append --name {self.builder} --node NODE "
            "--platform ITS,PINS,AND,THIS ENDPOINT)"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "routing",
            "platform": str(self.platform),
            "node": self.chosen_node,
            "native_nodes": list(self.native_nodes),
            "unpinned_nodes": list(self.unpinned),
            "pinned_nowhere": [str(p) for p in self.pinned_nowhere],
            "message": self.message,
            "detail": self.reason,
            "fix": self.fix,
            "action": "pin-native" if self.unpinned else "",
        }


def natives(builder: Builder) -> dict[str, Platform]:
    """Node name → its native platform, for the nodes that report one."""
    out = {}
    for n in builder.nodes:
        native = node_native(n)
        if native is not None:
            out[n.name] = native
    return out


def misrouted(builder: Builder, platforms: Iterable[Platform]) -> list[RoutingProblem]:
    """The platforms of a build for ``platforms`` that go to QEMU though a node runs them natively.

    What mabgui warns about before a build (and the Builders view for the nodes' own platforms).
    """
    own = natives(builder)
    unpinned = tuple(n.name for n in builder.nodes if n.name in own and own[n.name] not in n.pinned)
    routes = route(builder, platforms)
    pins = {p for n in builder.nodes for p in n.pinned}
    nowhere = tuple(p for p in routes if p not in pins)
    out = []
    for p, where in routes.items():
        if where.native:
            continue
        native_nodes = tuple(
            name
            for name, native in own.items()
            if name != where.node and not is_emulated(p, native)
        )
        if native_nodes:
            out.append(RoutingProblem(builder.name, p, where.node, native_nodes, unpinned, nowhere))
    return out


def routing_problems(builder: Builder) -> list[RoutingProblem]:
    """For a multi-node builder: the native platforms of its nodes that a build of all of them
    would emulate on another node (what ``pin_native`` fixes)."""
    if len(builder.nodes) < 2:
        return []
    return misrouted(builder, dict.fromkeys(natives(builder).values()))


def pin_argv(builder: Builder, node: Node, platform: Platform) -> list[str]:
    """``docker buildx`` arguments re-pinning ``node`` of ``builder`` to ``platform``.

    ``create --append`` with an existing node name updates that node; buildx asks the endpoint
    again (the remote driver refuses "no remote endpoint provided" without it).
    """
    args = ["create", "--append", "--name", builder.name, "--node", node.name,
            "--platform", str(platform)]  # fmt: skip
    if node.endpoint and builder.driver != "kubernetes":
        args.append(node.endpoint)
    return args


def pin_commands(builder: Builder) -> list[list[str]]:
    """The ``docker buildx`` argument lists of :func:`pin_native` (for display and the GUI)."""
    out = []
    for node in builder.nodes:
        native = node_native(node)
        if native is not None and tuple(node.pinned) != (native,):
            out.append(pin_argv(builder, node, native))
    return out


async def pin_native(name: str, progress: ProgressCallback | None = None) -> Builder:
    """Pin each running node of builder ``name`` to its native platform; returns the builder.

    Every node must be running (its native platform is what its worker lists first): a node
    that is not raises :class:`BuildxError` before anything changes.
    """
    say = progress or (lambda _line: None)
    builder = await get_builder(name)
    builder = with_pins([builder], await load_pins())[0]
    down = [n.name for n in builder.nodes if node_native(n) is None]
    if down:
        raise BuildxError(
            f"cannot tell what node {', '.join(down)} of builder {name} runs natively: "
            "it is not running",
            f"Start it first (`mabgui builder bootstrap {name}`), or remove the node.",
        )
    for args in pin_commands(builder):
        say("$ docker buildx " + " ".join(args))
        res = await run_buildx(args, CHANGE_TIMEOUT_S)
        if not res.ok:
            raise command_error(res, f"cannot pin a node of builder {name!r}", builder.driver)
    return with_pins([await get_builder(name)], await load_pins())[0]


# --- pins: read apart from `ls --format json` -----------------------------------------------------


def parse_pins(text: str) -> dict[str, dict[str, tuple[Platform, ...]]]:
    """``ls --format PINS_TEMPLATE`` → builder → node → pinned platforms (unparseable skipped)."""
    out: dict[str, dict[str, tuple[Platform, ...]]] = {}
    for line in text.splitlines():
        name, sep, raw = line.partition("\t")
        if not sep or name in out:
            continue
        try:
            nodes = json.loads(raw) or []
        except ValueError:
            continue
        pins: dict[str, tuple[Platform, ...]] = {}
        for node in nodes if isinstance(nodes, list) else []:
            if not isinstance(node, dict):
                continue
            platforms = []
            for p in node.get("Platforms") or []:
                if not isinstance(p, dict):
                    continue
                parts = [p.get("os") or "linux", p.get("architecture") or "", p.get("variant")]
                parsed = Platform.try_parse("/".join(str(x) for x in parts if x))
                if parsed is not None:
                    platforms.append(parsed)
            pins[str(node.get("Name") or "")] = tuple(platforms)
        out[name] = pins
    return out


def with_pins(
    builders: Iterable[Builder], pins: Mapping[str, Mapping[str, tuple[Platform, ...]]]
) -> list[Builder]:
    """The builders with each node's ``pinned`` set from ``pins`` (left as is when unknown)."""
    out = []
    for b in builders:
        known = pins.get(b.name)
        if known is None:
            out.append(b)
            continue
        nodes = tuple(replace(n, pinned=known.get(n.name, n.pinned)) for n in b.nodes)
        out.append(replace(b, nodes=nodes))
    return out


async def load_pins(timeout_s: float = LS_TIMEOUT_S) -> dict[str, dict[str, tuple[Platform, ...]]]:
    """Every builder's pinned platforms per node; empty when buildx cannot say (never raises)."""
    try:
        res = await run_buildx(["ls", "--format", PINS_TEMPLATE], timeout_s)
    except (BuildxError, process.CommandTimeout) as exc:
        _log.warning("cannot read the builders' pinned platforms: %s", exc)
        return {}
    if not res.ok:
        _log.warning("cannot read the builders' pinned platforms: %s", res.stderr.strip()[:200])
        return {}
    return parse_pins(res.stdout)


async def pinned_builders(builders: Sequence[Builder]) -> list[Builder]:
    """``builders`` with their pins read, when any has several nodes (only routing needs them)."""
    if not any(len(b.nodes) > 1 for b in builders):
        return list(builders)
    return with_pins(builders, await load_pins())

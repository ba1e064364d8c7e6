"""buildx builders, nodes and their build cache as typed data (no I/O here).

Whether a platform is native is decided per node (:attr:`Node.native_platform`), never from the
machine mabgui runs on: a node on the docker daemon mabgui talks to runs that daemon's
architecture; any other node runs what its BuildKit worker reports first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from mabgui.core.buildx.errors import BuildxError
from mabgui.core.engine import EngineFacts
from mabgui.core.platform import Platform

# Drivers whose nodes run on a docker daemon (so on the daemon mabgui asked, when it is theirs).
DAEMON_DRIVERS = frozenset({"docker", "docker-container"})


@dataclass(frozen=True)
class GCPolicy:
    """One BuildKit garbage-collection rule, as buildx reports it."""

    all: bool = False
    filters: tuple[str, ...] = ()
    keep_duration: str = ""
    keep_bytes: str = ""

    def __str__(self) -> str:
        parts = ["all records" if self.all else "unused records"]
        if self.filters:
            parts.append("matching " + ", ".join(self.filters))
        if self.keep_duration:
            parts.append(f"kept {self.keep_duration}")
        if self.keep_bytes:
            parts.append(f"up to {self.keep_bytes}")
        return "; ".join(parts)


@dataclass(frozen=True)
class Node:
    """One BuildKit node of a builder."""

    name: str
    endpoint: str
    status: str = ""
    buildkit: str = ""
    platforms: tuple[Platform, ...] = ()
    pinned: tuple[Platform, ...] = ()  # set with `create --platform` (a `*` in buildx ls)
    error: str = ""
    flags: tuple[str, ...] = ()
    driver_opts: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    ids: tuple[str, ...] = ()
    gc_policy: tuple[GCPolicy, ...] = ()
    unparsed_platforms: tuple[str, ...] = ()
    host: str = ""  # the docker host behind a context-name endpoint, when known
    files: Mapping[str, str] = field(default_factory=dict)  # buildkitd.toml… (base64, from ls)
    # The architecture of the docker daemon this node runs on, when that is the daemon mabgui
    # asked (see :func:`with_engine`); None for remote nodes and other contexts.
    daemon_platform: Platform | None = None

    @property
    def local(self) -> bool:
        """True when the node runs on this machine's kernel (a local socket or named pipe)."""
        target = self.host or self.endpoint
        return target.startswith(("unix://", "npipe://"))

    @property
    def reported_platforms(self) -> tuple[Platform, ...]:
        """The platforms BuildKit's worker reported, native first (None before it started).

        buildx lists the platforms fixed with ``create --platform`` first, then the worker's.
        """
        if self.status != "running":
            return ()
        reported = tuple(p for p in self.platforms if p not in self.pinned)
        return reported or self.platforms

    @property
    def native_platform(self) -> Platform | None:
        """The platform this node builds without emulation, or None when unknown.

        A node on the daemon mabgui asked runs that daemon's architecture (even when pinned to
        other platforms); any other node runs the first platform its BuildKit worker reports.
        """
        if self.daemon_platform is not None:
            return self.daemon_platform
        reported = self.reported_platforms
        return reported[0] if reported else None

    def is_native(self, platform: Platform) -> bool | None:
        """True/False when this node runs ``platform`` natively/emulated; None when unknown."""
        native = self.native_platform
        return None if native is None else platform.family == native.family

    def to_json(self) -> dict[str, Any]:
        native = self.native_platform
        return {
            "name": self.name,
            "endpoint": self.endpoint,
            "status": self.status,
            "buildkit": self.buildkit,
            "platforms": [str(p) for p in self.platforms],
            "error": self.error,
            "pinned_platforms": [str(p) for p in self.pinned],
            "local": self.local,
            "native_platform": str(native) if native is not None else None,
        }


@dataclass(frozen=True)
class Builder:
    """A buildx builder instance and its nodes."""

    name: str
    driver: str
    nodes: tuple[Node, ...] = ()
    current: bool = False
    error: str = ""
    last_activity: str = ""
    dynamic: bool = False

    @property
    def status(self) -> str:
        """One word for the whole builder: error, running, partial, or its nodes' status."""
        if self.error:
            return "error"
        states = [n.status for n in self.nodes]
        if not states:
            return ""
        if "error" in states:
            return "error"
        if all(s == "running" for s in states):
            return "running"
        if "running" in states:
            return "partial"
        return states[0]

    @property
    def platforms(self) -> list[Platform]:
        """Every platform any node offers, in node order, without duplicates."""
        seen: dict[Platform, None] = {}
        for node in self.nodes:
            for p in node.platforms:
                seen.setdefault(p, None)
        return list(seen)

    def native_platforms(self) -> list[Platform]:
        """The platforms some node of this builder runs natively, in node order, no duplicates."""
        seen: dict[Platform, None] = {}
        for node in self.nodes:
            if (native := node.native_platform) is not None:
                seen.setdefault(native, None)
        return list(seen)

    def node(self, name: str) -> Node | None:
        return next((n for n in self.nodes if n.name == name), None)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "driver": self.driver,
            "current": self.current,
            "status": self.status,
            "error": self.error,
            "last_activity": self.last_activity,
            "nodes": [n.to_json() for n in self.nodes],
        }


@dataclass(frozen=True)
class DiskUsage:
    """Totals of ``docker buildx du`` (bytes)."""

    builder: str
    records: int
    shared: int
    private: int
    reclaimable: int
    total: int

    def to_json(self) -> dict[str, Any]:
        return {
            "builder": self.builder,
            "records": self.records,
            "shared_bytes": self.shared,
            "private_bytes": self.private,
            "reclaimable_bytes": self.reclaimable,
            "total_bytes": self.total,
        }


@dataclass(frozen=True)
class NodeSpec:
    """One node of a builder to create: where it runs and what it builds."""

    endpoint: str = ""  # a docker context name, unix://, tcp://, ssh://…; "" = current context
    name: str = ""
    platforms: tuple[Platform, ...] = ()
    driver_opts: Mapping[str, str] = field(default_factory=dict)
    buildkitd_flags: str = ""
    buildkitd_config: str = ""  # a buildkitd.toml path (see buildx.registries)


@dataclass(frozen=True)
class CreateRequest:
    """What ``mabgui builder create`` and the New-builder dialog ask buildx for."""

    name: str
    driver: str = "docker-container"
    nodes: tuple[NodeSpec, ...] = (NodeSpec(),)
    append: bool = False  # add the nodes to an existing builder
    bootstrap: bool = True
    use: bool = False
    keep_on_failure: bool = False  # keep what was created when the bootstrap fails


@dataclass(frozen=True)
class CreateResult:
    builder: Builder | None
    bootstrapped: bool
    error: BuildxError | None = None  # the bootstrap error when the builder was kept
    removed: bool = False  # what was created was removed again after a failure


def on_daemon(node: Node, driver: str, facts: EngineFacts) -> bool:
    """True when ``node`` (of a builder with ``driver``) runs on the daemon ``facts`` describe."""
    if driver not in DAEMON_DRIVERS:
        return False
    if facts.context and node.endpoint == facts.context:
        return True
    target = node.host or node.endpoint
    return bool(facts.endpoint) and target == facts.endpoint


def with_engine(builders: Iterable[Builder], facts: EngineFacts | None) -> list[Builder]:
    """``builders`` with :attr:`Node.daemon_platform` set on the nodes that run on ``facts``'s
    daemon (resolve the nodes' hosts first, :func:`~mabgui.core.buildx.resolve_hosts`)."""
    out = list(builders)
    daemon = facts.platform if facts is not None else None
    if facts is None or daemon is None:
        return out
    return [
        replace(b, nodes=tuple(
            replace(n, daemon_platform=daemon) if on_daemon(n, b.driver, facts) else n
            for n in b.nodes
        ))
        for b in out
    ]  # fmt: skip

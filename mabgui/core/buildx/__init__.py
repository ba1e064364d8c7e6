"""buildx builders as data: list, inspect, create, bootstrap, use, stop, rm and du.

An async adapter over the ``docker buildx`` CLI (argv lists through :mod:`mabgui.core.process`,
never a shell). Every call has a timeout and returns a typed result or raises
:class:`BuildxError` carrying buildx's own message plus a hint where buildx is cryptic.
The parsers are pure functions over recorded real output (``tests/fixtures/buildx``).

Listing uses ``docker buildx ls --format`` with a template that prints the same JSON object as
``--format json`` prefixed with the builder's *current* flag (buildx 0.13's JSON drops it, and
prints each builder once more per node: lines are deduplicated by name). buildx versions without
``--format`` fall back to parsing the text table.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from mabgui.core import process
from mabgui.core.errors import MabguiError
from mabgui.core.platform import Platform, PlatformError, is_emulated

LS_TIMEOUT_S = 30.0
INSPECT_TIMEOUT_S = 30.0
BOOTSTRAP_TIMEOUT_S = 300.0
CHANGE_TIMEOUT_S = 60.0
# buildx waits this long for a node before reporting it (newer buildx take `ls --timeout`).
NODE_TIMEOUT_S = 20

LS_TEMPLATE = "{{.Builder.Current}} {{json .}}"
DRIVERS = ("docker-container", "remote", "kubernetes")
_NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]*$")

ProgressCallback = Callable[[str], None]


# --- errors ---------------------------------------------------------------------------------------


class BuildxError(MabguiError):
    """A buildx command failed; ``str()`` is buildx's own message, ``hint`` says what to do."""

    def __init__(self, message: str, hint: str = "", output: str = "") -> None:
        super().__init__(message)
        self.hint = hint
        self.output = output


class BuilderNotFound(BuildxError):
    """No builder of that name exists."""


class BuildxUnavailable(BuildxError):
    """The docker CLI or its buildx plugin is missing."""


class BuildxTimeout(BuildxError):
    """buildx did not answer in time; it was stopped."""


# --- data -----------------------------------------------------------------------------------------


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

    @property
    def local(self) -> bool:
        """True when the node runs on this machine's kernel (a local socket or named pipe)."""
        target = self.host or self.endpoint
        return target.startswith(("unix://", "npipe://"))

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "endpoint": self.endpoint,
            "status": self.status,
            "buildkit": self.buildkit,
            "platforms": [str(p) for p in self.platforms],
            "error": self.error,
            "pinned_platforms": [str(p) for p in self.pinned],
            "local": self.local,
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


# --- parsing: buildx ls ---------------------------------------------------------------------------


def _platforms(
    values: Iterable[str],
) -> tuple[tuple[Platform, ...], tuple[Platform, ...], tuple[str, ...]]:
    """Parse platform strings (``*`` marks a pinned one): (all, pinned, unparseable)."""
    seen: dict[Platform, None] = {}
    pinned: dict[Platform, None] = {}
    bad: list[str] = []
    for raw in values:
        text = raw.strip()
        if not text:
            continue
        star = text.endswith("*")
        try:
            platform = Platform.parse(text.rstrip("*"))
        except PlatformError:
            bad.append(text)
            continue
        seen.setdefault(platform, None)
        if star:
            pinned.setdefault(platform, None)
    return tuple(seen), tuple(pinned), tuple(bad)


def _gc_from_json(items: Any) -> tuple[GCPolicy, ...]:
    out = []
    for item in items or ():
        if not isinstance(item, dict):
            continue
        item = {k[:1].upper() + k[1:]: v for k, v in item.items()}  # 0.13+: "keepBytes"…
        filters = item.get("Filter") or item.get("Filters") or ()
        keep_bytes = item.get("KeepBytes") or item.get("ReservedSpace") or ""
        out.append(
            GCPolicy(
                all=bool(item.get("All", False)),
                filters=tuple(str(f) for f in filters),
                keep_duration=_duration(item.get("KeepDuration")),
                keep_bytes=str(keep_bytes) if keep_bytes else "",
            )
        )
    return tuple(out)


def _duration(value: Any) -> str:
    if isinstance(value, int | float) and value:
        seconds = int(value / 1_000_000_000) if value > 10**9 else int(value)
        hours, rest = divmod(seconds, 3600)
        return f"{hours}h{rest // 60}m" if hours else f"{rest // 60}m{rest % 60}s"
    return str(value) if value else ""


def _node_from_json(data: Mapping[str, Any]) -> Node | None:
    name = str(data.get("Name") or "")
    if not name:  # an errored builder carries one empty placeholder node
        return None
    platforms, _, bad = _platforms(str(p) for p in data.get("Platforms") or ())
    error = str(data.get("Err") or "").strip()
    status = str(data.get("Status") or ("error" if error else ""))
    # BuildKit has not reported for a node that is not running: the platforms buildx lists
    # for it are the ones fixed with `create --platform` (the `*` of the text table).
    pinned = platforms if status != "running" else ()
    return Node(
        name=name,
        endpoint=str(data.get("Endpoint") or ""),
        status=status,
        buildkit=str(data.get("Version") or ""),
        platforms=platforms,
        pinned=pinned,
        error=error,
        flags=tuple(str(f) for f in data.get("Flags") or ()),
        driver_opts={str(k): str(v) for k, v in (data.get("DriverOpts") or {}).items()},
        labels={str(k): str(v) for k, v in (data.get("Labels") or {}).items()},
        ids=tuple(str(i) for i in data.get("IDs") or ()),
        gc_policy=_gc_from_json(data.get("GCPolicy")),
        unparsed_platforms=bad,
        files={str(k): str(v) for k, v in (data.get("Files") or {}).items()},
    )


def builder_from_json(data: Mapping[str, Any], current: bool | None = None) -> Builder:
    """One builder object as ``docker buildx ls --format json`` prints it."""
    nodes = tuple(n for n in (_node_from_json(d) for d in data.get("Nodes") or ()) if n)
    activity = str(data.get("LastActivity") or "")
    if activity.startswith("0001-01-01"):
        activity = ""
    return Builder(
        name=str(data.get("Name") or ""),
        driver=str(data.get("Driver") or ""),
        nodes=nodes,
        current=bool(data.get("Current", False)) if current is None else current,
        error=str(data.get("Err") or "").strip(),
        last_activity=activity,
        dynamic=bool(data.get("Dynamic", False)),
    )


def parse_ls_json(text: str) -> list[Builder]:
    """Parse ``buildx ls --format json`` or the ``LS_TEMPLATE`` output (``true {json}`` lines).

    Builders appear once per line, repeated per node by buildx 0.13: keep the first of each name.
    Raises :class:`BuildxError` when a line is neither.
    """
    builders: dict[str, Builder] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        current: bool | None = None
        if line.startswith(("true ", "false ")):
            flag, line = line.split(" ", 1)
            current = flag == "true"
        try:
            data = json.loads(line)
        except ValueError as exc:
            raise BuildxError(f"unexpected output from `docker buildx ls`: {raw[:200]!r}") from exc
        if not isinstance(data, dict):
            raise BuildxError(f"unexpected output from `docker buildx ls`: {raw[:200]!r}")
        builder = builder_from_json(data, current)
        if builder.name and builder.name not in builders:
            builders[builder.name] = builder
    return list(builders.values())


_LS_ERR_BUILDER = re.compile(r"^Cannot load builder (?P<b>\S+): (?P<msg>.*)$")
_LS_ERR_NODE = re.compile(r"^Failed to get status for (?P<b>\S+) \((?P<n>[^)]*)\): (?P<msg>.*)$")


def parse_ls_table(stdout: str, stderr: str = "") -> list[Builder]:
    """Parse the text table of ``docker buildx ls`` (and its stderr's error lines).

    Columns are cut at the header's offsets: the table is aligned by a tabwriter, and empty
    cells are blanks. Works for the ``\\_`` style of buildx 0.13 and older indented tables.
    """
    lines = [ln.rstrip("\n") for ln in stdout.splitlines() if ln.strip()]
    if not lines or not lines[0].startswith("NAME/NODE"):
        raise BuildxError(f"unexpected output from `docker buildx ls`: {stdout[:200]!r}")
    header = lines[0]
    names = ["NAME/NODE", "DRIVER/ENDPOINT", "STATUS", "BUILDKIT", "PLATFORMS"]
    starts = [header.find(n) for n in names]
    builder_errors: dict[str, str] = {}
    node_errors: dict[tuple[str, str], str] = {}
    for ln in stderr.splitlines():
        if m := _LS_ERR_BUILDER.match(ln.strip()):
            builder_errors[m["b"]] = m["msg"].strip()
        elif m := _LS_ERR_NODE.match(ln.strip()):
            node_errors[(m["b"], m["n"])] = m["msg"].strip()

    def cell(line: str, i: int) -> str:
        if starts[i] < 0:
            return ""
        ends = [s for s in starts[i + 1 :] if s >= 0]
        end = ends[0] if ends else None
        return line[starts[i] : end].strip() if end is not None else line[starts[i] :].strip()

    out: list[Builder] = []
    pending: dict[str, Any] | None = None
    for line in lines[1:]:
        first = cell(line, 0)
        is_node = line.startswith(" ") or first.startswith("\\_")
        if not is_node:
            if pending is not None:
                out.append(_builder_from_table(pending, builder_errors))
            name = first.strip()
            current = name.endswith("*")
            name = name.rstrip("*").strip()
            pending = {"name": name, "driver": cell(line, 1), "current": current,
                       "status": cell(line, 2), "nodes": []}  # fmt: skip
            continue
        if pending is None:
            continue
        node_name = first.removeprefix("\\_").strip()
        endpoint = cell(line, 1).removeprefix("\\_").strip()
        plats = [p for p in cell(line, 4).split(",") if p.strip()]
        platforms, pinned, bad = _platforms(plats)
        status = cell(line, 2)
        pending["nodes"].append(
            Node(
                name=node_name,
                endpoint=endpoint,
                status=status,
                buildkit=cell(line, 3),
                platforms=platforms,
                pinned=pinned,
                error=node_errors.get((pending["name"], node_name), ""),
                unparsed_platforms=bad,
            )
        )
    if pending is not None:
        out.append(_builder_from_table(pending, builder_errors))
    return out


def _builder_from_table(row: Mapping[str, Any], errors: Mapping[str, str]) -> Builder:
    error = errors.get(row["name"], "")
    if not error and row["status"] == "error":
        error = "buildx reported an error for this builder"
    return Builder(
        name=row["name"],
        driver=row["driver"],
        nodes=tuple(row["nodes"]),
        current=row["current"],
        error=error,
    )


# --- parsing: buildx inspect ----------------------------------------------------------------------


def _kv(line: str) -> tuple[str, str] | None:
    if ":" not in line:
        return None
    key, value = line.split(":", 1)
    return key.strip(), value.strip()


_DRIVER_OPT = re.compile(r'([\w.-]+)="((?:[^"\\]|\\.)*)"')


def parse_inspect(text: str) -> Builder:
    """Parse ``docker buildx inspect [--bootstrap]`` text into a :class:`Builder`."""
    head, _, rest = text.partition("\nNodes:")
    fields: dict[str, str] = {}
    for line in head.splitlines():
        if kv := _kv(line):
            fields.setdefault(kv[0], kv[1])
    if "Name" not in fields:
        raise BuildxError(f"unexpected output from `docker buildx inspect`: {text[:200]!r}")
    nodes = []
    for block in re.split(r"\n\s*\n", rest.strip("\n")):
        node = _parse_inspect_node(block)
        if node is not None:
            nodes.append(node)
    activity = fields.get("Last Activity", "")
    return Builder(
        name=fields["Name"],
        driver=fields.get("Driver", ""),
        nodes=tuple(nodes),
        error=fields.get("Error", ""),
        last_activity=activity,
        dynamic=fields.get("Dynamic", "").lower() == "true",
    )


def _parse_inspect_node(block: str) -> Node | None:
    fields: dict[str, str] = {}
    labels: dict[str, str] = {}
    gc_rules: list[dict[str, str]] = []
    section = ""
    for line in block.splitlines():
        if not line.strip():
            continue
        indented = line.startswith((" ", "\t"))
        if not indented:
            kv = _kv(line)
            if kv is None:
                continue
            key, value = kv
            if key.lower().startswith("gc policy rule"):  # buildx ≥ 0.13: "GC Policy rule#0:"
                gc_rules.append({})
                section = "GC Policy"
                continue
            section = key if not value else ""
            if key not in fields:
                fields[key] = value
            continue
        stripped = line.strip()
        if section == "Labels" and (kv := _kv(stripped)):
            labels[kv[0]] = kv[1]
        elif section == "GC Policy":
            if stripped.lower().startswith("rule #"):
                gc_rules.append({})
            elif (kv := _kv(stripped)) and gc_rules:
                gc_rules[-1][kv[0]] = kv[1]
    name = fields.get("Name", "")
    if not name:
        return None
    platforms, pinned, bad = _platforms(fields.get("Platforms", "").split(","))
    opts = {
        m[1]: m[2].replace('\\"', '"')
        for m in _DRIVER_OPT.finditer(fields.get("Driver Options", ""))
    }
    flags_text = fields.get("BuildKit daemon flags") or fields.get("Flags", "")
    error = fields.get("Error", "")
    return Node(
        name=name,
        endpoint=fields.get("Endpoint", ""),
        status=fields.get("Status", "error" if error else ""),
        buildkit=fields.get("BuildKit version") or fields.get("Buildkit", ""),
        platforms=platforms,
        pinned=pinned,
        error=error,
        flags=tuple(flags_text.split()) if flags_text else (),
        driver_opts=opts,
        labels=labels,
        gc_policy=tuple(
            GCPolicy(
                all=r.get("All", "").lower() == "true",
                filters=tuple(f.strip() for f in r.get("Filters", "").split(",") if f.strip()),
                keep_duration=r.get("Keep Duration", ""),
                keep_bytes=r.get("Keep Bytes", "") or r.get("Reserved Space", ""),
            )
            for r in gc_rules
        ),
        unparsed_platforms=bad,
    )


# --- parsing: buildx du ---------------------------------------------------------------------------

_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12, "pb": 10**15,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}  # fmt: skip


def parse_size(text: str) -> int:
    """``18.69MB`` → 18690000 (go-units spelling: decimal kB/MB/GB, or binary KiB/MiB…)."""
    m = re.match(r"^\s*([\d.]+)\s*([a-zA-Z]*)\s*\*?\s*$", text)
    if not m:
        raise ValueError(f"not a size: {text!r}")
    unit = (m[2] or "B").lower()
    if unit not in _UNITS:
        raise ValueError(f"unknown size unit in {text!r}")
    return round(float(m[1]) * _UNITS[unit])


def parse_du(text: str, builder: str = "") -> DiskUsage:
    """Totals from ``docker buildx du``; records are the table rows above them."""
    totals: dict[str, int] = {}
    records = 0
    for line in text.splitlines():
        kv = _kv(line)
        if kv and kv[0] in ("Shared", "Private", "Reclaimable", "Total"):
            with contextlib.suppress(ValueError):
                totals[kv[0]] = parse_size(kv[1])
        elif (line.strip() and not line.startswith("ID") and not kv) or (kv and kv[0] == "ID"):
            records += 1  # a table row, or a record of the --verbose form
    if "Total" not in totals and records == 0 and text.strip():
        raise BuildxError(f"unexpected output from `docker buildx du`: {text[:200]!r}")
    return DiskUsage(
        builder=builder,
        records=records,
        shared=totals.get("Shared", 0),
        private=totals.get("Private", 0),
        reclaimable=totals.get("Reclaimable", 0),
        total=totals.get("Total", 0),
    )


# --- errors: buildx's message and what it means ---------------------------------------------------


def error_message(output: str) -> str:
    """buildx's own error out of its stderr: the last ``ERROR:`` line, else the last line."""
    lines = [ln.strip() for ln in output.strip().splitlines() if ln.strip()]
    for line in reversed(lines):
        if line.startswith("ERROR:"):
            return line.removeprefix("ERROR:").strip()
    return lines[-1] if lines else ""


def explain(message: str, driver: str = "") -> str:
    """A hint for buildx messages that do not say what to do."""
    low = message.lower()
    if "moby/buildkit" in low and (
        "resolve reference" in low or "pull" in low or "no such host" in low
    ):
        return (
            "The docker-container driver runs BuildKit from the moby/buildkit image, which could "
            "not be pulled (is Docker Hub reachable?). Load the image with `docker load`, or point "
            "the builder at a mirror with --driver-opt image=REGISTRY/moby/buildkit:TAG; "
            "meanwhile the default `docker` builder still works."
        )
    if "cannot connect to the docker daemon" in low:
        return (
            "The Docker daemon behind this node is not running or not reachable: start it, or fix "
            "the docker context (`docker context ls`)."
        )
    if ("no builder" in low and "found" in low) or "failed to find instance" in low:
        return "No builder of that name: see `mabgui builders`."
    if "existing instance for" in low:
        return "A builder of that name exists: pick another name, or add a node to it (append)."
    if "kubernetes" in low or "kubeconfig" in low or "kubernetes_master" in low:
        return (
            "The kubernetes driver needs a working kubeconfig (~/.kube/config or KUBECONFIG) "
            "and a namespace it may create deployments in."
        )
    if "context deadline exceeded" in low or "waiting for connection" in low:
        return (
            "The BuildKit endpoint did not answer in time: check that buildkitd runs there and "
            "is reachable (address, port, firewall, TLS options)."
        )
    if "connection refused" in low:
        return "Nothing listens at that endpoint: start buildkitd there or fix the address."
    if "multiple platforms feature is currently not supported for docker driver" in low or (
        "multi-platform build is not supported for the docker driver" in low
    ):
        return DOCKER_DRIVER_MULTIPLATFORM_FIX
    if "permission denied" in low:
        return "Permission denied: add your user to the docker group, or run as a privileged user."
    return ""


DOCKER_DRIVER_MULTIPLATFORM_FIX = (
    "Create a docker-container builder (New multi-arch builder / `mabgui builder create`), or "
    'turn on the containerd image store: {"features": {"containerd-snapshotter": true}} in '
    "/etc/docker/daemon.json, then restart dockerd."
)


def _error(res: process.CommandResult, what: str, driver: str = "") -> BuildxError:
    output = (res.stderr + "\n" + res.stdout).strip()
    message = (
        error_message(res.stderr) or error_message(res.stdout) or f"exit code {res.returncode}"
    )
    hint = explain(output, driver)
    cls: type[BuildxError] = BuilderNotFound if _is_not_found(message) else BuildxError
    return cls(f"{what}: {message}", hint, output)


def _is_not_found(message: str) -> bool:
    low = message.lower()
    return ("no builder" in low and "found" in low) or "failed to find instance" in low


# --- running buildx -------------------------------------------------------------------------------

_unsupported_flags: set[str] = set()


async def _docker() -> str:
    try:
        return process.which("docker")
    except process.CommandNotFound:
        raise BuildxUnavailable(
            "the docker CLI was not found on PATH",
            "Install the Docker CLI (docker-ce-cli, docker.io or Docker Desktop).",
        ) from None


async def _buildx(args: Sequence[str], timeout_s: float) -> process.CommandResult:
    argv = [await _docker(), "buildx", *args]
    try:
        res = await process.run(argv, timeout=timeout_s)
    except process.CommandTimeout:
        raise BuildxTimeout(
            f"`docker buildx {' '.join(args[:2])}` did not answer within {timeout_s:g} s "
            "and was stopped",
            "A node may hang (an unreachable ssh:// or tcp:// endpoint): check it, or remove it.",
        ) from None
    except process.CommandNotFound as exc:
        raise BuildxUnavailable(str(exc), "Install the Docker CLI.") from None
    if not res.ok and "is not a docker command" in res.stderr:
        raise BuildxUnavailable(
            "the docker buildx plugin is not installed",
            "Install docker-buildx (Debian/Ubuntu: docker-buildx or docker-buildx-plugin).",
            res.stderr,
        )
    return res


def _unknown_flag(res: process.CommandResult, flag: str) -> bool:
    return not res.ok and f"unknown flag: {flag}" in res.stderr


async def docker_contexts() -> dict[str, str]:
    """Docker context name → docker host (``docker context ls``); empty when unavailable."""
    try:
        res = await process.run(
            [await _docker(), "context", "ls", "--format", "{{json .}}"], timeout=10.0
        )
    except (process.CommandTimeout, process.CommandNotFound, BuildxError):
        return {}
    return parse_contexts(res.stdout) if res.ok else {}


def parse_contexts(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        with contextlib.suppress(ValueError, AttributeError):
            data = json.loads(line)
            out[str(data["Name"])] = str(data.get("DockerEndpoint") or "")
    return out


def resolve_hosts(builders: Iterable[Builder], contexts: Mapping[str, str]) -> list[Builder]:
    """Fill each node's ``host`` from the docker context its endpoint names."""
    out = []
    for b in builders:
        nodes = tuple(
            replace(n, host=contexts.get(n.endpoint, n.host or n.endpoint)) for n in b.nodes
        )
        out.append(replace(b, nodes=nodes))
    return out


async def list_builders(timeout_s: float = LS_TIMEOUT_S) -> list[Builder]:
    """Every builder with its nodes (``docker buildx ls``), the current one marked."""
    args = ["ls", "--format", LS_TEMPLATE]
    if "ls --timeout" not in _unsupported_flags:
        args += ["--timeout", f"{NODE_TIMEOUT_S}s"]
    contexts = await docker_contexts()
    res = await _buildx(args, timeout_s)
    if _unknown_flag(res, "--timeout"):
        _unsupported_flags.add("ls --timeout")
        args = args[:3]
        res = await _buildx(args, timeout_s)
    if _unknown_flag(res, "--format"):
        res = await _buildx(["ls"], timeout_s)
        if not res.ok:
            raise _error(res, "docker buildx ls failed")
        return resolve_hosts(parse_ls_table(res.stdout, res.stderr), contexts)
    if not res.ok and "can't evaluate field Current" in res.stderr:
        # A buildx whose ls has --format but no Current: JSON for data, the table for the `*`.
        res = await _buildx(["ls", "--format", "json"], timeout_s)
        if not res.ok:
            raise _error(res, "docker buildx ls failed")
        table = await _buildx(["ls"], timeout_s)
        current = {b.name for b in parse_ls_table(table.stdout) if b.current} if table.ok else set()
        builders = [replace(b, current=b.name in current) for b in parse_ls_json(res.stdout)]
        return resolve_hosts(builders, contexts)
    if not res.ok:
        raise _error(res, "docker buildx ls failed")
    return resolve_hosts(parse_ls_json(res.stdout), contexts)


async def get_builder(name: str, timeout_s: float = LS_TIMEOUT_S) -> Builder:
    for b in await list_builders(timeout_s):
        if b.name == name:
            return b
    raise BuilderNotFound(f"no builder named {name!r}", "See `mabgui builders`.")


async def inspect(
    name: str | None = None,
    *,
    bootstrap: bool = False,
    progress: ProgressCallback | None = None,
    timeout_s: float | None = None,
) -> Builder:
    """``docker buildx inspect [--bootstrap] NAME``; with ``bootstrap``, stream its progress.

    Without a name, the current builder. Raises :class:`BuildxError` with buildx's message.
    """
    args = ["inspect", *(["--bootstrap"] if bootstrap else []), *([name] if name else [])]
    limit = (
        timeout_s
        if timeout_s is not None
        else (BOOTSTRAP_TIMEOUT_S if bootstrap else INSPECT_TIMEOUT_S)
    )
    if bootstrap and progress is not None:
        res = await _stream(args, limit, progress)
    else:
        res = await _buildx(args, limit)
    target = f"builder {name!r}" if name else "the current builder"
    if not res.ok:
        raise _error(
            res, f"bootstrapping {target} failed" if bootstrap else f"cannot inspect {target}"
        )
    builder = parse_inspect(res.stdout)
    if builder.error and not builder.nodes:
        raise BuildxError(
            f"builder {builder.name!r} is in error: {builder.error}", explain(builder.error)
        )
    return builder


async def bootstrap(
    name: str, progress: ProgressCallback | None = None, timeout_s: float = BOOTSTRAP_TIMEOUT_S
) -> Builder:
    """Start every node of ``name`` (``inspect --bootstrap``), streaming buildx's progress."""
    return await inspect(name, bootstrap=True, progress=progress, timeout_s=timeout_s)


async def _stream(
    args: Sequence[str], timeout_s: float, progress: ProgressCallback
) -> process.CommandResult:
    """Run buildx, handing each stderr line (its progress) to ``progress`` as it arrives.

    stdout (the inspect text, a few kB) is read once stderr ends; all in the caller's task.
    """
    argv = [await _docker(), "buildx", *args]
    proc = await process.spawn(argv)
    assert proc.stdout is not None
    assert proc.stderr is not None
    err_lines: list[str] = []
    try:
        async with asyncio.timeout(timeout_s):
            async for raw in proc.stderr:
                line = raw.decode(errors="replace").rstrip("\r\n")
                err_lines.append(line)
                progress(line)
            out = await proc.stdout.read()
            await proc.wait()
    except TimeoutError:
        await process.stop(proc, grace=1.0)
        raise BuildxTimeout(
            f"`docker buildx {' '.join(args[:2])}` did not finish within {timeout_s:g} s "
            "and was stopped",
            "A node did not start in time: check its endpoint, or remove it.",
        ) from None
    except asyncio.CancelledError:
        await process.stop(proc, grace=1.0)
        raise
    return process.CommandResult(
        argv, proc.returncode if proc.returncode is not None else -1,
        out.decode(errors="replace"), "\n".join(err_lines),
    )  # fmt: skip


async def use(name: str, *, default: bool = False, global_: bool = False) -> None:
    """Make ``name`` the current builder (``docker buildx use``)."""
    args = ["use", *(["--default"] if default else []), *(["--global"] if global_ else []), name]
    res = await _buildx(args, CHANGE_TIMEOUT_S)
    if not res.ok:
        raise _error(res, f"cannot use builder {name!r}")


async def stop(name: str) -> None:
    """Stop the BuildKit daemons of ``name`` (``docker buildx stop``)."""
    res = await _buildx(["stop", name], CHANGE_TIMEOUT_S)
    if not res.ok:
        raise _error(res, f"cannot stop builder {name!r}")


async def remove(
    names: Sequence[str] = (),
    *,
    keep_state: bool = False,
    keep_daemon: bool = False,
    all_inactive: bool = False,
) -> str:
    """Remove builders (``docker buildx rm``); returns buildx's report (``X removed``).

    ``all_inactive`` removes every builder that is not running (buildx asks no question: the
    caller confirmed). buildx may report an error for a node it could not reach although the
    builder is gone from its store; the error is raised all the same.
    """
    if not names and not all_inactive:
        raise BuildxError("no builder to remove", "Name one or more builders.")
    if "default" in names:
        raise BuildxError(
            "the default builder cannot be removed",
            "It belongs to the docker context; `docker context rm` removes a context's builder.",
        )
    args = [
        "rm",
        *(["--keep-state"] if keep_state else []),
        *(["--keep-daemon"] if keep_daemon else []),
    ]
    if all_inactive:
        args += ["--all-inactive", "--force"]
    res = await _buildx([*args, *names], CHANGE_TIMEOUT_S)
    if not res.ok:
        raise _error(
            res, f"cannot remove {', '.join(repr(n) for n in names) or 'inactive builders'}"
        )
    return (res.stderr + res.stdout).strip()


async def disk_usage(name: str | None = None) -> DiskUsage:
    """Build-cache totals of a builder (``docker buildx du``)."""
    res = await _buildx(["du", *(["--builder", name] if name else [])], INSPECT_TIMEOUT_S * 2)
    if not res.ok:
        raise _error(res, f"cannot read the disk usage of {name or 'the current builder'!r}")
    return parse_du(res.stdout, name or "")


# --- create ---------------------------------------------------------------------------------------


def validate_create(req: CreateRequest) -> None:
    """Refuse a request buildx would refuse, with a clear reason (before anything is created)."""
    if not _NAME_RE.match(req.name):
        raise BuildxError(
            f"invalid builder name {req.name!r}",
            "Use letters, digits, '.', '_' or '-', starting with a letter or digit.",
        )
    if req.name == "default":
        raise BuildxError("'default' is the docker context's own builder", "Pick another name.")
    if req.driver == "docker":
        raise BuildxError(
            "builders with the docker driver cannot be created: there is one per docker context",
            "Create a docker context (`docker context create`) or pick docker-container.",
        )
    if req.driver not in DRIVERS:
        raise BuildxError(f"unknown driver {req.driver!r}", f"Drivers: {', '.join(DRIVERS)}.")
    if not req.nodes:
        raise BuildxError("a builder needs at least one node")
    names = [n.name for n in req.nodes if n.name]
    if len(names) != len(set(names)):
        raise BuildxError("two nodes have the same name", "Give each node its own name.")
    for i, node in enumerate(req.nodes):
        if node.name and not _NAME_RE.match(node.name):
            raise BuildxError(f"invalid node name {node.name!r}", "Letters, digits, '.', '_', '-'.")
        if req.driver == "remote" and "://" not in node.endpoint:
            raise BuildxError(
                f"node {i + 1}: the remote driver needs an endpoint such as tcp://HOST:1234",
                "The address buildkitd listens on (buildkitd --addr tcp://0.0.0.0:1234).",
            )
        if req.driver == "kubernetes":
            replicas = node.driver_opts.get("replicas", "1")
            if not replicas.isdigit() or int(replicas) < 1:
                raise BuildxError(f"replicas must be a whole number ≥ 1, not {replicas!r}")
        if (i > 0 or req.append) and len(req.nodes) > 1 and not node.endpoint:
            raise BuildxError(
                f"node {i + 1} has no endpoint",
                "Name a docker context or an endpoint (ssh://user@arm64-host, tcp://…).",
            )
        for key in node.driver_opts:
            if not key or "=" in key or "," in key:
                raise BuildxError(f"invalid driver option name {key!r}")


def parse_driver_opts(items: Iterable[str]) -> dict[str, str]:
    """``["network=host", "image=x,foo=bar"]`` → dict; raises BuildxError on a bad item."""
    out: dict[str, str] = {}
    for item in items:
        for part in item.split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise BuildxError(f"driver option {part!r} is not KEY=VALUE", "e.g. network=host")
            key, value = part.split("=", 1)
            out[key.strip()] = value.strip()
    return out


def create_argv(req: CreateRequest, index: int) -> list[str]:
    """The ``docker buildx create`` arguments (after ``buildx``) for node ``index`` of ``req``."""
    node = req.nodes[index]
    args = ["create", "--name", req.name]
    if index > 0 or req.append:
        args.append("--append")
    else:
        args += ["--driver", req.driver]
    if node.name:
        args += ["--node", node.name]
    for key, value in node.driver_opts.items():
        args += ["--driver-opt", f"{key}={value}"]
    if node.platforms:
        args += ["--platform", ",".join(str(p) for p in node.platforms)]
    if node.buildkitd_flags:
        args += ["--buildkitd-flags", node.buildkitd_flags]
    if node.buildkitd_config:
        args += ["--buildkitd-config", node.buildkitd_config]
    if node.endpoint:
        args.append(node.endpoint)
    return args


async def create(req: CreateRequest, progress: ProgressCallback | None = None) -> CreateResult:
    """Create (or extend) a builder node by node, bootstrap it, and optionally use it.

    When a step fails, what this call created is removed again — the whole builder when it is
    new, the added nodes (``create --leave``) when appending — unless ``keep_on_failure``:
    then a failed bootstrap returns the kept builder with ``error`` set. Other failures raise
    :class:`BuildxError` carrying buildx's message.
    """
    validate_create(req)
    req = await _name_nodes(req)
    say = progress or (lambda _line: None)
    added: list[str] = []
    created = False
    try:
        for i in range(len(req.nodes)):
            args = create_argv(req, i)
            say("$ docker buildx " + " ".join(args))
            res = await _buildx(args, CHANGE_TIMEOUT_S)
            for line in (res.stderr + res.stdout).splitlines():
                if line.strip():
                    say(line)
            if not res.ok:
                raise _error(res, f"creating builder {req.name!r} failed", req.driver)
            if i == 0 and not req.append:
                created = True
            added.append(req.nodes[i].name)
    except BaseException:  # a failure or a cancel: the cancel was delivered, undo can await
        if created or added:
            await _undo(req, created, added, say)
        raise
    if not req.bootstrap:
        if req.use:
            await use(req.name)
        builder = await _try_get(req.name)
        return CreateResult(builder, bootstrapped=False)
    say(f"$ docker buildx inspect --bootstrap {req.name}")
    try:
        builder = await bootstrap(req.name, progress=say)
    except BuildxError as exc:
        if req.keep_on_failure:
            return CreateResult(await _try_get(req.name), bootstrapped=False, error=exc)
        await _undo(req, created, added, say)
        raise BuildxError(str(exc), exc.hint, exc.output) from exc
    except BaseException:  # cancelled: leave nothing half-created behind
        if not req.keep_on_failure:
            await _undo(req, created, added, say)
        raise
    if req.use:
        await use(req.name)
        builder = replace(builder, current=True)
    return CreateResult(builder, bootstrapped=True)


async def _name_nodes(req: CreateRequest) -> CreateRequest:
    """Give every node a name (buildx's own ``NAME<i>`` scheme) so a failure can be undone."""
    taken: set[str] = set()
    start = 0
    if not req.append and await _try_get(req.name) is not None:  # buildx's words mislead here
        raise BuildxError(
            f"a builder named {req.name!r} already exists",
            "Pick another name, add a node to it (append), or remove it first; it was left as is.",
        )
    if req.append:
        existing = await get_builder(req.name)
        taken = {n.name for n in existing.nodes}
        start = len(existing.nodes)
        if existing.driver and existing.driver != req.driver and req.driver != "docker-container":
            raise BuildxError(
                f"builder {req.name!r} uses the {existing.driver} driver, not {req.driver}",
                "Nodes of one builder share its driver.",
            )
    taken |= {n.name for n in req.nodes if n.name}
    nodes = []
    counter = start
    for node in req.nodes:
        if not node.name:
            while f"{req.name}{counter}" in taken:
                counter += 1
            node = replace(node, name=f"{req.name}{counter}")
            taken.add(node.name)
        nodes.append(node)
    return replace(req, nodes=tuple(nodes))


async def _try_get(name: str) -> Builder | None:
    try:
        return await get_builder(name)
    except BuildxError:
        return None


async def _undo(req: CreateRequest, created: bool, added: list[str], say: ProgressCallback) -> None:
    """Remove what a failed create made: the new builder, or the nodes appended to an old one."""
    with contextlib.suppress(BuildxError):
        if created:
            say(f"$ docker buildx rm {req.name}")
            say(await remove([req.name]))
            return
        for node in added:
            if not node:
                continue
            args = ["create", "--name", req.name, "--leave", "--node", node]
            say("$ docker buildx " + " ".join(args))
            res = await _buildx(args, CHANGE_TIMEOUT_S)
            if not res.ok:
                say(error_message(res.stderr))


# --- explanations ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Chip:
    """A platform as the Builders view shows it on a node."""

    platform: Platform
    kind: str  # "native" | "emulated" | "unknown" (remote node) | "unlisted" (emulator registered)
    pinned: bool = False


def platform_chips(
    node: Node, native: Platform | None, emulatable: Iterable[Platform] = ()
) -> list[Chip]:
    """The node's platforms marked native/emulated, then the emulatable ones it does not list.

    Emulation is only judged for local nodes (same kernel, so same binfmt_misc and the
    daemon's architecture as native); remote nodes get ``unknown``.
    """
    chips = []
    local = node.local or node.endpoint == "default"
    for p in node.platforms:
        if not local or native is None:
            kind = "unknown"
        else:
            kind = "emulated" if is_emulated(p, native) else "native"
        chips.append(Chip(p, kind, p in node.pinned))
    if local and native is not None and node.status == "running" and not node.pinned:
        listed = {p.family for p in node.platforms}
        for p in sorted(set(emulatable)):
            if p.family not in listed and is_emulated(p, native):
                chips.append(Chip(p, "unlisted"))
    return chips


@dataclass(frozen=True)
class Note:
    """An explanation of something buildx leaves cryptic, with the action that fixes it."""

    level: str  # "error" | "warning" | "info"
    title: str
    detail: str
    action: str = ""  # "bootstrap" | "restart" | "new-builder" | "remove" | ""


def builder_notes(
    builder: Builder,
    *,
    native: Platform | None = None,
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
                "linux/amd64,linux/arm64 fails. " + DOCKER_DRIVER_MULTIPLATFORM_FIX,
                "new-builder",
            )
        )
    for node in builder.nodes:
        missing = [
            c.platform for c in platform_chips(node, native, emulatable) if c.kind == "unlisted"
        ]
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
    hint = explain(message)
    return f"\n{hint}" if hint else ""


# --- overview: builders with what is needed to explain them ---------------------------------------


@dataclass(frozen=True)
class Overview:
    """Builders plus the facts that explain them: native platform, emulators, image store."""

    builders: list[Builder]
    native: Platform | None = None
    emulatable: frozenset[Platform] = frozenset()
    image_store: bool | None = None
    daemon_error: str = ""

    @property
    def current(self) -> Builder | None:
        return next((b for b in self.builders if b.current), None)

    def builder(self, name: str) -> Builder | None:
        return next((b for b in self.builders if b.name == name), None)

    def chips(self, node: Node) -> list[Chip]:
        return platform_chips(node, self.native, self.emulatable)

    def notes(self, builder: Builder) -> list[Note]:
        return builder_notes(
            builder, native=self.native, emulatable=self.emulatable, image_store=self.image_store
        )

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


def parse_daemon_facts(text: str) -> tuple[Platform | None, bool | None]:
    """``docker info --format DAEMON_FACTS_FORMAT`` → (native platform, containerd store on)."""
    arch, _, rest = text.strip().partition("|")
    os_type, _, driver_status = rest.partition("|")
    native = Platform.try_parse(f"{os_type or 'linux'}/{arch}") if arch else None
    if not driver_status.strip():
        return native, None
    try:
        status = dict(json.loads(driver_status or "null") or [])
    except (ValueError, TypeError):
        return native, None
    return native, status.get("driver-type") == "io.containerd.snapshotter.v1"


DAEMON_FACTS_FORMAT = "{{.Architecture}}|{{.OSType}}|{{json .DriverStatus}}"


async def daemon_facts() -> tuple[Platform | None, bool | None, str]:
    """The daemon's native platform and whether its containerd image store is on.

    Never raises: when the daemon cannot be asked, (None, None, the reason).
    """
    try:
        res = await process.run(
            [await _docker(), "info", "--format", DAEMON_FACTS_FORMAT], timeout=15.0
        )
    except (process.CommandTimeout, process.CommandNotFound, BuildxError) as exc:
        return None, None, str(exc)
    if not res.ok:
        return None, None, f"docker info failed: {error_message(res.stderr) or res.message()}"
    native, store = parse_daemon_facts(res.stdout)
    return native, store, ""


async def overview(timeout_s: float = LS_TIMEOUT_S) -> Overview:
    """Every builder, with the daemon's native platform, the enabled emulators, the image store.

    Only the builder list is required: a daemon or binfmt_misc that cannot be read leaves the
    explanations that depend on it out.
    """
    from mabgui.core import binfmt

    def emulators() -> frozenset[Platform]:
        if not sys.platform.startswith("linux"):
            return frozenset()
        try:
            state = binfmt.read_state()  # a few small files under /proc: no thread needed
        except OSError:
            return frozenset()
        return frozenset(state.enabled_platforms()) if state.enabled else frozenset()

    # One after the other, in this task: no helper task can be left unstarted by a cancel.
    builders = await list_builders(timeout_s)
    native, store, daemon_error = await daemon_facts()
    emulatable = emulators()
    return Overview(builders, native, emulatable, store, daemon_error)

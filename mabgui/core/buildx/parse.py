"""Pure parsers of buildx's output: ``ls`` (JSON and text table), ``inspect``, ``du``, contexts.

Tested on recorded real output (``tests/fixtures/buildx``). Platform lists go through the one
parser of :mod:`mabgui.core.platform` (:func:`~mabgui.core.platform.read_platform_list`).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from mabgui.core.buildx.errors import refuse
from mabgui.core.buildx.model import Builder, DiskUsage, GCPolicy, Node
from mabgui.core.platform import read_platform_list

# --- parsing: buildx ls ---------------------------------------------------------------------------


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
    listed = read_platform_list(str(p) for p in data.get("Platforms") or ())
    platforms, bad = listed.platforms, listed.invalid
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
            raise refuse(f"unexpected output from `docker buildx ls`: {raw[:200]!r}") from exc
        if not isinstance(data, dict):
            raise refuse(f"unexpected output from `docker buildx ls`: {raw[:200]!r}")
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
        raise refuse(f"unexpected output from `docker buildx ls`: {stdout[:200]!r}")
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
        listed = read_platform_list(plats)
        status = cell(line, 2)
        pending["nodes"].append(
            Node(
                name=node_name,
                endpoint=endpoint,
                status=status,
                buildkit=cell(line, 3),
                platforms=listed.platforms,
                pinned=listed.marked,
                error=node_errors.get((pending["name"], node_name), ""),
                unparsed_platforms=listed.invalid,
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
        raise refuse(f"unexpected output from `docker buildx inspect`: {text[:200]!r}")
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
    listed = read_platform_list(fields.get("Platforms", ""))
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
        platforms=listed.platforms,
        pinned=listed.marked,
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
        unparsed_platforms=listed.invalid,
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
        raise refuse(f"unexpected output from `docker buildx du`: {text[:200]!r}")
    return DiskUsage(
        builder=builder,
        records=records,
        shared=totals.get("Shared", 0),
        private=totals.get("Private", 0),
        reclaimable=totals.get("Reclaimable", 0),
        total=totals.get("Total", 0),
    )


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

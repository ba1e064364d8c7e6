"""Pure parsers for ``docker buildx history`` output and the merge with mabgui's own records.

No process is run here: every function takes the text a real buildx printed (recorded under
``tests/fixtures/bkhistory``) or already-parsed records, so all of it is unit-tested offline.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from mabgui.core.progress import parse_timestamp

if TYPE_CHECKING:
    from mabgui.core.build.history import HistoryEntry

# The buildx release notes: `buildx history` (ls, inspect, logs, rm, open) came in v0.20.0,
# `history export`/`import` in v0.23.0.
HISTORY_SINCE = "0.20.0"
EXPORT_SINCE = "0.23.0"
MAX_OUTPUT = 64 << 20  # more JSON than this from one history command is refused
LS_PAGE = 50  # buildx's `history ls` asks each node for this many records (recordsLimit)
MAX_PAGES = 200  # 10,000 records: beyond that, a builder's history is not browsed here


@dataclass(frozen=True)
class Capabilities:
    """What the installed buildx offers, found by asking it, not by its version number."""

    history: bool = False
    history_json: bool = False  # `history ls --format json`
    export: bool = False
    remove: bool = False
    ls_json: bool = False  # `buildx ls --format json`
    version: str = ""

    @property
    def note(self) -> str:
        """One line saying what is missing and which buildx release adds it ('' if nothing)."""
        found = f"buildx {self.version}" if self.version else "the installed buildx"
        if not self.history:
            return (
                f"{found} has no `history` command (added in buildx v{HISTORY_SINCE}): "
                "showing mabgui's own builds only"
            )
        if not self.history_json:
            return f"{found} cannot list history as JSON: showing mabgui's own builds only"
        if not self.export:
            return f"{found} cannot export records (`history export` came in v{EXPORT_SINCE})"
        return ""


def parse_capabilities(history_help: str, ls_help: str = "", version: str = "") -> Capabilities:
    """From ``docker buildx history --help`` and ``docker buildx history ls --help`` output.

    buildx 0.13.1 answers ``history --help`` with exit 0 and its *top-level* help, so the test
    is whether the usage line names ``history``.
    """
    has = "docker buildx history [OPTIONS] COMMAND" in history_help or (
        "buildx history" in history_help.split("\n\n", 1)[0]
    )
    commands = {
        line.split()[0]
        for line in history_help.splitlines()
        if line.startswith("  ") and line.strip() and not line.strip().startswith("-")
    }
    return Capabilities(
        history=has,
        history_json=has and "--format" in ls_help,
        export=has and "export" in commands,
        remove=has and "rm" in commands,
        ls_json=True,
        version=version,
    )


@dataclass(frozen=True)
class Record:
    """One build, from BuildKit's history or mabgui's own store (``source``)."""

    ref: str  # "builder/node/id" for BuildKit records, the mabgui build id otherwise
    name: str
    status: str  # "completed" | "failed" | "running" | "canceled"
    builder: str
    source: str  # "buildkit" | "mabgui"
    platforms: tuple[str, ...] = ()
    started: float | None = None
    duration_s: float | None = None
    steps: int | None = None
    cached_steps: int | None = None
    total_steps: int | None = None
    error: str = ""
    mabgui_id: str = ""  # the mabgui build of the same BuildKit ref, if any
    spec: dict[str, Any] = field(default_factory=dict, compare=False)  # mabgui's (redacted)

    @property
    def build_id(self) -> str:
        """The last part of a BuildKit ref (what ``history inspect``/``logs`` take)."""
        return self.ref.rsplit("/", 1)[-1]

    @property
    def node(self) -> str:
        parts = self.ref.split("/")
        return parts[1] if len(parts) == 3 else ""

    def to_json(self) -> dict[str, Any]:
        return {
            "ref": self.ref,
            "name": self.name,
            "status": self.status,
            "builder": self.builder,
            "source": self.source,
            "platforms": list(self.platforms),
            "started": self.started,
            "duration_s": None if self.duration_s is None else round(self.duration_s, 3),
            "steps": self.steps,
            "cached_steps": self.cached_steps,
            "total_steps": self.total_steps,
            "error": self.error or None,
            "mabgui_id": self.mabgui_id or None,
            **({"id": self.mabgui_id, "spec": self.spec} if self.spec else {}),
        }


_STATUS = {
    "completed": "completed",
    "error": "failed",
    "failed": "failed",
    "running": "running",
    "canceled": "canceled",
    "cancelled": "canceled",
}


def _status(text: Any) -> str:
    return _STATUS.get(str(text or "").lower(), str(text or "").lower() or "unknown")


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _json_lines(text: str) -> list[Any]:
    if len(text) > MAX_OUTPUT:
        raise ValueError(f"{len(text)} characters of JSON (limit {MAX_OUTPUT})")
    stripped = text.strip()
    if stripped.startswith("["):
        value = json.loads(stripped)
        return value if isinstance(value, list) else []
    return [json.loads(line) for line in stripped.splitlines() if line.strip()]


def parse_ls(text: str, builder: str = "") -> list[Record]:
    """``docker buildx history ls --format json``: one JSON object a line, newest first."""
    records = []
    for item in _json_lines(text):
        if not isinstance(item, dict) or not isinstance(item.get("ref"), str):
            continue
        ref = item["ref"]
        started = parse_timestamp(item["created_at"]) if item.get("created_at") else None
        completed = parse_timestamp(item["completed_at"]) if item.get("completed_at") else None
        duration = completed - started if started and completed and completed >= started else None
        error = item.get("error")
        records.append(
            Record(
                ref=ref,
                name=str(item.get("name") or ""),
                status=_status(item.get("status")),
                builder=builder or ref.split("/", 1)[0],
                source="buildkit",
                started=started or None,
                duration_s=duration,
                steps=_int(item.get("completed_steps")),
                cached_steps=_int(item.get("cached_steps")),
                total_steps=_int(item.get("total_steps")),
                error=str(error) if isinstance(error, str) else "",
            )
        )
    return records


def rfc3339_seconds(epoch: float) -> str:
    """Whole-second RFC 3339 UTC (what ``history ls --filter startedAt<…`` compares)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(epoch)))


def parse_builders(text: str, *, running_only: bool = True) -> list[str]:
    """Builder names from ``docker buildx ls --format json`` (one object a line).

    ``running_only``: builders with a running node only — ``history ls`` of a stopped
    builder would boot it (buildx boots what it loads), which a listing must not do.
    """
    names = []
    for item in _json_lines(text):
        if not isinstance(item, dict) or not isinstance(item.get("Name"), str):
            continue
        found = item.get("Nodes")
        nodes: list[Any] = found if isinstance(found, list) else []
        running = any(isinstance(n, dict) and n.get("Status") == "running" for n in nodes)
        if running or not running_only:
            names.append(item["Name"])
    return names


@dataclass(frozen=True)
class Material:
    uri: str
    digests: tuple[str, ...]

    @property
    def image(self) -> str:
        """The image reference of a ``pkg:docker/…`` material, by digest when it has one.

        ``pkg:docker/127.0.0.1%3A5000/busybox@latest?platform=…`` →
        ``127.0.0.1:5000/busybox@sha256:…`` (``…:latest`` without a digest); '' otherwise."""
        if not self.uri.startswith("pkg:docker/"):
            return ""
        path = self.uri[len("pkg:docker/") :].split("?", 1)[0]
        name, _, version = path.partition("@")
        name = urllib.parse.unquote(name)
        sha = next((d for d in self.digests if d.startswith("sha256:")), "")
        if sha:
            return f"{name}@{sha}"
        return f"{name}:{urllib.parse.unquote(version)}" if version else name

    @property
    def platform(self) -> str:
        query = urllib.parse.parse_qs(self.uri.split("?", 1)[1]) if "?" in self.uri else {}
        return query.get("platform", [""])[0]

    def to_json(self) -> dict[str, Any]:
        return {
            "uri": self.uri,
            "digests": list(self.digests),
            "image": self.image,
            "platform": self.platform,
        }


@dataclass(frozen=True)
class Details:
    """``docker buildx history inspect --format json``."""

    name: str
    ref: str
    context: str
    dockerfile: str
    target: str
    platforms: tuple[str, ...]
    status: str
    started: float | None
    duration_s: float | None
    steps: int | None
    cached_steps: int | None
    total_steps: int | None
    error: str
    build_args: dict[str, str] = field(default_factory=dict)
    materials: tuple[Material, ...] = ()
    attachments: tuple[dict[str, str], ...] = ()
    config: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "ref": self.ref,
            "context": self.context,
            "dockerfile": self.dockerfile,
            "target": self.target,
            "platforms": list(self.platforms),
            "status": self.status,
            "started": self.started,
            "duration_s": self.duration_s,
            "steps": self.steps,
            "cached_steps": self.cached_steps,
            "total_steps": self.total_steps,
            "error": self.error or None,
            "build_args": self.build_args,
            "config": self.config,
        }


def parse_inspect(text: str) -> Details:
    """The JSON object ``history inspect --format json`` prints (raises ValueError if not)."""
    if len(text) > MAX_OUTPUT:
        raise ValueError("the inspect output is too large")
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("history inspect did not print a JSON object")
    started = parse_timestamp(data["StartedAt"]) if data.get("StartedAt") else None
    duration_ns = _int(data.get("Duration"))
    error = data.get("Error")
    message = str(error.get("Message") or "") if isinstance(error, dict) else ""
    args = {}
    for item in data.get("BuildArgs") or []:
        if isinstance(item, dict) and item.get("Name"):
            args[str(item["Name"])] = str(item.get("Value") or "")
    materials = tuple(
        Material(str(m.get("URI") or ""), tuple(str(d) for d in m.get("Digests") or ()))
        for m in data.get("Materials") or []
        if isinstance(m, dict)
    )
    attachments = tuple(
        {
            "digest": str(a.get("Digest") or ""),
            "type": str(a.get("Type") or ""),
            "platform": str(a.get("Platform") or ""),
        }
        for a in data.get("Attachments") or []
        if isinstance(a, dict)
    )
    return Details(
        name=str(data.get("Name") or ""),
        ref=str(data.get("Ref") or ""),
        context=str(data.get("Context") or ""),
        dockerfile=str(data.get("Dockerfile") or ""),
        target=str(data.get("Target") or ""),
        platforms=tuple(str(p) for p in data.get("Platform") or ()),
        status=_status(data.get("Status")),
        started=started or None,
        duration_s=None if duration_ns is None else duration_ns / 1e9,
        steps=_int(data.get("NumCompletedSteps")),
        cached_steps=_int(data.get("NumCachedSteps")),
        total_steps=_int(data.get("NumTotalSteps")),
        error=message,
        build_args=args,
        materials=materials,
        attachments=attachments,
        config=dict(data.get("Config") or {}),
    )


def read_metadata_ref(data: Any) -> str:
    """``buildx.build.ref`` of a ``--metadata-file`` (``builder/node/id``), '' when absent."""
    if isinstance(data, dict) and isinstance(data.get("buildx.build.ref"), str):
        return str(data["buildx.build.ref"])
    return ""


def from_entry(entry: HistoryEntry, ref: str = "") -> Record:
    """A mabgui build as a :class:`Record` (source ``mabgui``)."""
    spec = entry.spec
    summary = entry.summary
    steps = cached = 0
    for lane in (summary.get("platforms") or {}).values():
        for step in lane.get("steps") or []:
            steps += 1
            cached += bool(step.get("cached"))
    status = "completed" if entry.ok else "canceled" if entry.canceled else "failed"
    context = str(spec.get("context") or "")
    return Record(
        ref=ref or entry.id,
        name=context.rstrip("/").rsplit("/", 1)[-1] or entry.id,
        status=status,
        builder=str(spec.get("builder") or ""),
        source="mabgui",
        platforms=tuple(entry.platforms) or tuple(str(p) for p in spec.get("platforms") or ()),
        started=entry.started,
        duration_s=entry.duration_s,
        steps=steps,
        cached_steps=cached,
        error=entry.error,
        mabgui_id=entry.id,
        spec=dict(spec),
    )


MATCH_WINDOW_S = 30.0  # BuildKit's record starts this soon after mabgui started buildx


def _by_time(buildkit: list[Record], taken: set[int], entry: HistoryEntry) -> int | None:
    """A BuildKit record of a mabgui build without a ref (buildx writes no metadata file when
    a build fails): the same name, started within :data:`MATCH_WINDOW_S` after mabgui started
    buildx, the closest one, not matched already."""
    name = from_entry(entry).name
    best: tuple[float, int] | None = None
    for i, rec in enumerate(buildkit):
        if i in taken or rec.name != name or rec.started is None:
            continue
        lag = rec.started - entry.started
        if -1.0 <= lag <= MATCH_WINDOW_S and (best is None or abs(lag) < best[0]):
            best = (abs(lag), i)
    return None if best is None else best[1]


def merge(buildkit: list[Record], own: list[tuple[HistoryEntry, str]]) -> list[Record]:
    """BuildKit's and mabgui's records as one list, newest first.

    A mabgui build whose BuildKit ref (from the metadata file) is in BuildKit's list appears
    once, as the BuildKit record with ``mabgui_id`` set (and mabgui's platforms if BuildKit's
    are not known yet); without a ref (a failed build) it is matched by name and start time
    (:func:`_by_time`). The others appear as ``mabgui`` records.
    """
    by_ref = {r.ref: i for i, r in enumerate(buildkit)}
    out = list(buildkit)
    taken = {by_ref[ref] for _e, ref in own if ref in by_ref}
    for entry, ref in own:
        i = by_ref.get(ref) if ref else _by_time(buildkit, taken, entry)
        if i is not None:
            taken.add(i)
        if i is not None:
            bk = out[i]
            platforms = bk.platforms or tuple(entry.platforms)
            out[i] = replace(bk, mabgui_id=entry.id, platforms=platforms)
        else:
            out.append(from_entry(entry, ref))
    out.sort(key=lambda r: r.started or 0.0, reverse=True)
    return out

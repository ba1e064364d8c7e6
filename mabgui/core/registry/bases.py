"""Base-image coverage: which platforms each ``FROM`` of a Dockerfile has, before a build.

A multi-platform build fails (or silently builds from another architecture's base) when a base
image lacks a target platform (docker/buildx#1389). Two halves:

* :func:`parse_stages` — pure: the ``FROM`` lines of a Dockerfile with line continuations,
  comments, the ``escape`` directive, global ``ARG``s (defaults, ``--build-arg`` overrides,
  ``$VAR`` / ``${VAR}`` / ``${VAR:-default}`` / ``${VAR:+alt}``), stage names, stages built
  from earlier stages, ``scratch``, and ``--platform=$BUILDPLATFORM`` stages (which run on the
  build machine, so they need only its platform).
* :func:`coverage` — resolves each external base through the registry client (one look-up per
  distinct reference) and makes the base × target-platform matrix.

It lives in the registry area because it needs the client; core/build never imports it (the
areas are independent), the CLI and the UI call it next to a build.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mabgui.core.errors import MabguiError
from mabgui.core.platform import Platform
from mabgui.core.registry.client import RegistryClient
from mabgui.core.registry.content import INDEX_TYPES
from mabgui.core.registry.decode import config_descriptor, index_descriptors, load
from mabgui.core.registry.errors import RegistryError
from mabgui.core.registry.reference import InvalidReference, parse_reference

BUILD_PLATFORM_ARGS = ("BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT")
TARGET_PLATFORM_ARGS = ("TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT")


class DockerfileError(MabguiError):
    kind = "dockerfile"


@dataclass(frozen=True)
class Stage:
    """One ``FROM``: its index, name, the base as written and as substituted."""

    index: int
    name: str
    written: str
    base: str  # after ARG substitution
    platform_flag: str = ""  # the --platform value as written
    line: int = 0
    parent: int | None = None  # index of the earlier stage it is built from
    unresolved: tuple[str, ...] = ()  # ARGs used without a value

    @property
    def label(self) -> str:
        return self.name or f"stage {self.index}"

    @property
    def scratch(self) -> bool:
        return self.base.lower() == "scratch"

    @property
    def build_platform(self) -> bool:
        """True when the stage runs on the build machine (``--platform=$BUILDPLATFORM``)."""
        flag = self.platform_flag.replace("{", "").replace("}", "")
        return "$BUILDPLATFORM" in flag or "$BUILDOS" in flag or "$BUILDARCH" in flag


def logical_lines(text: str) -> list[tuple[int, str]]:
    """Instructions joined across continuations, with their first line number; comments and
    blank lines dropped; the ``# escape=`` parser directive honoured."""
    escape = "\\"
    lines = text.splitlines()
    for raw in lines:
        directive = re.match(r"^\s*#\s*(\w+)\s*=\s*(\S+)\s*$", raw)
        if not directive:
            break
        if directive.group(1).lower() == "escape" and directive.group(2) in ("\\", "`"):
            escape = directive.group(2)
    result: list[tuple[int, str]] = []
    current: list[str] = []
    start = 0
    for number, raw in enumerate(lines, 1):
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue  # comment lines inside a continued instruction are skipped
        if not current:
            start = number
        if stripped.endswith(escape):
            current.append(stripped[:-1].rstrip())
            continue
        current.append(stripped)
        result.append((start, " ".join(p for p in current if p)))
        current = []
    if current:
        result.append((start, " ".join(current)))
    return result


_VAR = re.compile(
    r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))"
)


def substitute(text: str, values: Mapping[str, str]) -> tuple[str, list[str]]:
    """``text`` with ``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR:+alt}`` replaced as
    buildkit does; also the names that had no value."""
    unset: list[str] = []

    def repl(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(4)
        op, word = match.group(2), match.group(3) or ""
        value = values.get(name)
        if op in ("-", ":-"):
            if value is None or (op == ":-" and value == ""):
                return word
            return value
        if op in ("+", ":+"):
            return word if value is not None and (op == "+" or value != "") else ""
        if value is None:
            unset.append(name)
            return ""
        return value

    return _VAR.sub(repl, text), unset


def _split_from(rest: str, number: int) -> tuple[str, str, str]:
    words = rest.split()
    platform = ""
    while words and words[0].startswith("--"):
        flag = words.pop(0)
        key, _, value = flag[2:].partition("=")
        if key.lower() == "platform":
            platform = value
    if not words:
        raise DockerfileError(f"line {number}: FROM without an image")
    image = words[0]
    name = ""
    if len(words) >= 3 and words[1].lower() == "as":
        name = words[2].lower()
    elif len(words) > 1:
        raise DockerfileError(f"line {number}: FROM {rest!r}: expected `FROM image [AS name]`")
    return image, name, platform


def parse_stages(text: str, build_args: Mapping[str, str] | None = None) -> list[Stage]:
    """The stages of a Dockerfile (see the module docstring for what is understood)."""
    build_args = dict(build_args or {})
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    names: dict[str, int] = {}
    for number, line in logical_lines(text):
        word, _, rest = line.partition(" ")
        instruction = word.upper()
        if instruction == "ARG" and not stages:
            for item in rest.split():
                key, eq, default = item.partition("=")
                default = default.strip("\"'")
                if key in build_args:
                    global_args[key] = build_args[key]
                elif eq:
                    global_args[key] = substitute(default, global_args)[0]
        elif instruction == "FROM":
            written, name, platform = _split_from(rest, number)
            base, unset = substitute(written, global_args)
            parent = names.get(base.lower())
            stage = Stage(
                index=len(stages), name=name, written=written, base=base,
                platform_flag=platform, line=number, parent=parent,
                unresolved=tuple(unset),
            )  # fmt: skip
            if name:
                names[name] = stage.index
            stages.append(stage)
    if not stages:
        raise DockerfileError("the Dockerfile has no FROM instruction")
    return stages


# --- the matrix ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BaseCoverage:
    """One stage's row of the matrix."""

    stage: Stage
    reference: str
    digest: str = ""
    platforms: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    needed: tuple[str, ...] = ()  # the platforms this stage has to exist for
    single: bool = False  # a single-platform image (not an index)
    note: str = ""
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "stage": self.stage.label,
            "line": self.stage.line,
            "reference": self.reference,
            "digest": self.digest or None,
            "platforms": list(self.platforms),
            "missing": list(self.missing),
            "needed": list(self.needed),
            "singlePlatform": self.single,
            "buildPlatform": self.stage.build_platform,
            "note": self.note or None,
            "error": self.error or None,
        }


@dataclass(frozen=True)
class Coverage:
    targets: tuple[str, ...]
    bases: tuple[BaseCoverage, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not any(b.missing or b.error for b in self.bases)

    def warnings(self) -> list[str]:
        """One sentence per base lacking a platform (what the build form warns with)."""
        return [
            f"{b.reference} ({b.stage.label}) has no {', '.join(b.missing)}"
            for b in self.bases
            if b.missing
        ] + [f"{b.reference} ({b.stage.label}): {b.error}" for b in self.bases if b.error]

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "targets": list(self.targets),
            "bases": [b.to_json() for b in self.bases],
            "warnings": self.warnings(),
        }


def _covers(have: Sequence[Platform], want: Platform) -> bool:
    return any(p == want or p.family == want.family for p in have)


async def _platforms_of(client: RegistryClient, reference: str) -> tuple[str, list[Platform], bool]:
    ref = parse_reference(reference)
    fetched = await client.get_manifest(ref)
    if fetched.media_type in INDEX_TYPES:
        found = [
            d.platform for d in index_descriptors(fetched.data)
            if d.platform is not None and not d.is_attestation
        ]  # fmt: skip
        return fetched.digest, found, False
    cfg = config_descriptor(fetched.data)
    platforms: list[Platform] = []
    if cfg is not None:
        config = load((await client.get_blob(ref, cfg.digest)).data, f"config of {ref}")
        parts = [str(config.get(k) or "") for k in ("os", "architecture", "variant")]
        parsed = Platform.try_parse("/".join(p for p in parts if p))
        if parsed is not None:
            platforms.append(parsed)
    return fetched.digest, platforms, True


async def coverage(
    client: RegistryClient,
    stages: Sequence[Stage],
    targets: Sequence[Platform],
    build_platform: Platform,
) -> Coverage:
    """The base × target matrix of ``stages`` (each distinct base looked up once)."""
    # what each stage has to exist for: build-platform stages only the build machine
    needs: dict[int, list[Platform]] = {}
    for s in stages:
        fixed = Platform.try_parse(s.platform_flag) if "$" not in s.platform_flag else None
        if s.build_platform:
            needs[s.index] = [build_platform]
        elif fixed is not None:
            needs[s.index] = [fixed]  # `FROM --platform=linux/amd64 …`: that one only
        else:
            needs[s.index] = list(targets)
    external = sorted({s.base for s in stages if s.parent is None and not s.scratch and s.base})
    lookups: dict[str, asyncio.Future[tuple[str, list[Platform], bool]]] = {
        ref: asyncio.ensure_future(_platforms_of(client, ref)) for ref in external
    }
    await asyncio.gather(*lookups.values(), return_exceptions=True)
    rows = []
    for s in stages:
        needed = tuple(str(p) for p in needs[s.index])
        if s.unresolved and not s.base.strip(":@"):
            error = f"ARG {', '.join(s.unresolved)} has no value"
            rows.append(BaseCoverage(s, s.written, needed=needed, error=error))
            continue
        if s.scratch:
            rows.append(BaseCoverage(s, "scratch", needed=needed, note="empty base: any platform"))
            continue
        if s.parent is not None:
            parent = stages[s.parent]
            rows.append(BaseCoverage(s, s.base, needed=needed,
                                     note=f"built from the stage {parent.label}"))  # fmt: skip
            continue
        task = lookups[s.base]
        exc = task.exception()
        if exc is not None:
            if not isinstance(exc, (RegistryError, InvalidReference)):
                raise exc
            rows.append(BaseCoverage(s, s.base, needed=needed, error=str(exc)))
            continue
        digest, have, single = task.result()
        missing = tuple(str(p) for p in needs[s.index] if not _covers(have, p))
        note = "runs on the build platform" if s.build_platform else ""
        rows.append(
            BaseCoverage(
                s, s.base, digest, tuple(str(p) for p in have), missing, needed, single, note
            )
        )
    return Coverage(tuple(str(t) for t in targets), tuple(rows))

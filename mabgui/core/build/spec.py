"""What to build: :class:`BuildSpec` (the form's and ``mabgui build``'s options) and its argv.

The spec turns into an argv (never a shell line) with ``--progress=rawjson``; ``--`` ends the
options so that a context named like a flag (``--help``) stays a context. Saved (history, the
form's last spec) it keeps build-arg **names only** and secrets as id and file path: no value
of either is ever written anywhere (:meth:`BuildSpec.to_json`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from mabgui.core.errors import MabguiError
from mabgui.core.platform import Platform, PlatformError, parse_platform_list

URL_CONTEXT = re.compile(r"^(?:[a-z][a-z0-9+.-]*://|git@)", re.IGNORECASE)
BUILD_ARG_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SECRET_ID = re.compile(r"^[A-Za-z0-9_.-]+$")
_SECRET_MAX_BYTES = 1 << 20  # a secret file larger than this is not read to scrub its value


class SpecError(MabguiError, ValueError):
    """A saved spec (history, settings) that does not describe a build."""


class OutputKind(StrEnum):
    PUSH = "push"  # --push: the image (index) goes to the registry of its tags
    LOAD = "load"  # --load: into the local image store
    LOCAL = "local"  # --output type=local,dest=DIR: the root filesystem(s) into a directory
    OCI = "oci"  # --output type=oci,dest=FILE: an OCI layout tarball
    CACHE = "cache"  # --output type=cacheonly: build, keep only the build cache
    DEFAULT = "default"  # no output flag: whatever buildx does (the docker driver loads it)
    # pushed by digest, untagged, into the repository ``output_dest`` (one platform of a
    # per-platform build: the index is assembled afterwards, see mabgui.core.perplatform)
    DIGEST = "push-by-digest"


@dataclass(frozen=True)
class Secret:
    """``--secret id=ID,src=PATH``: only the id and the file path are ever kept."""

    id: str
    src: str

    @classmethod
    def parse(cls, text: str) -> Secret:
        """Parse ``id=ID,src=PATH`` (also ``source=``, or a bare ``ID=PATH``)."""
        fields: dict[str, str] = {}
        for part in text.split(","):
            key, sep, value = part.partition("=")
            if not sep:
                raise SpecError(f"--secret {text!r}: expected id=ID,src=PATH")
            fields[key.strip().lower()] = value.strip()
        if "id" not in fields and len(fields) == 1:
            ((sid, src),) = fields.items()
            return cls(sid, src)
        src = fields.get("src") or fields.get("source") or ""
        if "env" in fields:
            raise SpecError(f"--secret {text!r}: only file secrets (src=PATH) are supported")
        if not fields.get("id") or not src:
            raise SpecError(f"--secret {text!r}: expected id=ID,src=PATH")
        return cls(fields["id"], src)


@dataclass
class BuildSpec:
    """What to build, as the form and ``mabgui build`` options describe it."""

    context: str
    dockerfile: str = ""  # default: CONTEXT/Dockerfile
    target: str = ""
    platforms: list[Platform] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    build_args: dict[str, str] = field(default_factory=dict)
    secrets: list[Secret] = field(default_factory=list)
    output: OutputKind = OutputKind.CACHE
    output_dest: str = ""  # the directory (local) or file (oci)
    no_cache: bool = False
    pull: bool = False
    provenance: bool | None = None  # None: buildx's default
    sbom: bool | None = None
    builder: str = ""  # '' = the current builder (no --builder: buildx picks it)
    # build each platform alone, push by digest, assemble the index of those that succeeded
    # (mabgui.core.perplatform runs it; argv() describes one buildx build and ignores it)
    per_platform: bool = False

    @property
    def dockerfile_path(self) -> str:
        return self.dockerfile or os.path.join(self.context, "Dockerfile")

    def argv(self, metadata_file: str | None = None) -> list[str]:
        """The ``docker buildx build`` command line (a list: no shell, no quoting)."""
        argv = ["docker", "buildx", "build"]
        if self.builder:
            argv += ["--builder", self.builder]
        argv.append("--progress=rawjson")
        if self.platforms:
            argv += ["--platform", ",".join(str(p) for p in self.platforms)]
        if self.dockerfile:
            argv += ["--file", self.dockerfile]
        if self.target:
            argv += ["--target", self.target]
        for tag in self.tags:
            argv += ["--tag", tag]
        for key, value in self.build_args.items():
            argv += ["--build-arg", f"{key}={value}"]
        for secret in self.secrets:
            argv += ["--secret", f"id={secret.id},src={secret.src}"]
        if self.output is OutputKind.PUSH:
            argv.append("--push")
        elif self.output is OutputKind.LOAD:
            argv.append("--load")
        elif self.output is OutputKind.LOCAL:
            argv += ["--output", f"type=local,dest={self.output_dest}"]
        elif self.output is OutputKind.OCI:
            argv += ["--output", f"type=oci,dest={self.output_dest}"]
        elif self.output is OutputKind.CACHE:
            argv += ["--output", "type=cacheonly"]
        elif self.output is OutputKind.DIGEST:
            argv += ["--output", f"type=image,name={self.output_dest},push-by-digest=true,"
                     "name-canonical=true,push=true"]  # fmt: skip
        if self.no_cache:
            argv.append("--no-cache")
        if self.pull:
            argv.append("--pull")
        if self.provenance is not None:
            argv.append(f"--provenance={'true' if self.provenance else 'false'}")
        if self.sbom is not None:
            argv.append(f"--sbom={'true' if self.sbom else 'false'}")
        if metadata_file:
            argv += ["--metadata-file", metadata_file]
        argv += ["--", self.context]  # a context named "--help" is a context, not a flag
        return argv

    def secret_values(self) -> list[str]:
        """Every value this build is given that must never be stored: each build arg's value
        and each secret file's content (read here, small files only)."""
        values = [v for v in self.build_args.values() if v]
        for secret in self.secrets:
            try:
                with open(secret.src, "rb") as fh:
                    content = fh.read(_SECRET_MAX_BYTES + 1)
            except OSError:
                continue
            if len(content) > _SECRET_MAX_BYTES:
                continue
            text = content.decode("utf-8", "replace")
            values += [t for t in {text, text.strip()} if t]
        return values

    def to_json(self, *, redact: bool = True) -> dict[str, Any]:
        """The spec as saved (history, settings): build-arg names only, secrets as id/src.

        No value is kept whatever its name: ``GITHUB_PAT`` is as secret as ``DB_PASSWORD``
        (``redact`` is accepted for older callers; there is no unredacted form).
        """
        del redact
        return {
            "context": self.context,
            "dockerfile": self.dockerfile,
            "target": self.target,
            "platforms": [str(p) for p in self.platforms],
            "tags": list(self.tags),
            "build_args": sorted(self.build_args),
            "secrets": [{"id": s.id, "src": s.src} for s in self.secrets],
            "output": str(self.output),
            "output_dest": self.output_dest,
            "no_cache": self.no_cache,
            "pull": self.pull,
            "provenance": self.provenance,
            "sbom": self.sbom,
            "builder": self.builder,
            "per_platform": self.per_platform,
        }

    @classmethod
    def from_json(cls, data: Any) -> BuildSpec:
        """A saved spec back (build args with empty values: only names are saved).

        Raises :class:`SpecError` naming the first field that is not what a spec holds.
        """
        if not isinstance(data, dict):
            raise SpecError("a saved build spec is not a JSON object")

        def text(key: str, default: str = "") -> str:
            value = data.get(key, default)
            if value is None:
                return default
            if not isinstance(value, str):
                raise SpecError(f"saved build spec: {key!r} is not text")
            return value

        def texts(key: str) -> list[str]:
            value = data.get(key) or []
            if not isinstance(value, list | dict) or not all(isinstance(v, str) for v in value):
                raise SpecError(f"saved build spec: {key!r} is not a list of text")
            return list(value)

        def opt_bool(key: str) -> bool | None:
            value = data.get(key)
            if value is not None and not isinstance(value, bool):
                raise SpecError(f"saved build spec: {key!r} is not true, false or null")
            return value

        secrets = data.get("secrets") or []
        if not isinstance(secrets, list) or not all(
            isinstance(s, dict) and isinstance(s.get("id"), str) and isinstance(s.get("src"), str)
            for s in secrets
        ):
            raise SpecError("saved build spec: 'secrets' is not a list of {id, src}")
        try:
            platforms = [Platform.parse(p) for p in texts("platforms")]
            output = OutputKind(text("output", "cache"))
        except (PlatformError, ValueError) as exc:
            raise SpecError(f"saved build spec: {exc}") from None
        return cls(
            context=text("context"),
            dockerfile=text("dockerfile"),
            target=text("target"),
            platforms=platforms,
            tags=texts("tags"),
            # Old files kept {name: value}; a value is never read back (it may be "***").
            build_args=dict.fromkeys(texts("build_args"), ""),
            secrets=[Secret(s["id"], s["src"]) for s in secrets],
            output=output,
            output_dest=text("output_dest"),
            no_cache=bool(opt_bool("no_cache")),
            pull=bool(opt_bool("pull")),
            provenance=opt_bool("provenance"),
            sbom=opt_bool("sbom"),
            builder=text("builder") or "",
            per_platform=bool(opt_bool("per_platform")),
        )


def parse_platforms(values: Sequence[str]) -> list[Platform]:
    """``--platform a,b --platform c`` → platforms, in order, without duplicates.

    Raises :class:`~mabgui.core.platform.PlatformError` naming the bad one.
    """
    seen: dict[Platform, None] = {}
    for value in values:
        if not value.replace(",", "").strip():
            continue
        try:
            seen.update(dict.fromkeys(parse_platform_list(value)))
        except PlatformError as exc:
            raise PlatformError(
                f"invalid --platform: {exc}", "e.g. --platform linux/amd64,linux/arm64"
            ) from None
    return list(seen)


def parse_build_arg(text: str) -> tuple[str, str]:
    """``NAME=VALUE`` (``NAME`` alone: the value from the environment, as docker does)."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not BUILD_ARG_KEY.match(key):
        name = key if len(key) <= 40 else key[:40] + "…"  # the value may follow: never shown
        raise SpecError(f"--build-arg {name!r}=…: expected NAME=VALUE with a valid NAME")
    if not sep:  # docker takes the value from the environment
        value = os.environ.get(key, "")
    return key, value

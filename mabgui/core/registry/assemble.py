"""Assemble indexes: create one from per-platform images, append or remove a platform.

The CI workflow "build each platform on its own runner, push by digest, then merge"
(``docker buildx imagetools create``, ``crane index append``). Two steps, so nothing is written
before the user has seen it:

1. **plan** (:func:`plan_create`, :func:`plan_append`, :func:`plan_remove`): resolve every
   source (a tag or a digest, in any repository; an image, or an index whose platform
   manifests and attestations are taken), check platform slots and duplicates, and build the
   **exact bytes** of the index (its digest is known before the push). The media type: a
   Docker manifest list when every entry is a Docker v2 manifest and nothing needs OCI, else
   an OCI index; :attr:`Plan.why` says which and why.
2. **push** (:func:`push_plan`): bring each entry into the target repository (mounted from
   the source repository of the same registry, copied from another registry), check with HEAD
   that the registry holds every manifest the index names, PUT the index by digest (the
   registry's digest must be ours), and only then move the tag. For append/remove, the target
   must still be the index the plan was made from.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mabgui.core.platform import Platform, PlatformError
from mabgui.core.registry.cache import digest_of
from mabgui.core.registry.client import RegistryClient
from mabgui.core.registry.content import (
    DOCKER_LIST,
    DOCKER_MANIFEST,
    INDEX_TYPES,
    OCI_INDEX,
    Fetched,
)
from mabgui.core.registry.copy import Copier, Progress, quiet
from mabgui.core.registry.decode import config_descriptor, load
from mabgui.core.registry.errors import NotFound, RegistryError
from mabgui.core.registry.model import REFERENCE_DIGEST, Descriptor, short_digest
from mabgui.core.registry.reference import InvalidReference, Reference, parse_reference
from mabgui.core.registry.write import BlobUnknown


class AssembleError(RegistryError):
    """Sources that cannot make the index asked for (the message says which and why)."""

    kind = "assemble"


class PlatformMismatch(AssembleError):
    """A source whose platform is not the one of the slot it was given for."""

    kind = "platform-mismatch"


class TargetChanged(AssembleError):
    kind = "target-changed"


@dataclass(frozen=True)
class Source:
    """One source as given: ``[PLATFORM=]REF``; ``REF`` may be ``@sha256:…`` or ``:tag`` (in
    the target's repository) or a full reference."""

    text: str
    ref: Reference
    slot: Platform | None = None


def parse_source(text: str, target: Reference) -> Source:
    raw = text.strip()
    slot = None
    if "=" in raw:
        head, _, raw = raw.partition("=")
        try:
            slot = Platform.parse(head)
        except PlatformError as exc:
            raise AssembleError(
                f"source {text!r}: {exc}",
                hint="PLATFORM=REF, e.g. linux/arm64=host:5000/app@sha256:…",
            ) from None
    if raw.startswith("sha256:") or raw.startswith("@"):
        ref = target.with_digest(raw.lstrip("@"))
    elif raw.startswith(":"):
        ref = target.with_tag(raw[1:])
    else:
        ref = parse_reference(raw)
    return Source(text, ref, slot)


@dataclass(frozen=True)
class Entry:
    """One descriptor of the index, and where its manifest comes from."""

    descriptor: dict[str, Any]  # exactly as it will be written
    source: Reference  # where the manifest is (a repository, by digest)
    origin: str  # the source as the user gave it ("" for entries already in the target)

    @property
    def digest(self) -> str:
        return str(self.descriptor["digest"])

    @property
    def media_type(self) -> str:
        return str(self.descriptor.get("mediaType") or "")

    @property
    def parsed(self) -> Descriptor:
        return Descriptor.from_json(self.descriptor)

    @property
    def platform(self) -> Platform | None:
        d = self.parsed
        return None if d.is_attestation else d.platform

    @property
    def attests(self) -> str:
        """The digest this attestation manifest describes ("" for an image)."""
        d = self.parsed
        return d.annotations.get(REFERENCE_DIGEST, "") if d.is_attestation else ""


@dataclass(frozen=True)
class Plan:
    """The exact index to push, and how it came about."""

    operation: str  # create | append | remove
    target: Reference
    entries: tuple[Entry, ...]
    media_type: str
    why: str
    data: bytes
    previous: str = ""  # the digest the target had (append/remove)
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return digest_of(self.data)

    @property
    def platforms(self) -> list[str]:
        return [str(p) for e in self.entries if (p := e.platform) is not None]

    def to_json(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "target": str(self.target),
            "digest": self.digest,
            "size": len(self.data),
            "mediaType": self.media_type,
            "why": self.why,
            "previous": self.previous or None,
            "platforms": self.platforms,
            "added": list(self.added),
            "removed": list(self.removed),
            "entries": [
                {
                    "platform": str(e.platform) if e.platform else None,
                    "attestationFor": e.attests or None,
                    "digest": e.digest,
                    "mediaType": e.media_type,
                    "size": e.descriptor.get("size"),
                    "source": e.origin or None,
                }
                for e in self.entries
            ],
            "index": json.loads(self.data),
        }

    def tree_lines(self) -> list[str]:
        """The resulting tree as text lines (the preview the CLI and the dialog show)."""
        kind = "OCI index" if self.media_type == OCI_INDEX else "Docker manifest list"
        lines = [f"{self.target}", f"  {kind}  {self.digest}  {len(self.data)} B"]
        for e in self.entries:
            label = str(e.platform) if e.platform else f"attestation → {short_digest(e.attests)}"
            mark = "+" if e.digest in self.added else " "
            origin = f"  ← {e.origin}" if e.origin else ""
            lines.append(f"  {mark} {label:<26} {e.digest}{origin}")
        for digest in self.removed:
            lines.append(f"  - removed {digest}")
        for key, value in self.annotations.items():
            lines.append(f"  annotation {key}={value}")
        return lines


# --- resolving sources ------------------------------------------------------------------------


async def _platform_of_manifest(
    client: RegistryClient, ref: Reference, fetched: Fetched
) -> Platform:
    cfg = config_descriptor(fetched.data)
    if cfg is None:
        raise AssembleError(f"{ref} has no image config; it is not an image")
    config = load((await client.get_blob(ref, cfg.digest)).data, f"config of {ref}")
    parts = [str(config.get(k) or "") for k in ("os", "architecture", "variant")]
    platform = Platform.try_parse("/".join(p for p in parts if p))
    if platform is None:
        raise AssembleError(f"{ref}: its config names no known platform ({'/'.join(parts)})")
    return platform


def _descriptor(fetched: Fetched, platform: Platform) -> dict[str, Any]:
    plat: dict[str, str] = {"architecture": platform.architecture, "os": platform.os}
    if platform.variant:
        plat["variant"] = platform.variant
    return {"mediaType": fetched.media_type, "digest": fetched.digest, "size": fetched.size,
            "platform": plat}  # fmt: skip


async def resolve_source(client: RegistryClient, source: Source) -> list[Entry]:
    """The entries ``source`` contributes: its image, or its index's images (the one of its
    slot when given) with their attestation manifests."""
    fetched = await client.get_manifest(source.ref)
    repo = source.ref.with_digest(fetched.digest)
    if fetched.media_type not in INDEX_TYPES:
        platform = await _platform_of_manifest(client, source.ref, fetched)
        if source.slot is not None and platform != source.slot:
            raise PlatformMismatch(
                f"{source.text}: the image is {platform}, not {source.slot}",
                hint=f"give a {source.slot} image for the {source.slot} slot",
            )
        return [Entry(_descriptor(fetched, platform), repo, source.text)]
    doc = load(fetched.data, f"index {source.ref}")
    raw = [m for m in doc.get("manifests") or [] if isinstance(m, dict)]
    entries = [Entry(m, repo, source.text) for m in raw]
    for e in entries:
        if e.media_type in INDEX_TYPES:
            raise AssembleError(f"{source.text}: nested indexes are not supported as sources")
    images = [e for e in entries if e.platform is not None]
    if source.slot is not None:
        images = [e for e in images if e.platform == source.slot]
        if not images:
            have = ", ".join(str(e.platform) for e in entries if e.platform) or "no platforms"
            raise PlatformMismatch(
                f"{source.text}: has no {source.slot} image (it has {have})",
                hint=f"give a {source.slot} image for the {source.slot} slot",
            )
    if not images:
        raise AssembleError(f"{source.text}: the index holds no platform image")
    digests = {e.digest for e in images}
    attestations = [e for e in entries if e.attests in digests]
    return images + attestations


async def resolve_sources(client: RegistryClient, sources: Sequence[Source]) -> list[Entry]:
    import asyncio

    results = await asyncio.gather(*(resolve_source(client, s) for s in sources))
    return [e for group in results for e in group]


# --- building the index -----------------------------------------------------------------------


def _check_unique(entries: Sequence[Entry]) -> list[Entry]:
    seen: dict[str, Entry] = {}
    by_platform: dict[Platform, Entry] = {}
    result = []
    for e in entries:
        if e.digest in seen:
            continue
        seen[e.digest] = e
        platform = e.platform
        if platform is not None:
            other = by_platform.get(platform)
            if other is not None:
                was = other.origin or "the target index"
                raise AssembleError(
                    f"two images for {platform}: {short_digest(other.digest)} ({was}) and"
                    f" {short_digest(e.digest)} ({e.origin or 'the target index'})",
                    hint="an index has one image per platform; remove one of them"
                    " (`mabgui index remove TARGET --platform P` first for an append)",
                )
            by_platform[platform] = e
        result.append(e)
    return result


def choose_media_type(
    entries: Sequence[Entry], annotations: Mapping[str, str], current: str = ""
) -> tuple[str, str]:
    """OCI index, or a Docker manifest list when everything allows it; and the reason."""
    oci = [e for e in entries if e.media_type != DOCKER_MANIFEST and not e.attests]
    if current == OCI_INDEX:
        return OCI_INDEX, "the target already is an OCI index"
    if annotations:
        return OCI_INDEX, "an OCI index: annotations exist only in OCI indexes"
    if any(e.attests for e in entries):
        return OCI_INDEX, "an OCI index: attestation manifests need one"
    if oci:
        return OCI_INDEX, (
            f"an OCI index: {oci[0].origin or short_digest(oci[0].digest)} is an OCI manifest"
            if current != DOCKER_LIST
            else "an OCI index: the Docker manifest list gets an OCI manifest, which it cannot hold"
        )
    return DOCKER_LIST, (
        "a Docker manifest list: every entry is a Docker v2 manifest"
        " (what `docker manifest create` makes; older clients read it)"
    )


def render(entries: Sequence[Entry], media_type: str, annotations: Mapping[str, str]) -> bytes:
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "manifests": [e.descriptor for e in entries],
    }
    if annotations and media_type == OCI_INDEX:
        doc["annotations"] = dict(annotations)
    return json.dumps(doc, indent=2).encode()


def _target_tag(target: Reference) -> Reference:
    if target.digest or not target.tag:
        raise InvalidReference(
            f"the target {target} must be a tag (the index is pushed by digest and tagged)",
            hint="e.g. host:5000/app:1.0",
        )
    return target


async def plan_create(
    client: RegistryClient,
    target: Reference,
    sources: Sequence[Source],
    annotations: Mapping[str, str] | None = None,
) -> Plan:
    _target_tag(target)
    if not sources:
        raise AssembleError("no sources given", hint="give one image per platform")
    entries = _check_unique(await resolve_sources(client, sources))
    media_type, why = choose_media_type(entries, annotations or {})
    return Plan(
        "create", target, tuple(entries), media_type, why,
        render(entries, media_type, annotations or {}),
        added=tuple(e.digest for e in entries), annotations=dict(annotations or {}),
    )  # fmt: skip


async def _current(client: RegistryClient, target: Reference) -> tuple[Fetched, list[Entry]]:
    try:
        fetched = await client.get_manifest(target)
    except NotFound:
        raise AssembleError(
            f"{target} does not exist", hint="create it with `mabgui index create`"
        ) from None
    here = target.with_digest(fetched.digest)
    if fetched.media_type in INDEX_TYPES:
        doc = load(fetched.data, f"index {target}")
        raw = [m for m in doc.get("manifests") or [] if isinstance(m, dict)]
        return fetched, [Entry(m, here, "") for m in raw]
    platform = await _platform_of_manifest(client, target, fetched)
    return fetched, [Entry(_descriptor(fetched, platform), here, "")]


def _annotations_of(fetched: Fetched) -> dict[str, str]:
    if fetched.media_type not in INDEX_TYPES:
        return {}
    value = load(fetched.data, "the index").get("annotations")
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


async def plan_append(
    client: RegistryClient,
    target: Reference,
    sources: Sequence[Source],
    annotations: Mapping[str, str] | None = None,
) -> Plan:
    _target_tag(target)
    if not sources:
        raise AssembleError("no sources given", hint="give the image(s) to append")
    fetched, current = await _current(client, target)
    new = await resolve_sources(client, sources)
    known = {e.digest for e in current}
    fresh = [e for e in new if e.digest not in known]
    entries = _check_unique([*current, *fresh])
    merged = {**_annotations_of(fetched), **(annotations or {})}
    kind = fetched.media_type if fetched.media_type in INDEX_TYPES else ""
    media_type, why = choose_media_type(entries, merged, kind)
    return Plan(
        "append", target, tuple(entries), media_type, why, render(entries, media_type, merged),
        previous=fetched.digest, added=tuple(e.digest for e in fresh), annotations=merged,
    )  # fmt: skip


async def plan_remove(
    client: RegistryClient, target: Reference, platforms: Sequence[Platform]
) -> Plan:
    _target_tag(target)
    if not platforms:
        raise AssembleError("no platform given", hint="--platform linux/arm64")
    fetched, current = await _current(client, target)
    if fetched.media_type not in INDEX_TYPES:
        raise AssembleError(f"{target} is a single image, not an index")
    have = {e.platform for e in current if e.platform}
    missing = [str(p) for p in platforms if p not in have]
    if missing:
        raise AssembleError(
            f"{target} has no {', '.join(missing)}"
            f" (it has {', '.join(sorted(str(p) for p in have))})"
        )
    gone = {e.digest for e in current if e.platform in set(platforms)}
    entries = [e for e in current if e.digest not in gone and e.attests not in gone]
    if not any(e.platform for e in entries):
        raise AssembleError(
            f"removing {', '.join(str(p) for p in platforms)} would leave {target} empty",
            hint="delete the tag instead (`mabgui tag rm`)",
        )
    removed = tuple(e.digest for e in current if e not in entries)
    annotations = _annotations_of(fetched)
    return Plan(
        "remove", target, tuple(entries), fetched.media_type,
        "the target's media type is kept", render(entries, fetched.media_type, annotations),
        previous=fetched.digest, removed=removed, annotations=annotations,
    )  # fmt: skip


# --- pushing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PushResult:
    plan: Plan
    digest: str
    stats: dict[str, int]

    def to_json(self) -> dict[str, Any]:
        plan = self.plan.to_json()
        plan.pop("index")
        return {"ok": True, "pushed": f"{self.plan.target.name}@{self.digest}", **plan,
                **self.stats}  # fmt: skip


async def push_plan(
    client: RegistryClient, plan: Plan, *, progress: Progress = quiet
) -> PushResult:
    """Write ``plan`` (see the module docstring for the order that keeps it whole)."""
    import asyncio

    target = plan.target
    if plan.previous:
        now = (await client.get_manifest(target)).digest
        if now != plan.previous:
            raise TargetChanged(
                f"{target} changed since the preview ({short_digest(plan.previous)} →"
                f" {short_digest(now)}); nothing written",
                hint="preview again",
            )
    copier = Copier(client, progress=progress)
    moving = [e for e in plan.entries if e.source.name != target.name]
    if moving:
        progress(f"bringing {len(moving)} manifest(s) into {target.name}")
    await asyncio.gather(*(copier.manifest(e.source, target, e.digest) for e in moving))
    present = await asyncio.gather(*(copier.writer.has_manifest(target, e.digest)
                                     for e in plan.entries))  # fmt: skip
    lacking = [e.digest for e, ok in zip(plan.entries, present, strict=True) if not ok]
    if lacking:
        raise BlobUnknown(
            f"{target.name} lacks {', '.join(short_digest(d) for d in lacking)};"
            " the index was not pushed",
            hint="the source manifests were deleted meanwhile; push them again",
        )
    digest, _ = await copier.writer.put_manifest(target, plan.digest, plan.data, plan.media_type)
    progress(f"pushed the index {digest}")
    await copier.writer.put_manifest(target, str(target.tag), plan.data, plan.media_type)
    progress(f"tagged {target}")
    return PushResult(plan, digest, copier.stats.to_json())

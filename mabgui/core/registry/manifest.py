"""An image reference as a tree: index → platform manifests → config and layers, attestations.

Parsing is pure (:func:`parse_index`, :func:`parse_manifest`, :func:`parse_config` over raw JSON
bytes); :func:`fetch_tree` drives a :class:`~mabgui.core.registry.RegistryClient` to fetch a whole
tree concurrently: the root, then every child manifest at once, each followed immediately by its
config — about three round trips for a multi-platform image, however many platforms it has.

Attestation manifests (``unknown/unknown`` entries whose ``vnd.docker.reference.digest``
annotation names their subject, as buildx pushes them) are attached to the platform they
describe, with the in-toto predicate types of their layers.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

from mabgui.core.platform import Platform
from mabgui.core.registry import (
    INDEX_TYPES,
    MANIFEST_TYPES,
    Fetched,
    NotFound,
    RegistryError,
    UnsupportedMediaType,
    media_type_of,
    verify,
)
from mabgui.core.registry.reference import Reference

T = TypeVar("T")
REFERENCE_DIGEST = "vnd.docker.reference.digest"
REFERENCE_TYPE = "vnd.docker.reference.type"
PREDICATE_TYPE = "in-toto.io/predicate-type"
MAX_DEPTH = 4

PREDICATE_NAMES = {
    "https://spdx.dev/Document": "SBOM (SPDX)",
    "https://cyclonedx.org/bom": "SBOM (CycloneDX)",
    "https://slsa.dev/provenance/v0.2": "Provenance (SLSA v0.2)",
    "https://slsa.dev/provenance/v1": "Provenance (SLSA v1)",
}


def predicate_label(predicate_type: str) -> str:
    """A readable name for an in-toto predicate type (SBOM, provenance…)."""
    if predicate_type in PREDICATE_NAMES:
        return PREDICATE_NAMES[predicate_type]
    lowered = predicate_type.lower()
    if "spdx" in lowered or "cyclonedx" in lowered:
        return "SBOM"
    if "provenance" in lowered:
        return "Provenance"
    return predicate_type


def human_size(size: int) -> str:
    """``1.2 MB`` style sizes (decimal units, as registries and docker report them)."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"  # pragma: no cover - the loop always returns


def short_digest(digest: str, length: int = 12) -> str:
    """``sha256:0123456789ab`` (the algorithm and the first ``length`` hex characters)."""
    algorithm, _, hex_part = digest.partition(":")
    return f"{algorithm}:{hex_part[:length]}" if hex_part else digest


def media_type_label(media_type: str) -> str:
    """Short readable names for the common media types (``OCI index``, ``layer tar+zstd``)."""
    labels = {
        "application/vnd.oci.image.index.v1+json": "OCI index",
        "application/vnd.oci.image.manifest.v1+json": "OCI manifest",
        "application/vnd.docker.distribution.manifest.list.v2+json": "Docker manifest list",
        "application/vnd.docker.distribution.manifest.v2+json": "Docker manifest v2",
        "application/vnd.oci.image.config.v1+json": "OCI config",
        "application/vnd.docker.container.image.v1+json": "Docker config",
        "application/vnd.in-toto+json": "in-toto attestation",
    }
    if media_type in labels:
        return labels[media_type]
    if "layer" in media_type or "rootfs" in media_type:
        layer = Layer("", media_type, 0)
        kind = "foreign layer" if layer.foreign else "layer"
        return f"{kind} tar+{layer.compression}" if layer.compression != "none" else f"{kind} tar"
    return media_type


@dataclass(frozen=True)
class Descriptor:
    """An OCI content descriptor as found in an index, a manifest or a referrers list."""

    media_type: str
    digest: str
    size: int
    annotations: dict[str, str] = field(default_factory=dict)
    platform: Platform | None = None
    os_version: str = ""
    os_features: tuple[str, ...] = ()
    artifact_type: str = ""
    urls: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Descriptor:
        if not isinstance(data, dict):
            raise UnsupportedMediaType("a descriptor is not a JSON object", "")
        plat = data.get("platform") or None
        platform: Platform | None = None
        os_version = ""
        features: tuple[str, ...] = ()
        if isinstance(plat, dict):
            platform = platform_of(plat.get("os"), plat.get("architecture"), plat.get("variant"))
            os_version = str(plat.get("os.version") or "")
            features = tuple(str(f) for f in plat.get("os.features") or ())
        digest = data.get("digest")
        if not isinstance(digest, str) or ":" not in digest:
            raise UnsupportedMediaType(f"a descriptor has no valid digest ({digest!r})", "")
        return cls(
            media_type=str(data.get("mediaType") or ""),
            digest=digest,
            size=int(data.get("size") or 0),
            annotations={str(k): str(v) for k, v in (data.get("annotations") or {}).items()},
            platform=platform,
            os_version=os_version,
            os_features=features,
            artifact_type=str(data.get("artifactType") or ""),
            urls=tuple(str(u) for u in data.get("urls") or ()),
        )

    @property
    def is_attestation(self) -> bool:
        return self.annotations.get(REFERENCE_TYPE) == "attestation-manifest" or (
            REFERENCE_DIGEST in self.annotations and self.platform == Platform("unknown", "unknown")
        )


def platform_of(os_name: Any, arch: Any, variant: Any = "") -> Platform:
    """A :class:`Platform` from manifest fields; unknown spellings are kept as they are."""
    os_text, arch_text, variant_text = str(os_name or ""), str(arch or ""), str(variant or "")
    if not os_text and not arch_text:
        return Platform("unknown", "unknown")
    text = "/".join(p for p in (os_text or "unknown", arch_text or "unknown", variant_text) if p)
    return Platform.try_parse(text) or Platform(os_text, arch_text, variant_text)


@dataclass(frozen=True)
class Layer:
    digest: str
    media_type: str
    size: int
    urls: tuple[str, ...] = ()
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def compression(self) -> str:
        mt = self.media_type
        if mt.endswith("+zstd") or mt.endswith(".zstd"):
            return "zstd"
        if mt.endswith("gzip") or mt.endswith(".tar.gzip") or mt.endswith("+gzip"):
            return "gzip"
        return "none"

    @property
    def foreign(self) -> bool:
        return "foreign" in self.media_type or "nondistributable" in self.media_type


@dataclass(frozen=True)
class ImageConfig:
    """The parts of an image config worth showing; ``raw`` keeps the verified bytes."""

    digest: str
    size: int
    media_type: str
    os: str = ""
    architecture: str = ""
    variant: str = ""
    os_version: str = ""
    created: str = ""
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env_count: int = 0
    history_count: int = 0
    labels: dict[str, str] = field(default_factory=dict)
    user: str = ""
    working_dir: str = ""
    raw: bytes = field(default=b"", repr=False)
    error: str = ""  # why the config could not be fetched or read

    @property
    def platform(self) -> Platform:
        return platform_of(self.os, self.architecture, self.variant)


@dataclass(frozen=True)
class Attestation:
    """An attestation manifest attached to the platform manifest it describes."""

    digest: str
    media_type: str
    size: int
    subject: str
    predicate_types: tuple[str, ...]
    layers: tuple[Layer, ...] = ()
    raw: bytes = field(default=b"", repr=False)
    source: Literal["index", "referrers"] = "index"
    artifact_type: str = ""


@dataclass(frozen=True)
class ImageManifest:
    digest: str
    media_type: str
    size: int
    platform: Platform | None
    config: ImageConfig | None
    layers: tuple[Layer, ...]
    annotations: dict[str, str] = field(default_factory=dict)
    os_version: str = ""
    subject: str = ""
    artifact_type: str = ""
    attestations: tuple[Attestation, ...] = ()
    raw: bytes = field(default=b"", repr=False)
    error: str = ""  # set when the manifest could not be fetched; the rest is then empty

    @property
    def platform_label(self) -> str:
        if self.platform is None:
            return "unknown"
        return str(self.platform) + (f" ({self.os_version})" if self.os_version else "")

    @property
    def layers_size(self) -> int:
        return sum(layer.size for layer in self.layers)

    @property
    def total_size(self) -> int:
        """Manifest + config + layers: what pulling this platform transfers at most."""
        return self.size + (self.config.size if self.config else 0) + self.layers_size


@dataclass(frozen=True)
class ImageIndex:
    digest: str
    media_type: str
    size: int
    annotations: dict[str, str]
    children: tuple[ImageManifest | ImageIndex, ...]
    platform: Platform | None = None  # when nested with a platform in its parent
    subject: str = ""
    artifact_type: str = ""
    unattached: tuple[Descriptor, ...] = ()  # attestations whose subject is not in the index
    raw: bytes = field(default=b"", repr=False)
    error: str = ""

    @property
    def manifests(self) -> tuple[ImageManifest, ...]:
        return tuple(c for c in self.children if isinstance(c, ImageManifest))

    def walk_manifests(self) -> Iterator[ImageManifest]:
        for child in self.children:
            if isinstance(child, ImageIndex):
                yield from child.walk_manifests()
            else:
                yield child

    @property
    def platform_label(self) -> str:
        return str(self.platform) if self.platform else "index"


@dataclass(frozen=True)
class ManifestTree:
    """What :func:`fetch_tree` returns: the reference, its root and the referrers found."""

    reference: Reference
    root: ImageIndex | ImageManifest
    referrers: tuple[Descriptor, ...] = ()
    requests: int = 0  # HTTP requests it took (0 when all came from the cache)

    @property
    def digest(self) -> str:
        return self.root.digest

    def platform_manifests(self) -> list[ImageManifest]:
        if isinstance(self.root, ImageIndex):
            return list(self.root.walk_manifests())
        return [self.root]

    def shared_layers(self) -> dict[str, list[str]]:
        """Layer digest → the platforms using it, for layers used by two platforms or more."""
        users: dict[str, list[str]] = {}
        for m in self.platform_manifests():
            for layer in m.layers:
                users.setdefault(layer.digest, [])
                if m.platform_label not in users[layer.digest]:
                    users[layer.digest].append(m.platform_label)
        return {d: p for d, p in users.items() if len(p) > 1}

    @property
    def total_size(self) -> int:
        """Unique bytes: the root, every manifest, config and distinct layer counted once."""
        seen: dict[str, int] = {self.root.digest: self.root.size}
        for m in self.platform_manifests():
            seen[m.digest] = m.size
            if m.config:
                seen[m.config.digest] = m.config.size
            for layer in m.layers:
                seen[layer.digest] = layer.size
            for a in m.attestations:
                seen[a.digest] = a.size
        return sum(seen.values())

    def to_json(self) -> dict[str, Any]:
        """The ``mabgui inspect --json`` document."""
        root = self.root
        entries = (
            [_manifest_json(c) for c in root.children]
            if isinstance(root, ImageIndex)
            else [_manifest_json(root)]
        )
        return {
            "reference": str(self.reference),
            "digest": root.digest,
            "mediaType": root.media_type,
            "size": root.size,
            "manifests": entries,
        }


def _manifest_json(m: ImageManifest | ImageIndex) -> dict[str, Any]:
    if isinstance(m, ImageIndex):
        return {
            "platform": str(m.platform) if m.platform else None,
            "digest": m.digest,
            "mediaType": m.media_type,
            "size": m.size,
            "config": None,
            "layers": [],
            "attestations": [],
            "manifests": [_manifest_json(c) for c in m.children],
        }
    config = None
    if m.config is not None:
        config = {
            "digest": m.config.digest,
            "size": m.config.size,
            "os": m.config.os,
            "architecture": m.config.architecture,
            "variant": m.config.variant,
        }
    return {
        "platform": str(m.platform) if m.platform else None,
        "digest": m.digest,
        "mediaType": m.media_type,
        "size": m.size,
        "config": config,
        "layers": [
            {"digest": layer.digest, "size": layer.size, "mediaType": layer.media_type}
            for layer in m.layers
        ],
        "attestations": [
            {
                "digest": a.digest,
                "mediaType": a.media_type,
                "predicateTypes": list(a.predicate_types),
            }
            for a in m.attestations
        ],
    }


# --- pure parsers ------------------------------------------------------------------------------


def _load(data: bytes, what: str) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except ValueError as exc:
        raise UnsupportedMediaType(f"{what} is not valid JSON: {exc}", "") from None
    if not isinstance(doc, dict):
        raise UnsupportedMediaType(f"{what} is not a JSON object", "")
    return doc


def index_descriptors(data: bytes) -> list[Descriptor]:
    doc = _load(data, "the index")
    manifests = doc.get("manifests")
    if not isinstance(manifests, list):
        raise UnsupportedMediaType("the index has no manifests list", str(doc.get("mediaType")))
    return [Descriptor.from_json(d) for d in manifests]


def parse_layers(doc: dict[str, Any]) -> tuple[Layer, ...]:
    layers = doc.get("layers") or []
    if not isinstance(layers, list):
        raise UnsupportedMediaType("the manifest's layers are not a list", "")
    result = []
    for item in layers:
        d = Descriptor.from_json(item)
        result.append(Layer(d.digest, d.media_type, d.size, d.urls, d.annotations))
    return tuple(result)


def parse_config(data: bytes, digest: str, media_type: str) -> ImageConfig:
    """The readable summary of an image config blob."""
    doc = _load(data, f"config {digest}")
    cfg = doc.get("config") or {}
    if not isinstance(cfg, dict):
        cfg = {}
    return ImageConfig(
        digest=digest,
        size=len(data),
        media_type=media_type,
        os=str(doc.get("os") or ""),
        architecture=str(doc.get("architecture") or ""),
        variant=str(doc.get("variant") or ""),
        os_version=str(doc.get("os.version") or ""),
        created=str(doc.get("created") or ""),
        entrypoint=tuple(str(x) for x in cfg.get("Entrypoint") or ()),
        cmd=tuple(str(x) for x in cfg.get("Cmd") or ()),
        env_count=len(cfg.get("Env") or ()),
        history_count=len(doc.get("history") or ()),
        labels={str(k): str(v) for k, v in (cfg.get("Labels") or {}).items()},
        user=str(cfg.get("User") or ""),
        working_dir=str(cfg.get("WorkingDir") or ""),
        raw=data,
    )


def parse_attestation(data: bytes, descriptor: Descriptor, subject: str) -> Attestation:
    doc = _load(data, f"attestation {descriptor.digest}")
    layers = parse_layers(doc)
    predicates = tuple(
        dict.fromkeys(
            layer.annotations[PREDICATE_TYPE]
            for layer in layers
            if PREDICATE_TYPE in layer.annotations
        )
    )
    return Attestation(
        digest=descriptor.digest,
        media_type=descriptor.media_type,
        size=descriptor.size or len(data),
        subject=subject,
        predicate_types=predicates,
        layers=layers,
        raw=data,
        artifact_type=str(doc.get("artifactType") or descriptor.artifact_type or ""),
    )


def parse_manifest(
    fetched: Fetched,
    descriptor: Descriptor | None,
    config: ImageConfig | None,
    attestations: tuple[Attestation, ...] = (),
) -> ImageManifest:
    doc = _load(fetched.data, f"manifest {fetched.digest}")
    platform = descriptor.platform if descriptor else None
    os_version = descriptor.os_version if descriptor else ""
    if platform is None and config is not None and (config.os or config.architecture):
        platform = config.platform
        os_version = os_version or config.os_version
    subject = doc.get("subject") or {}
    return ImageManifest(
        digest=fetched.digest,
        media_type=fetched.media_type,
        size=fetched.size,
        platform=platform,
        config=config,
        layers=parse_layers(doc),
        annotations={str(k): str(v) for k, v in (doc.get("annotations") or {}).items()},
        os_version=os_version,
        subject=str(subject.get("digest") or "") if isinstance(subject, dict) else "",
        artifact_type=str(doc.get("artifactType") or ""),
        attestations=attestations,
        raw=fetched.data,
    )


def config_descriptor(data: bytes) -> Descriptor | None:
    cfg = _load(data, "the manifest").get("config")
    return Descriptor.from_json(cfg) if isinstance(cfg, dict) else None


# --- fetching ----------------------------------------------------------------------------------


class ManifestSource(Protocol):
    """What :func:`fetch_tree` needs: a :class:`~mabgui.core.registry.RegistryClient` or an
    :class:`OfflineSource` over recorded documents."""

    requests: int

    async def get_manifest(
        self, ref: Reference, target: str | None = None, *, expected_size: int | None = None
    ) -> Fetched: ...

    async def get_blob(self, ref: Reference, digest: str) -> Fetched: ...

    async def referrers(self, ref: Reference, digest: str) -> list[dict[str, Any]] | None: ...


def _is_image_config(media_type: str) -> bool:
    return media_type in (
        "application/vnd.oci.image.config.v1+json",
        "application/vnd.docker.container.image.v1+json",
    )


async def gather_all(*coros: Awaitable[T]) -> list[T]:
    """``asyncio.gather`` that, when one fails (or the caller is cancelled), cancels the others
    and waits for them: no request is left running, and no connection is left half-used, once
    this returns or raises."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


async def fetch_tree(
    client: ManifestSource, ref: Reference, *, referrers: bool = True
) -> ManifestTree:
    """Fetch the whole tree of ``ref`` (verified), children concurrently."""
    start = client.requests
    root_fetch = await client.get_manifest(ref)

    async def no_referrers() -> None:
        return None

    root, listed = await gather_all(
        _node(client, ref, root_fetch, None, depth=0),
        _referrers(client, ref, root_fetch.digest) if referrers else no_referrers(),
    )
    assert isinstance(root, ImageIndex | ImageManifest)
    found = tuple(Descriptor.from_json(d) for d in listed or ())  # type: ignore[union-attr]
    return ManifestTree(ref, root, found, client.requests - start)


async def _referrers(
    client: ManifestSource, ref: Reference, digest: str
) -> list[dict[str, Any]] | None:
    try:
        return await client.referrers(ref, digest)
    except RegistryError:
        return None  # referrers are extra information: never fail the look-up over them


async def _node(
    client: ManifestSource,
    ref: Reference,
    fetched: Fetched,
    descriptor: Descriptor | None,
    *,
    depth: int,
) -> ImageIndex | ImageManifest:
    if fetched.media_type in INDEX_TYPES:
        return await _index(client, ref, fetched, descriptor, depth=depth)
    if fetched.media_type in MANIFEST_TYPES:
        return await _manifest(client, ref, fetched, descriptor)
    raise UnsupportedMediaType(
        f"{fetched.digest} has the unsupported media type {fetched.media_type!r}",
        fetched.media_type,
    )


async def _index(
    client: ManifestSource,
    ref: Reference,
    fetched: Fetched,
    descriptor: Descriptor | None,
    *,
    depth: int,
) -> ImageIndex:
    doc = _load(fetched.data, f"index {fetched.digest}")
    descriptors = index_descriptors(fetched.data)
    attestation_of: dict[str, list[Descriptor]] = {}
    entries: list[Descriptor] = []
    for d in descriptors:
        if d.is_attestation and d.annotations.get(REFERENCE_DIGEST):
            attestation_of.setdefault(d.annotations[REFERENCE_DIGEST], []).append(d)
        else:
            entries.append(d)
    known = {d.digest for d in entries}
    unattached = tuple(
        d for subject, ds in attestation_of.items() if subject not in known for d in ds
    )

    async def child(d: Descriptor) -> ImageManifest | ImageIndex:
        # The attestations of a platform are fetched at the same time as its manifest.
        results = await gather_all(
            _child(client, ref, d, depth=depth + 1),
            *(_attestation(client, ref, a, d.digest) for a in attestation_of.get(d.digest, ())),
        )
        node, found = results[0], tuple(results[1:])
        assert isinstance(node, ImageManifest | ImageIndex)
        if isinstance(node, ImageManifest) and found:
            node = _with_attestations(node, found)  # type: ignore[arg-type]
        return node

    children = await gather_all(*(child(d) for d in entries))
    subject = doc.get("subject") or {}
    return ImageIndex(
        digest=fetched.digest,
        media_type=fetched.media_type,
        size=fetched.size,
        annotations={str(k): str(v) for k, v in (doc.get("annotations") or {}).items()},
        children=tuple(children),
        platform=descriptor.platform if descriptor else None,
        subject=str(subject.get("digest") or "") if isinstance(subject, dict) else "",
        artifact_type=str(doc.get("artifactType") or ""),
        unattached=unattached,
        raw=fetched.data,
    )


def _with_attestations(m: ImageManifest, found: tuple[Attestation, ...]) -> ImageManifest:
    from dataclasses import replace

    return replace(m, attestations=m.attestations + found)


async def _child(
    client: ManifestSource, ref: Reference, d: Descriptor, *, depth: int
) -> ImageManifest | ImageIndex:
    if d.media_type not in INDEX_TYPES | MANIFEST_TYPES:
        return _failed(d, f"not a manifest (media type {d.media_type!r})")
    if d.media_type in INDEX_TYPES and depth > MAX_DEPTH:
        return _failed(d, f"indexes nested deeper than {MAX_DEPTH} levels are not followed")
    try:
        fetched = await client.get_manifest(ref, d.digest, expected_size=d.size or None)
    except RegistryError as exc:
        # A missing platform manifest is shown as such; a corrupted one fails the whole look-up.
        if exc.kind in ("not-found", "unsupported-media-type"):
            return _failed(d, str(exc))
        raise
    return await _node(client, ref, fetched, d, depth=depth)


def _failed(d: Descriptor, reason: str) -> ImageManifest:
    return ImageManifest(
        digest=d.digest,
        media_type=d.media_type,
        size=d.size,
        platform=d.platform,
        config=None,
        layers=(),
        annotations=d.annotations,
        os_version=d.os_version,
        error=reason,
    )


async def _manifest(
    client: ManifestSource, ref: Reference, fetched: Fetched, descriptor: Descriptor | None
) -> ImageManifest:
    cfg_desc = config_descriptor(fetched.data)
    config: ImageConfig | None = None
    if cfg_desc is not None and _is_image_config(cfg_desc.media_type):
        try:
            blob = await client.get_blob(ref, cfg_desc.digest)
            config = parse_config(blob.data, cfg_desc.digest, cfg_desc.media_type)
        except RegistryError as exc:
            if exc.kind == "digest-mismatch":
                raise
            config = ImageConfig(
                cfg_desc.digest, cfg_desc.size, cfg_desc.media_type, error=str(exc)
            )
        except UnsupportedMediaType as exc:
            config = ImageConfig(
                cfg_desc.digest, cfg_desc.size, cfg_desc.media_type, error=str(exc)
            )
    elif cfg_desc is not None:
        # An artifact's config (often the empty descriptor): shown, not fetched.
        config = ImageConfig(cfg_desc.digest, cfg_desc.size, cfg_desc.media_type)
    return parse_manifest(fetched, descriptor, config)


async def _attestation(
    client: ManifestSource, ref: Reference, d: Descriptor, subject: str
) -> Attestation:
    try:
        fetched = await client.get_manifest(ref, d.digest, expected_size=d.size or None)
    except RegistryError as exc:
        if exc.kind == "digest-mismatch":
            raise
        return Attestation(d.digest, d.media_type, d.size, subject, (), source="index")
    return parse_attestation(fetched.data, d, subject)


class OfflineSource:
    """A :class:`ManifestSource` over already-recorded documents (digest → bytes).

    Unit tests build trees from recorded registry content with it; the same parsers and the
    same digest verification run as against a live registry.
    """

    def __init__(self, documents: dict[str, bytes], root: str) -> None:
        self.documents = documents
        self.root = root
        self.requests = 0

    def _get(self, digest: str, what: str) -> bytes:
        if digest not in self.documents:
            raise NotFound(f"{what} {digest} not found")
        data = self.documents[digest]
        verify(data, digest, f"{what} {digest}")
        return data

    async def get_manifest(
        self, ref: Reference, target: str | None = None, *, expected_size: int | None = None
    ) -> Fetched:
        digest = target if target and ":" in target else self.root
        data = self._get(digest, "manifest")
        return Fetched(digest, media_type_of(data, ""), data)

    async def get_blob(self, ref: Reference, digest: str) -> Fetched:
        return Fetched(digest, "", self._get(digest, "blob"))

    async def referrers(self, ref: Reference, digest: str) -> list[dict[str, Any]] | None:
        return None

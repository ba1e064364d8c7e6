"""The types of a manifest tree: descriptors, layers, configs, attestations, indexes.

Frozen dataclasses and their readable labels, no I/O. Values come from untrusted JSON through
the helpers below: wrong types never become a traceback (see :mod:`.decode`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

from mabgui.core.platform import Platform
from mabgui.core.registry.content import check_digest
from mabgui.core.registry.errors import UnsupportedMediaType
from mabgui.core.registry.reference import Reference

# --- reading untrusted JSON values -----------------------------------------------------------
# A registry's documents are data from the network: a field of the wrong type is dropped (for
# what is only shown) or refused with a typed error (for what the tree is built from), never
# a traceback.

MAX_TEXT = 4096


def short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:80] + "…"


def text_of(value: Any) -> str:
    """A scalar as text ("" for null, objects and lists), at most :data:`MAX_TEXT` chars."""
    if isinstance(value, str):
        return value[:MAX_TEXT]
    if isinstance(value, bool | int | float):
        return str(value)[:MAX_TEXT]
    return ""


def str_tuple(value: Any) -> tuple[str, ...]:
    """A list of scalars as strings; anything but a list is empty."""
    if not isinstance(value, list):
        return ()
    return tuple(text_of(v) for v in value if not isinstance(v, dict | list))


def str_map(value: Any) -> dict[str, str]:
    """An object of scalars as ``{str: str}``; anything but an object is empty."""
    if not isinstance(value, dict):
        return {}
    return {str(k): text_of(v) for k, v in value.items() if not isinstance(v, dict | list)}


def size_of(value: Any, what: str) -> int:
    """A descriptor ``size``: a non-negative integer (0 when absent), else a typed error."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UnsupportedMediaType(f"{what} has an invalid size {short_repr(value)}", "")
    return value


REFERENCE_DIGEST = "vnd.docker.reference.digest"
REFERENCE_TYPE = "vnd.docker.reference.type"
PREDICATE_TYPE = "in-toto.io/predicate-type"

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
    def from_json(cls, data: Any) -> Descriptor:
        """A descriptor from its JSON object; malformed structure raises a typed error, bad
        decoration (annotations, platform features) is dropped."""
        if not isinstance(data, dict):
            raise UnsupportedMediaType("a descriptor is not a JSON object", "")
        plat = data.get("platform") or None
        platform: Platform | None = None
        os_version = ""
        features: tuple[str, ...] = ()
        if isinstance(plat, dict):
            platform = platform_of(plat.get("os"), plat.get("architecture"), plat.get("variant"))
            os_version = text_of(plat.get("os.version"))
            features = str_tuple(plat.get("os.features"))
        digest = data.get("digest")
        if not isinstance(digest, str) or ":" not in digest:
            raise UnsupportedMediaType(
                f"a descriptor has no valid digest ({short_repr(digest)})", ""
            )
        check_digest(digest, "a descriptor")
        return cls(
            media_type=text_of(data.get("mediaType")),
            digest=digest,
            size=size_of(data.get("size"), f"descriptor {digest}"),
            annotations=str_map(data.get("annotations")),
            platform=platform,
            os_version=os_version,
            os_features=features,
            artifact_type=text_of(data.get("artifactType")),
            urls=str_tuple(data.get("urls")),
        )

    @property
    def is_attestation(self) -> bool:
        return self.annotations.get(REFERENCE_TYPE) == "attestation-manifest" or (
            REFERENCE_DIGEST in self.annotations and self.platform == Platform("unknown", "unknown")
        )


def platform_of(os_name: Any, arch: Any, variant: Any = "") -> Platform:
    """A :class:`Platform` from manifest fields; unknown spellings are kept as they are."""
    os_text, arch_text, variant_text = text_of(os_name), text_of(arch), text_of(variant)
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
            # found through the referrers API or the ``sha256-<hex>`` tag schema
            "referrers": [
                {
                    "digest": d.digest,
                    "artifactType": d.artifact_type or None,
                    "mediaType": d.media_type,
                    "size": d.size,
                }
                for d in self.referrers
            ],
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

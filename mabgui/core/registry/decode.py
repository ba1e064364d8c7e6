"""Pure decoders: raw JSON bytes of an index, a manifest, a config or an attestation → types.

Documents come from the network. Whatever they hold, a decoder returns a value or raises
:class:`UnsupportedMediaType` / :class:`UnsupportedDigest` (both :class:`RegistryError`):
structure the tree is built from (``manifests``, ``layers``, descriptor digests and sizes) is
checked; what is only shown (annotations, labels, ``Env``, ``Cmd``…) is dropped when its type
is wrong. The hypothesis fuzz pass (``tests/unit/test_registry_fuzz.py``) holds them to it.
"""

from __future__ import annotations

import json
from typing import Any

from mabgui.core.registry.content import Fetched
from mabgui.core.registry.errors import UnsupportedMediaType
from mabgui.core.registry.model import (
    PREDICATE_TYPE,
    Attestation,
    Descriptor,
    ImageConfig,
    ImageManifest,
    Layer,
    str_map,
    str_tuple,
    text_of,
)

MAX_ENTRIES = 10_000  # descriptors in one index or layers in one manifest


def load(data: bytes, what: str) -> dict[str, Any]:
    """``data`` as a JSON object, else a typed error (deep nesting included)."""
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:200]
        raise UnsupportedMediaType(f"{what} is not valid JSON: {reason}", "") from None
    if not isinstance(doc, dict):
        raise UnsupportedMediaType(f"{what} is not a JSON object", "")
    return doc


def _entries(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise UnsupportedMediaType(f"{what} are not a list", "")
    if len(value) > MAX_ENTRIES:
        raise UnsupportedMediaType(f"{what} have more than {MAX_ENTRIES} entries", "")
    return value


def index_descriptors(data: bytes) -> list[Descriptor]:
    doc = load(data, "the index")
    if "manifests" not in doc or not isinstance(doc.get("manifests"), list):
        raise UnsupportedMediaType("the index has no manifests list", text_of(doc.get("mediaType")))
    return [Descriptor.from_json(d) for d in _entries(doc["manifests"], "the index's manifests")]


def parse_layers(doc: dict[str, Any]) -> tuple[Layer, ...]:
    layers = doc.get("layers") or []
    result = []
    for item in _entries(layers, "the manifest's layers"):
        d = Descriptor.from_json(item)
        result.append(Layer(d.digest, d.media_type, d.size, d.urls, d.annotations))
    return tuple(result)


def parse_config(data: bytes, digest: str, media_type: str) -> ImageConfig:
    """The readable summary of an image config blob."""
    doc = load(data, f"config {digest}")
    cfg = doc.get("config")
    if not isinstance(cfg, dict):
        cfg = {}
    env, history = cfg.get("Env"), doc.get("history")
    return ImageConfig(
        digest=digest,
        size=len(data),
        media_type=media_type,
        os=text_of(doc.get("os")),
        architecture=text_of(doc.get("architecture")),
        variant=text_of(doc.get("variant")),
        os_version=text_of(doc.get("os.version")),
        created=text_of(doc.get("created")),
        entrypoint=str_tuple(cfg.get("Entrypoint")),
        cmd=str_tuple(cfg.get("Cmd")),
        env_count=len(env) if isinstance(env, list) else 0,
        history_count=len(history) if isinstance(history, list) else 0,
        labels=str_map(cfg.get("Labels")),
        user=text_of(cfg.get("User")),
        working_dir=text_of(cfg.get("WorkingDir")),
        raw=data,
    )


def parse_attestation(data: bytes, descriptor: Descriptor, subject: str) -> Attestation:
    doc = load(data, f"attestation {descriptor.digest}")
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
        artifact_type=text_of(doc.get("artifactType")) or descriptor.artifact_type,
    )


def subject_of(doc: dict[str, Any]) -> str:
    """The digest a manifest or index names as its ``subject`` ("" when none or malformed)."""
    subject = doc.get("subject")
    return text_of(subject.get("digest")) if isinstance(subject, dict) else ""


def parse_manifest(
    fetched: Fetched,
    descriptor: Descriptor | None,
    config: ImageConfig | None,
    attestations: tuple[Attestation, ...] = (),
) -> ImageManifest:
    doc = load(fetched.data, f"manifest {fetched.digest}")
    platform = descriptor.platform if descriptor else None
    os_version = descriptor.os_version if descriptor else ""
    if platform is None and config is not None and (config.os or config.architecture):
        platform = config.platform
        os_version = os_version or config.os_version
    return ImageManifest(
        digest=fetched.digest,
        media_type=fetched.media_type,
        size=fetched.size,
        platform=platform,
        config=config,
        layers=parse_layers(doc),
        annotations=str_map(doc.get("annotations")),
        os_version=os_version,
        subject=subject_of(doc),
        artifact_type=text_of(doc.get("artifactType")),
        attestations=attestations,
        raw=fetched.data,
    )


def config_descriptor(data: bytes) -> Descriptor | None:
    cfg = load(data, "the manifest").get("config")
    return Descriptor.from_json(cfg) if isinstance(cfg, dict) else None

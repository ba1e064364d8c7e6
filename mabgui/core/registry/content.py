"""Content-addressed documents: media types, verified bytes, and the digests accepted.

Shared by the client (which fetches) and the decoders and tree (which read); it has no HTTP.
Only sha256, sha384 and sha512 digests are accepted (:data:`~.reference.DIGEST_ALGORITHMS`):
``md5:`` or ``shake_256:`` from a registry header, a descriptor or a user raise
:class:`UnsupportedDigest` before anything is fetched or trusted by them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mabgui.core.registry.cache import digest_of
from mabgui.core.registry.errors import DigestMismatch, UnsupportedDigest, UnsupportedMediaType
from mabgui.core.registry.reference import InvalidReference, validate_digest

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
SCHEMA1 = (
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
)
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
ACCEPT_MANIFESTS = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST))

MAX_MANIFEST_BYTES = 4 * 1024 * 1024
MAX_CONFIG_BYTES = 8 * 1024 * 1024


def check_digest(digest: str, what: str) -> str:
    """``digest`` when well formed with an accepted algorithm, else :class:`UnsupportedDigest`."""
    try:
        return validate_digest(digest)
    except InvalidReference as exc:
        raise UnsupportedDigest(
            f"{what}: {exc}", hint="the registry or the document names content by a digest"
            " mabgui does not trust; only sha256, sha384 and sha512 are accepted",
        ) from None  # fmt: skip


def verify(data: bytes, digest: str, what: str) -> None:
    """Raise :class:`DigestMismatch` unless ``data`` hashes to ``digest`` (an accepted one)."""
    check_digest(digest, what)
    actual = digest_of(data, digest.partition(":")[0])
    if actual != digest:
        raise DigestMismatch(what, digest, actual)


@dataclass(frozen=True)
class Fetched:
    """A verified manifest or blob."""

    digest: str
    media_type: str
    data: bytes
    from_cache: bool = False

    @property
    def size(self) -> int:
        return len(self.data)

    def json(self) -> dict[str, Any]:
        try:
            value = json.loads(self.data)
        except (ValueError, RecursionError):
            value = None
        if not isinstance(value, dict):
            raise UnsupportedMediaType(
                f"{self.digest} is not a JSON object", self.media_type or "unknown"
            )
        return value


def _load_object(data: bytes) -> dict[str, Any] | None:
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        return None
    return doc if isinstance(doc, dict) else None


def media_type_of(data: bytes, content_type: str) -> str:
    """The manifest media type: the ``mediaType`` field, else the Content-Type header, else
    the shape of the document."""
    content_type = content_type.split(";")[0].strip()
    doc = _load_object(data)
    field = doc.get("mediaType") if doc is not None else None
    if isinstance(field, str) and field:
        return field
    if content_type in INDEX_TYPES | MANIFEST_TYPES or content_type in SCHEMA1:
        return content_type
    if doc is None:
        return content_type
    if doc.get("schemaVersion") == 1:
        return SCHEMA1[0]
    if "manifests" in doc:
        return OCI_INDEX
    if "layers" in doc:
        return OCI_MANIFEST
    return content_type

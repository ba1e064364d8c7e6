"""Registries: references, the OCI distribution client, manifest trees.

The public API is re-exported here so ``from mabgui.core.registry import RegistryClient,
RegistryError`` works; the pieces live in their own modules:

* :mod:`.reference` — parse and normalise image references (pure);
* :mod:`.content` — media types, verified bytes (:class:`Fetched`), accepted digests;
* :mod:`.transport` — the HTTP pool: limits, deadlines, redirects, the request log;
* :mod:`.auth` — credentials (docker config), challenges, who receives which credentials;
* :mod:`.client` — :class:`RegistryClient` (manifests, blobs, tags, referrers);
* :mod:`.model`, :mod:`.decode`, :mod:`.tree` — the manifest tree's types, its pure decoders,
  and the budgeted concurrent fetch (:mod:`.manifest` re-exports them);
* :mod:`.cache`, :mod:`.errors`.
"""

from __future__ import annotations

from mabgui.core.registry.client import RegistryClient
from mabgui.core.registry.content import (
    ACCEPT_MANIFESTS,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    INDEX_TYPES,
    MANIFEST_TYPES,
    MAX_CONFIG_BYTES,
    MAX_MANIFEST_BYTES,
    OCI_INDEX,
    OCI_MANIFEST,
    SCHEMA1,
    Fetched,
    check_digest,
    media_type_of,
    verify,
)
from mabgui.core.registry.errors import (
    DigestMismatch,
    GraphTooLarge,
    InsecureRegistry,
    NotFound,
    NotHttps,
    RateLimited,
    RegistryError,
    RegistryTimeout,
    ServerError,
    Unauthorized,
    Unreachable,
    UnsupportedDigest,
    UnsupportedMediaType,
)

__all__ = [
    "ACCEPT_MANIFESTS",
    "DOCKER_LIST",
    "DOCKER_MANIFEST",
    "INDEX_TYPES",
    "MANIFEST_TYPES",
    "MAX_CONFIG_BYTES",
    "MAX_MANIFEST_BYTES",
    "OCI_INDEX",
    "OCI_MANIFEST",
    "SCHEMA1",
    "DigestMismatch",
    "Fetched",
    "GraphTooLarge",
    "InsecureRegistry",
    "NotFound",
    "NotHttps",
    "RateLimited",
    "RegistryClient",
    "RegistryError",
    "RegistryTimeout",
    "ServerError",
    "Unauthorized",
    "Unreachable",
    "UnsupportedDigest",
    "UnsupportedMediaType",
    "check_digest",
    "media_type_of",
    "verify",
]

"""A bounded fuzz pass (hypothesis) over what reads untrusted registry input.

The reference parser, the digest check, the media-type sniffing and the manifest decoders
(and a whole tree walk over fuzzed documents) may return a value or raise their typed error —
never anything else. Bounded for CI: a fixed number of examples, no per-example deadline, no
example database; the module runs in a few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mabgui.core.registry import Fetched, RegistryError, media_type_of, verify
from mabgui.core.registry.decode import (
    config_descriptor,
    index_descriptors,
    parse_attestation,
    parse_config,
    parse_manifest,
)
from mabgui.core.registry.manifest import Descriptor, ManifestTree, OfflineSource, fetch_tree
from mabgui.core.registry.reference import (
    InvalidReference,
    Reference,
    parse_reference,
    validate_digest,
)

FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- strategies ------------------------------------------------------------------------------

REF_ALPHABET = "abcAZ019._-/:@ ßé\x00\x1b[" + "sha256" + "md5"
KEYS = [
    "mediaType", "manifests", "layers", "config", "annotations", "size", "digest", "platform",
    "architecture", "os", "variant", "os.version", "os.features", "subject", "artifactType",
    "urls", "Env", "Entrypoint", "Cmd", "Labels", "User", "WorkingDir", "history", "created",
    "schemaVersion", "vnd.docker.reference.digest", "vnd.docker.reference.type",
    "in-toto.io/predicate-type",
]  # fmt: skip
DIGESTS = [
    "sha256:" + hashlib.sha256(b"a").hexdigest(),
    "sha512:" + hashlib.sha512(b"a").hexdigest(),
    "md5:" + hashlib.md5(b"a").hexdigest(),
    "shake_256:" + "ab" * 32,
    "sha256:XYZ",
    "sha256:",
]
MEDIA_TYPES = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.config.v1+json",
    "attestation-manifest",
]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(DIGESTS + MEDIA_TYPES + ["unknown", "linux", "amd64"])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=6)
    ),
    max_leaves=30,
)
documents = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=8)


def encode(doc: Any) -> bytes:
    return json.dumps(doc, allow_nan=True).encode()


# --- references ------------------------------------------------------------------------------


@FUZZ
@given(st.text(max_size=80) | st.text(alphabet=REF_ALPHABET, max_size=80))
def test_reference_parser_raises_only_invalid_reference(text: str) -> None:
    try:
        ref = parse_reference(text)
    except InvalidReference:
        return
    assert isinstance(ref, Reference)
    assert parse_reference(str(ref)) == ref  # the canonical spelling parses to itself


@FUZZ
@given(st.text(max_size=140) | st.sampled_from(DIGESTS))
def test_digest_check_accepts_only_sha2(text: str) -> None:
    try:
        validate_digest(text)
    except InvalidReference:
        return
    assert text.partition(":")[0] in ("sha256", "sha384", "sha512")


@FUZZ
@given(st.binary(max_size=64), st.sampled_from(DIGESTS) | st.text(max_size=20))
def test_verify_raises_only_registry_errors(data: bytes, digest: str) -> None:
    with contextlib.suppress(RegistryError):
        verify(data, digest, "fuzz")


# --- decoders --------------------------------------------------------------------------------


def decode_all(data: bytes) -> None:
    media_type_of(data, "application/json")
    calls = [
        lambda: index_descriptors(data),
        lambda: config_descriptor(data),
        lambda: parse_config(data, DIGESTS[0], MEDIA_TYPES[3]),
        lambda: parse_manifest(Fetched(DIGESTS[0], MEDIA_TYPES[1], data), None, None),
    ]
    for call in calls:
        with contextlib.suppress(RegistryError):
            call()
    try:
        descriptor = Descriptor.from_json(json.loads(data))
    except (RegistryError, ValueError, RecursionError):
        return
    with contextlib.suppress(RegistryError):
        parse_attestation(data, descriptor, DIGESTS[0])


@FUZZ
@given(documents)
def test_decoders_on_fuzzed_documents(doc: dict[str, Any]) -> None:
    decode_all(encode(doc))


@FUZZ
@given(st.binary(max_size=200) | json_values.map(encode))
def test_decoders_on_fuzzed_bytes(data: bytes) -> None:
    decode_all(data)


def test_decoders_on_deeply_nested_json() -> None:
    for depth in (1000, 100_000):
        decode_all(b'{"manifests":' + b"[" * depth + b"]" * depth + b"}")


@settings(FUZZ, max_examples=80)
@given(st.lists(documents, min_size=1, max_size=4))
def test_tree_walk_over_fuzzed_documents(docs: list[dict[str, Any]]) -> None:
    """Fuzzed documents that name each other by digest, walked as a tree (offline)."""
    blobs = [encode(d) for d in docs]
    store = {"sha256:" + hashlib.sha256(b).hexdigest(): b for b in blobs}
    root = next(iter(store))

    async def walk() -> ManifestTree | None:
        try:
            return await fetch_tree(OfflineSource(store, root), parse_reference("x/y:z"))
        except RegistryError:
            return None

    tree = asyncio.run(walk())
    if tree is not None:
        json.dumps(tree.to_json())

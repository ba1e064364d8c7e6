"""Fetch an image reference as a tree: index → platform manifests → config, attestations.

:func:`fetch_tree` drives a :class:`~mabgui.core.registry.RegistryClient` (or an
:class:`OfflineSource`) concurrently: the root, then every child manifest at once, each followed
immediately by its config — about three round trips for a multi-platform image.

A look-up is bounded, because a few kilobytes can describe a huge graph (an index whose 12
children are one digest, each again such an index, five deep, is 12⁵ nodes):

* every digest is fetched **once per tree**, however often the graph names it;
* at most :data:`MAX_NODES` nodes (every occurrence of an index, a manifest, a config or an
  attestation counts), :data:`MAX_REQUESTS` HTTP requests and :data:`MAX_TREE_BYTES` bytes;
  beyond, :class:`GraphTooLarge` ("manifest graph too large") ends the look-up at once;
* indexes nested deeper than :data:`MAX_DEPTH` are shown, not followed;
* the whole look-up has a deadline (``deadline``, :data:`LOOKUP_DEADLINE` by default).

Attestation manifests (``unknown/unknown`` entries whose ``vnd.docker.reference.digest``
annotation names their subject, as buildx pushes them) are attached to the platform they
describe, with the in-toto predicate types of their layers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any, Protocol, TypeVar

from mabgui.core.registry.content import INDEX_TYPES, MANIFEST_TYPES, Fetched, media_type_of, verify
from mabgui.core.registry.decode import (
    config_descriptor,
    index_descriptors,
    load,
    parse_attestation,
    parse_config,
    parse_manifest,
    subject_of,
)
from mabgui.core.registry.errors import (
    DigestMismatch,
    GraphTooLarge,
    NotFound,
    RegistryError,
    RegistryTimeout,
    UnsupportedMediaType,
)
from mabgui.core.registry.model import (
    REFERENCE_DIGEST,
    Attestation,
    Descriptor,
    ImageConfig,
    ImageIndex,
    ImageManifest,
    ManifestTree,
    str_map,
    text_of,
)
from mabgui.core.registry.reference import Reference

T = TypeVar("T")
MAX_DEPTH = 4
MAX_NODES = 1000
MAX_REQUESTS = 500
MAX_TREE_BYTES = 64 * 1024 * 1024
LOOKUP_DEADLINE = 180.0
_IMAGE_CONFIGS = frozenset(
    {"application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"}
)


class ManifestSource(Protocol):
    """What :func:`fetch_tree` needs: a :class:`~mabgui.core.registry.RegistryClient` or an
    :class:`OfflineSource` over recorded documents."""

    @property
    def requests(self) -> int: ...

    async def get_manifest(
        self, ref: Reference, target: str | None = None, *, expected_size: int | None = None
    ) -> Fetched: ...

    async def get_blob(self, ref: Reference, digest: str) -> Fetched: ...

    async def referrers(self, ref: Reference, digest: str) -> list[dict[str, Any]] | None: ...


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
    client: ManifestSource,
    ref: Reference,
    *,
    referrers: bool = True,
    deadline: float = LOOKUP_DEADLINE,
) -> ManifestTree:
    """Fetch the whole tree of ``ref`` (verified, budgeted, see the module), concurrently."""
    walk = _Walk(client, ref)
    try:
        async with asyncio.timeout(deadline):
            return await walk.run(referrers)
    except TimeoutError:
        raise RegistryTimeout(
            f"the look-up of {ref} did not finish within {deadline:g} s",
            hint="the registry is very slow or the image very large; try again",
        ) from None
    finally:
        await walk.close()


class _Walk:
    """One look-up: its budget, and each digest's single fetch shared by every occurrence."""

    def __init__(self, client: ManifestSource, ref: Reference) -> None:
        self.client = client
        self.ref = ref
        self.start = client.requests
        self.nodes = 0
        self.bytes = 0
        self._fetches: dict[tuple[str, str], asyncio.Future[Fetched]] = {}

    async def run(self, referrers: bool) -> ManifestTree:
        root_fetch = await self._counted(self.client.get_manifest(self.ref))

        async def no_referrers() -> list[dict[str, Any]] | None:
            return None

        root, listed = await gather_all(
            self.node(root_fetch, None, depth=0),
            self.referrers(root_fetch.digest) if referrers else no_referrers(),
        )
        assert isinstance(root, ImageIndex | ImageManifest)
        found: list[Descriptor] = []
        for item in listed or ():  # type: ignore[union-attr]
            try:
                found.append(Descriptor.from_json(item))
            except RegistryError:
                continue  # a malformed referrer is extra information: skipped
        return ManifestTree(self.ref, root, tuple(found), self.client.requests - self.start)

    async def close(self) -> None:
        pending = [f for f in self._fetches.values() if not f.done()]
        for future in pending:
            future.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for future in self._fetches.values():  # mark failures as seen: no "never retrieved"
            if future.done() and not future.cancelled():
                future.exception()

    # --- the budget ---------------------------------------------------------------------------

    def count(self) -> None:
        """One more node in the tree; over budget → :class:`GraphTooLarge`."""
        self.nodes += 1
        requests = self.client.requests - self.start
        if self.nodes > MAX_NODES or requests > MAX_REQUESTS or self.bytes > MAX_TREE_BYTES:
            raise GraphTooLarge(
                f"manifest graph too large: {self.ref} needs more than {MAX_NODES} nodes,"
                f" {MAX_REQUESTS} requests or {MAX_TREE_BYTES >> 20} MB"
                f" (stopped at {self.nodes} nodes, {requests} requests)",
                hint="the image's index refers to an unusually large (or self-repeating)"
                " graph of manifests; inspect one platform by its digest instead",
            )

    async def _counted(self, fetch: Awaitable[Fetched]) -> Fetched:
        fetched = await fetch
        self.bytes += fetched.size
        self.count()
        return fetched

    def _shared(
        self, kind: str, digest: str, fetch: Callable[[], Awaitable[Fetched]]
    ) -> Awaitable[Fetched]:
        key = (kind, digest)
        future = self._fetches.get(key)
        if future is None:
            future = asyncio.ensure_future(self._counted(fetch()))
            self._fetches[key] = future
        else:
            self.count()
        # shield: one occurrence being cancelled must not cancel the fetch the others share.
        return asyncio.shield(future)

    async def manifest(self, d: Descriptor) -> Fetched:
        fetched = await self._shared(
            "manifest", d.digest, lambda: self.client.get_manifest(self.ref, d.digest)
        )
        if d.size and d.size != fetched.size:
            what = f"manifest {self.ref.name}@{d.digest}"
            raise DigestMismatch(what, f"{d.size} bytes", f"{fetched.size} bytes")
        return fetched

    async def blob(self, digest: str) -> Fetched:
        return await self._shared("blob", digest, lambda: self.client.get_blob(self.ref, digest))

    # --- the nodes ----------------------------------------------------------------------------

    async def referrers(self, digest: str) -> list[dict[str, Any]] | None:
        try:
            return await self.client.referrers(self.ref, digest)
        except RegistryError:
            return None  # referrers are extra information: never fail the look-up over them

    async def node(
        self, fetched: Fetched, descriptor: Descriptor | None, *, depth: int
    ) -> ImageIndex | ImageManifest:
        if fetched.media_type in INDEX_TYPES:
            return await self.index(fetched, descriptor, depth=depth)
        if fetched.media_type in MANIFEST_TYPES:
            return await self.image(fetched, descriptor)
        raise UnsupportedMediaType(
            f"{fetched.digest} has the unsupported media type {fetched.media_type[:100]!r}",
            fetched.media_type,
        )

    async def index(
        self, fetched: Fetched, descriptor: Descriptor | None, *, depth: int
    ) -> ImageIndex:
        doc = load(fetched.data, f"index {fetched.digest}")
        attestation_of: dict[str, list[Descriptor]] = {}
        entries: list[Descriptor] = []
        for d in index_descriptors(fetched.data):
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
                self.child(d, depth=depth + 1),
                *(self.attestation(a, d.digest) for a in attestation_of.get(d.digest, ())),
            )
            node, found = results[0], tuple(results[1:])
            assert isinstance(node, ImageManifest | ImageIndex)
            if isinstance(node, ImageManifest) and found:
                node = replace(node, attestations=node.attestations + found)  # type: ignore[operator]
            return node

        children = await gather_all(*(child(d) for d in entries))
        return ImageIndex(
            digest=fetched.digest,
            media_type=fetched.media_type,
            size=fetched.size,
            annotations=str_map(doc.get("annotations")),
            children=tuple(children),
            platform=descriptor.platform if descriptor else None,
            subject=subject_of(doc),
            artifact_type=text_of(doc.get("artifactType")),
            unattached=unattached,
            raw=fetched.data,
        )

    async def child(self, d: Descriptor, *, depth: int) -> ImageManifest | ImageIndex:
        if d.media_type not in INDEX_TYPES | MANIFEST_TYPES:
            self.count()
            return _failed(d, f"not a manifest (media type {d.media_type[:100]!r})")
        if d.media_type in INDEX_TYPES and depth > MAX_DEPTH:
            self.count()
            return _failed(d, f"indexes nested deeper than {MAX_DEPTH} levels are not followed")
        try:
            fetched = await self.manifest(d)
        except RegistryError as exc:
            # A missing platform manifest is shown as such; a corrupted one fails the look-up.
            if exc.kind in ("not-found", "unsupported-media-type"):
                return _failed(d, str(exc))
            raise
        return await self.node(fetched, d, depth=depth)

    async def image(self, fetched: Fetched, descriptor: Descriptor | None) -> ImageManifest:
        cfg_desc = config_descriptor(fetched.data)
        config: ImageConfig | None = None
        if cfg_desc is not None and cfg_desc.media_type in _IMAGE_CONFIGS:
            try:
                blob = await self.blob(cfg_desc.digest)
                config = parse_config(blob.data, cfg_desc.digest, cfg_desc.media_type)
            except RegistryError as exc:
                if exc.kind in ("digest-mismatch", "graph-too-large", "timeout"):
                    raise
                config = ImageConfig(
                    cfg_desc.digest, cfg_desc.size, cfg_desc.media_type, error=str(exc)
                )
        elif cfg_desc is not None:
            # An artifact's config (often the empty descriptor): shown, not fetched.
            config = ImageConfig(cfg_desc.digest, cfg_desc.size, cfg_desc.media_type)
        return parse_manifest(fetched, descriptor, config)

    async def attestation(self, d: Descriptor, subject: str) -> Attestation:
        try:
            fetched = await self.manifest(d)
        except RegistryError as exc:
            if exc.kind in ("digest-mismatch", "graph-too-large", "timeout"):
                raise
            return Attestation(d.digest, d.media_type, d.size, subject, (), source="index")
        return parse_attestation(fetched.data, d, subject)


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
        self.requests += 1
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

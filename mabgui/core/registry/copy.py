"""Copy images between repositories and registries: manifests, blobs, attestations, referrers.

What ``crane copy`` / ``skopeo copy --all`` do, with the client's guarantees:

* every manifest and blob read is verified against its digest, and every write is checked
  against the digest the registry answers (:mod:`.write`);
* children go before their parents (blobs, then platform manifests, then the index, then the
  tag), so a registry never holds an index naming a manifest it lacks;
* a blob the target already has is skipped (HEAD); in the same registry it is **mounted** from
  the source repository (no bytes move), and uploaded only when the mount is refused;
* blobs and manifests move concurrently (bounded), each digest once per target repository.

Blobs up to :data:`STREAM_ABOVE` are moved whole (fast: one GET, one PUT); larger ones in
``Range`` GETs and ``PATCH`` chunks of :data:`~.write.CHUNK`, hashed on the way, so memory stays
bounded.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from mabgui.core import log
from mabgui.core.platform import Platform
from mabgui.core.registry.cache import digest_of
from mabgui.core.registry.client import RegistryClient
from mabgui.core.registry.content import INDEX_TYPES, OCI_INDEX, Fetched
from mabgui.core.registry.decode import config_descriptor, index_descriptors, load, parse_layers
from mabgui.core.registry.errors import DigestMismatch, NotFound, RegistryError, ServerError
from mabgui.core.registry.model import REFERENCE_DIGEST, Descriptor
from mabgui.core.registry.reference import Reference
from mabgui.core.registry.write import CHUNK, RegistryWriter, WriteStats, write_error

_log = log.get("registry")

MAX_BLOB_BYTES = 2 << 30
STREAM_ABOVE = 64 << 20  # larger blobs move in ranges (memory bounded by CHUNK)
MAX_REFERRER_DEPTH = 3
Progress = Callable[[str], None]


class PlatformNotFound(RegistryError):
    """A chosen platform is not in the image."""

    kind = "platform-not-found"


def quiet(_: str) -> None:
    pass


def referrers_tag(digest: str) -> str:
    """The OCI 1.1 referrers tag schema: ``sha256:abc…`` → ``sha256-abc…``."""
    return digest.replace(":", "-", 1)


class Copier:
    """Moves content into target repositories; one instance shares its work (and stats)."""

    def __init__(
        self,
        client: RegistryClient,
        *,
        concurrency: int = 16,
        progress: Progress = quiet,
        stream_above: int = STREAM_ABOVE,
        chunk: int = CHUNK,
    ) -> None:
        self.client = client
        self.stream_above = stream_above  # blobs larger than this move in ranges
        self.chunk = chunk
        self.writer = RegistryWriter(client)
        self.progress = progress
        self._sem = asyncio.Semaphore(concurrency)
        self._blobs: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._manifests: dict[tuple[str, str], asyncio.Task[Fetched]] = {}

    @property
    def stats(self) -> WriteStats:
        return self.writer.stats

    # --- blobs ------------------------------------------------------------------------------

    async def blob(self, src: Reference, dst: Reference, descriptor: Descriptor) -> None:
        """Make ``descriptor``'s blob present in ``dst``'s repository (once per digest)."""
        if descriptor.urls:
            return  # a foreign (non-distributable) layer lives at its URLs, not in registries
        key = (dst.name, descriptor.digest)
        task = self._blobs.get(key)
        if task is None:
            task = asyncio.ensure_future(self._blob(src, dst, descriptor))
            self._blobs[key] = task
        await task

    async def _blob(self, src: Reference, dst: Reference, descriptor: Descriptor) -> None:
        digest = descriptor.digest
        async with self._sem:
            location: str | None = None
            if src.registry == dst.registry and src.repository != dst.repository:
                # No HEAD first: a mount answers 201 whether or not the blob was there.
                location = await self.writer.mount(dst, digest, src)
                if location is None:
                    self.progress(f"mounted {digest[:19]} from {src.repository}")
                    return
                # 202: an upload session instead of a mount; the blob may be there already.
                if await self.writer.has_blob(dst, digest):
                    self.stats.existing += 1
                    await self.writer.cancel_upload(dst, location)
                    return
            elif await self.writer.has_blob(dst, digest):
                self.stats.existing += 1
                return
            cap = min(descriptor.size or MAX_BLOB_BYTES, MAX_BLOB_BYTES)
            if descriptor.size > self.stream_above:
                await self._stream(src, dst, descriptor, location)
                return
            if location is not None:
                fetched = await self.client.get_blob(src, digest, max_bytes=cap)
            else:  # another registry: open the session while the blob downloads
                fetched, location = await asyncio.gather(
                    self.client.get_blob(src, digest, max_bytes=cap),
                    self.writer.start_upload(dst),
                )
            await self.writer.upload(dst, digest, fetched, location)
            self.progress(f"uploaded {digest[:19]} ({len(fetched.data)} bytes)")

    # --- manifests ----------------------------------------------------------------------------

    async def _stream(
        self, src: Reference, dst: Reference, descriptor: Descriptor, location: str | None
    ) -> None:
        """A large blob in ranges of :attr:`chunk` bytes: each range fetched (``Range``) and
        sent (``PATCH``) before the next, so memory stays bounded; the whole is hashed on the
        way and the session is closed (``PUT ?digest=``) only when the hash matches."""
        digest, size = descriptor.digest, descriptor.size
        what = f"blob {src.name}@{digest}"
        location = location or await self.writer.start_upload(dst)
        hasher = hashlib.new(digest.partition(":")[0])
        offset = 0
        while offset < size:
            end = min(offset + self.chunk, size) - 1
            answer = await self.client.request(
                "GET", src, f"/blobs/{digest}", what, headers={"Range": f"bytes={offset}-{end}"},
                max_bytes=self.chunk, deadline=max(60.0, self.chunk / (1 << 20)),
            )  # fmt: skip
            if answer.status != 206 or not answer.data:
                if answer.status in (401, 403, 404) or answer.status >= 500:
                    raise write_error(answer, what, src)
                raise ServerError(
                    f"{what}: the registry does not serve byte ranges ({answer.status});"
                    " a blob this large is not held in memory",
                    hint="copy with a tool that streams whole blobs, or raise the limit",
                )
            hasher.update(answer.data)
            location = await self.writer.patch(dst, location, offset, answer.data)
            offset += len(answer.data)
        actual = f"{digest.partition(':')[0]}:{hasher.hexdigest()}"
        if actual != digest:
            raise DigestMismatch(what, digest, actual)  # the session is never committed
        await self.writer.finish(dst, location, digest, size=size)
        self.progress(f"streamed {digest[:19]} ({size} bytes)")

    async def manifest(self, src: Reference, dst: Reference, digest: str) -> Fetched:
        """Copy the manifest ``digest`` (and everything it names) from ``src``'s repository to
        ``dst``'s, pushed by digest; children first. Returns the verified source bytes."""
        key = (dst.name, digest)
        task = self._manifests.get(key)
        if task is None:
            task = asyncio.ensure_future(self._manifest(src, dst, digest))
            self._manifests[key] = task
        return await task

    async def _manifest(self, src: Reference, dst: Reference, digest: str) -> Fetched:
        fetched, present = await asyncio.gather(
            self.client.get_manifest(src, digest), self.writer.has_manifest(dst, digest)
        )
        if present:
            return fetched  # a registry accepts a manifest only with all it names
        await self.children(src, dst, fetched)
        await self.writer.put_manifest(dst, digest, fetched.data, fetched.media_type)
        self.progress(f"pushed manifest {digest[:19]}")
        return fetched

    async def children(self, src: Reference, dst: Reference, fetched: Fetched) -> None:
        """Copy what ``fetched`` names: child manifests of an index, config and layers else."""
        if fetched.media_type in INDEX_TYPES:
            descriptors = index_descriptors(fetched.data)
            await _all(self.manifest(src, dst, d.digest) for d in descriptors)
            return
        doc = load(fetched.data, f"manifest {fetched.digest}")
        blobs = [Descriptor(layer.media_type, layer.digest, layer.size, urls=layer.urls)
                 for layer in parse_layers(doc)]  # fmt: skip
        config = config_descriptor(fetched.data)
        if config is not None:
            blobs.append(config)
        await _all(self.blob(src, dst, b) for b in blobs)

    # --- referrers ----------------------------------------------------------------------------

    async def find_referrers(
        self, src: Reference, digests: Collection[str]
    ) -> list[tuple[str, list[dict[str, Any]]]]:
        """The referrers of each of ``digests`` in ``src``'s repository.

        The referrers API is asked once; a registry without it (distribution 2.x) is asked for
        its tag list instead, and only the ``sha256-<hex>`` tags present are fetched — two
        requests, not two per subject."""
        subjects = list(digests)
        if not subjects:
            return []
        first, tags = await asyncio.gather(
            self.client.referrers_api(src, subjects[0]), self._tags(src)
        )
        if first is not None or tags is None:
            rest = await asyncio.gather(*(self.client.referrers(src, d) for d in subjects[1:]))
            if first is None:
                first = await self.client.referrers(src, subjects[0])
            answers = [first, *rest]
            return [(s, a or []) for s, a in zip(subjects, answers, strict=True)]

        async def tagged(subject: str) -> list[dict[str, Any]]:
            if referrers_tag(subject) not in tags:
                return []
            listed = (await self.client.get_manifest(src, referrers_tag(subject))).json()
            items = listed.get("manifests")
            return [m for m in items if isinstance(m, dict)] if isinstance(items, list) else []

        found = await asyncio.gather(*(tagged(s) for s in subjects))
        return list(zip(subjects, found, strict=True))

    async def _tags(self, src: Reference) -> set[str] | None:
        try:
            return set(await self.client.tags(src))
        except RegistryError:
            return None

    async def referrers(
        self,
        src: Reference,
        dst: Reference,
        digests: Collection[str],
        depth: int = 0,
        found: list[tuple[str, list[dict[str, Any]]]] | None = None,
    ) -> list[Descriptor]:
        """Copy the referrers of ``digests`` (signatures, SBOMs… whose ``subject`` they are),
        and theirs, to ``dst``; where the target has no referrers API, keep its
        ``sha256-<hex>`` tag index up to date as OCI 1.1 clients do. ``found``: the answer
        of :meth:`find_referrers` when already asked (while the image was copying)."""
        copied: list[Descriptor] = []
        if found is None:
            found = await self.find_referrers(src, digests)
        for subject, listed in found:
            descriptors = [Descriptor.from_json(d) for d in listed]
            if not descriptors:
                continue
            processed = []
            for d in descriptors:
                fetched = await self.client.get_manifest(src, d.digest)
                if await self.writer.has_manifest(dst, d.digest):
                    processed.append(False)
                    continue
                await self.children(src, dst, fetched)
                _, subject_seen = await self.writer.put_manifest(
                    dst, d.digest, fetched.data, fetched.media_type
                )
                processed.append(subject_seen)
            if not all(processed):
                await self._update_tag_index(dst, subject, descriptors)
            copied.extend(descriptors)
            self.progress(f"copied {len(descriptors)} referrer(s) of {subject[:19]}")
            if depth + 1 < MAX_REFERRER_DEPTH:
                copied.extend(
                    await self.referrers(src, dst, [d.digest for d in descriptors], depth + 1)
                )
        return copied

    async def _update_tag_index(
        self, dst: Reference, subject: str, descriptors: list[Descriptor]
    ) -> None:
        tag = referrers_tag(subject)
        entries: list[dict[str, Any]] = []
        try:
            current = await self.client.get_manifest(dst, tag)
            raw = current.json().get("manifests")
            entries = [e for e in raw if isinstance(e, dict)] if isinstance(raw, list) else []
        except NotFound:
            pass
        known = {str(e.get("digest")) for e in entries}
        for d in descriptors:
            if d.digest not in known:
                entry: dict[str, Any] = {"mediaType": d.media_type, "digest": d.digest,
                                         "size": d.size}  # fmt: skip
                if d.artifact_type:
                    entry["artifactType"] = d.artifact_type
                if d.annotations:
                    entry["annotations"] = d.annotations
                entries.append(entry)
        doc = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries}
        await self.writer.put_manifest(dst, tag, json.dumps(doc).encode(), OCI_INDEX)


async def _all(coros: Any) -> None:
    """Await every coroutine; on the first failure cancel the rest and raise it."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    if not tasks:
        return
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


# --- whole-image copy ------------------------------------------------------------------------


@dataclass
class CopyResult:
    source: str
    target: str
    digest: str
    media_type: str
    source_digest: str
    platforms: list[str]
    attestations: int
    referrers: list[Descriptor]
    stats: WriteStats
    seconds: float
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": True,
            "source": self.source,
            "target": self.target,
            "digest": self.digest,
            "sourceDigest": self.source_digest,
            "sameDigest": self.digest == self.source_digest,
            "mediaType": self.media_type,
            "platforms": self.platforms,
            "attestations": self.attestations,
            "referrers": [
                {
                    "digest": d.digest,
                    "artifactType": d.artifact_type,
                    "mediaType": d.media_type,
                    "size": d.size,
                }
                for d in self.referrers
            ],
            **self.stats.to_json(),
            "seconds": round(self.seconds, 3),
            "notes": self.notes,
        }


def _platform_of(d: Descriptor) -> Platform | None:
    return d.platform if d.platform and not d.is_attestation else None


def select_platforms(
    data: bytes, platforms: Collection[Platform], attestations: bool = True
) -> tuple[bytes, list[str]]:
    """The index ``data`` limited to ``platforms`` (and the attestations of the manifests kept):
    the new index bytes (keeping the document's other fields) and the platforms kept."""
    doc = load(data, "the index")
    descriptors = index_descriptors(data)
    raw = [m for m in doc.get("manifests", []) if isinstance(m, dict)]
    wanted = set(platforms)
    kept_digests = {d.digest for d in descriptors if _platform_of(d) in wanted}
    kept_platforms = [str(d.platform) for d in descriptors if d.digest in kept_digests]
    missing = [str(p) for p in platforms if str(p) not in kept_platforms]
    if missing:
        have = [str(p) for d in descriptors if (p := _platform_of(d)) is not None]
        raise PlatformNotFound(
            f"the image has no {', '.join(missing)} (it has {', '.join(have) or 'no platforms'})",
            hint="choose among the platforms it has",
        )
    result = []
    for d, item in zip(descriptors, raw, strict=True):
        if d.digest in kept_digests or (
            attestations
            and d.is_attestation
            and d.annotations.get(REFERENCE_DIGEST) in kept_digests
        ):
            result.append(item)
    doc["manifests"] = result
    return json.dumps(doc, indent=2).encode(), kept_platforms


async def copy_image(
    client: RegistryClient,
    src: Reference,
    dst: Reference,
    *,
    platforms: Collection[Platform] = (),
    referrers: bool = True,
    attestations: bool = True,
    progress: Progress = quiet,
    concurrency: int = 16,
    stream_above: int = STREAM_ABOVE,
    chunk: int = CHUNK,
) -> CopyResult:
    """Copy ``src`` (an image or a whole index, or the chosen ``platforms`` of it) to ``dst``
    (a tag; or by digest when ``dst`` has none). The root is tagged last."""
    started = time.monotonic()
    copier = Copier(client, concurrency=concurrency, progress=progress,
                    stream_above=stream_above, chunk=chunk)  # fmt: skip
    root = await client.get_manifest(src)
    data, media_type = root.data, root.media_type
    lookup: asyncio.Future[list[tuple[str, list[dict[str, Any]]]]] | None = None
    if referrers:  # asked while the image copies: the answers are ready when needed
        subjects = [root.digest]
        if media_type in INDEX_TYPES:
            subjects += [d.digest for d in index_descriptors(data)]
        lookup = asyncio.ensure_future(copier.find_referrers(src, subjects))
    try:
        return await _copy_rest(
            client, copier, src, dst, root, platforms, attestations, lookup, progress, started
        )
    finally:
        if lookup is not None and not lookup.done():
            lookup.cancel()
            await asyncio.gather(lookup, return_exceptions=True)


async def _copy_rest(
    client: RegistryClient,
    copier: Copier,
    src: Reference,
    dst: Reference,
    root: Fetched,
    platforms: Collection[Platform],
    attestations: bool,
    lookup: asyncio.Future[list[tuple[str, list[dict[str, Any]]]]] | None,
    progress: Progress,
    started: float,
) -> CopyResult:
    data, media_type = root.data, root.media_type
    notes: list[str] = []
    kept: list[str] = []
    n_attest = 0
    if media_type in INDEX_TYPES:
        if platforms or not attestations:
            chosen = platforms or [p for d in index_descriptors(data)
                                   if (p := _platform_of(d)) is not None]  # fmt: skip
            data, kept = select_platforms(data, chosen, attestations)
            if data != root.data:
                notes.append("the copy holds a subset of the index, so its digest differs")
        descriptors = index_descriptors(data)
        kept = kept or [str(p) for d in descriptors if (p := _platform_of(d)) is not None]
        n_attest = sum(1 for d in descriptors if d.is_attestation)
        await _all(copier.manifest(src, dst, d.digest) for d in descriptors)
    else:
        if platforms:
            cfg = config_descriptor(data)
            platform = None
            if cfg is not None:
                config = load((await client.get_blob(src, cfg.digest)).data, "the config")
                platform = Platform.try_parse(
                    "/".join(
                        str(config.get(k) or "")
                        for k in ("os", "architecture", "variant")
                        if config.get(k)
                    )
                )
            if platform not in set(platforms):
                raise PlatformNotFound(
                    f"{src} is a single {platform or 'unknown'} image, not"
                    f" {', '.join(str(p) for p in platforms)}",
                    hint="copy it without --platform",
                )
            kept = [str(platform)]
        await copier.children(src, dst, root)
    digest = digest_of(data)
    # one PUT: by tag (the registry's answered digest is checked) or by digest
    await copier.writer.put_manifest(dst, dst.tag or digest, data, media_type)
    found: list[Descriptor] = []
    if lookup is not None:
        kept_subjects = {digest} | (
            {d.digest for d in index_descriptors(data)} if media_type in INDEX_TYPES else set()
        )
        answers = [(s, a) for s, a in await lookup if s in kept_subjects]
        found = await copier.referrers(src, dst, [s for s, _ in answers], found=answers)
    progress(f"pushed {dst.name}@{digest}")
    return CopyResult(
        source=str(src),
        target=str(dst),
        digest=digest,
        media_type=media_type,
        source_digest=root.digest,
        platforms=kept,
        attestations=n_attest,
        referrers=found,
        stats=copier.stats,
        seconds=time.monotonic() - started,
        notes=notes,
    )

"""Removing a tag or a manifest, as far as the registry allows, never more than asked.

OCI 1.1 registries delete a tag with ``DELETE /manifests/<tag>``. distribution 2.x does not (it
answers ``DIGEST_INVALID``) and deletes only manifests by digest, which removes **every** tag
naming it; so a tag is removed there by deleting its manifest only when no other tag of the
repository names the same digest. Deletes need ``storage: delete: enabled: true`` in a
distribution registry; without it the answer is 405 ``UNSUPPORTED``, reported as such.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from mabgui.core.registry.client import RegistryClient
from mabgui.core.registry.errors import NotFound
from mabgui.core.registry.reference import Reference
from mabgui.core.registry.write import RegistryWriter, TagDeleteUnsupported, Unsupported

MAX_TAGS_CHECKED = 500


async def tags_naming(client: RegistryClient, ref: Reference, digest: str) -> list[str]:
    """The tags of ``ref``'s repository that currently resolve to ``digest``."""
    tags = await client.tags(ref, limit=MAX_TAGS_CHECKED)
    sem = asyncio.Semaphore(8)

    async def check(tag: str) -> str | None:
        async with sem:
            try:
                found, _, _ = await client.resolve(ref.with_tag(tag))
            except NotFound:
                return None
            return tag if found == digest else None

    return [t for t in await asyncio.gather(*(check(t) for t in tags)) if t]


async def remove_reference(
    client: RegistryClient, ref: Reference, *, confirm: Callable[[str], None]
) -> dict[str, Any]:
    """Delete ``ref`` (a tag or a digest) after ``confirm(question)`` returns (it raises to
    refuse). Returns what was removed and how."""
    writer = RegistryWriter(client)
    if ref.digest:
        await client.resolve(ref)  # NotFound before asking
        names = await tags_naming(client, ref, ref.digest)
        also = f" and the tags {', '.join(names)}" if names else ""
        confirm(f"delete the manifest {ref.name}@{ref.digest}{also}?")
        await writer.delete_manifest(ref, ref.digest)
        return {"removed": f"{ref.name}@{ref.digest}", "digest": ref.digest, "tags": names,
                "how": "manifest deleted by digest"}  # fmt: skip
    digest, _, _ = await client.resolve(ref)
    confirm(f"delete the tag {ref} (now {digest})?")
    try:
        await writer.delete_manifest(ref, str(ref.tag))
        return {"removed": str(ref), "digest": digest, "tags": [ref.tag],
                "how": "tag deleted"}  # fmt: skip
    except TagDeleteUnsupported:
        names = await tags_naming(client, ref, digest)
        others = [t for t in names if t != ref.tag]
        if others:
            raise Unsupported(
                f"{ref.registry} deletes manifests only by digest, and {digest} is also tagged"
                f" {', '.join(others)}: deleting it would remove those tags too; not deleted",
                hint="remove the other tags first, or delete by digest"
                f" (`mabgui tag rm {ref.name}@{digest}`)",
            ) from None
        await writer.delete_manifest(ref, digest)
        return {"removed": str(ref), "digest": digest, "tags": [ref.tag],
                "how": "the registry deletes by digest only: its manifest (named by no other"
                " tag) was deleted"}  # fmt: skip

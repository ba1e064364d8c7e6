"""Same-registry blob copies mount without a HEAD first; a refused mount still skips a blob
the target already holds (and closes the upload session it was handed)."""

from __future__ import annotations

import asyncio

from mabgui.core.registry import RegistryClient
from mabgui.core.registry.copy import Copier
from mabgui.core.registry.model import Descriptor
from mabgui.core.registry.reference import parse_reference

DIGEST = "sha256:" + "ab" * 32


async def _copy_one(mount_status: int) -> tuple[list[str], Copier]:
    seen: list[str] = []

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                break
            method, target = head.split(b" ")[:2]
            seen.append(f"{method.decode()} {target.decode().split('?')[0]}")
            if method == b"POST":
                status, extra = mount_status, b"Location: /v2/b/blobs/uploads/s1\r\n"
            elif method == b"DELETE":
                status, extra = 204, b""
            else:
                status, extra = 200, b"Docker-Content-Digest: " + DIGEST.encode() + b"\r\n"
            writer.write(b"HTTP/1.1 %d X\r\nContent-Length: 0\r\n%s\r\n" % (status, extra))
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    host = f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        async with RegistryClient() as client:
            copier = Copier(client)
            await copier.blob(parse_reference(f"{host}/a:1"), parse_reference(f"{host}/b:1"),
                              Descriptor("application/octet-stream", DIGEST, 5))  # fmt: skip
    finally:
        server.close()
    return [s for s in seen if s != "GET /v2/"], copier


def test_a_mount_needs_no_head_first() -> None:
    seen, copier = asyncio.run(asyncio.wait_for(_copy_one(201), 10))
    assert seen == ["POST /v2/b/blobs/uploads/"]
    assert (copier.stats.mounted, copier.stats.existing) == (1, 0)


def test_a_refused_mount_of_a_blob_already_there_uploads_nothing() -> None:
    seen, copier = asyncio.run(asyncio.wait_for(_copy_one(202), 10))
    assert seen == [
        "POST /v2/b/blobs/uploads/",
        f"HEAD /v2/b/blobs/{DIGEST}",
        "DELETE /v2/b/blobs/uploads/s1",
    ]
    assert (copier.stats.mounted, copier.stats.existing, copier.stats.uploaded) == (0, 1, 0)

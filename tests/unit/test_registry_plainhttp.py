"""The plain-HTTP transport: keep-alive reuse, a kept connection the server closed, errors."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest

from mabgui.core.registry.plainhttp import PlainHTTPTransport

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            await reader.readexactly(int(line.split(b":")[1]))
    return head


def _answer(body: bytes, *, close: bool = False) -> bytes:
    extra = b"Connection: close\r\n" if close else b""
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n%s\r\n%s" % (len(body), extra, body)


async def _with_server(handler: Handler, test: Callable[[str], Awaitable[None]]) -> None:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        await asyncio.wait_for(test(f"http://127.0.0.1:{port}"), 10)
    finally:
        server.close()


def test_keep_alive_reuses_one_connection_and_streams_bodies() -> None:
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        while True:
            try:
                head = await _read_request(reader)
            except asyncio.IncompleteReadError:
                break
            if head.startswith(b"HEAD"):
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
            else:
                writer.write(b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n"
                             b"X-A: 1\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")  # fmt: skip
            await writer.drain()
        writer.close()

    async def test(base: str) -> None:
        async with httpx.AsyncClient(
            transport=PlainHTTPTransport(connect_timeout=5, read_timeout=5)
        ) as client:
            for _ in range(3):
                got = await client.put(f"{base}/x?digest=sha256%3Aab", content=b"12345")
                assert (got.status_code, got.content, got.headers["x-a"]) == (201, b"abcde", "1")
                assert got.reason_phrase == "Created"
            head = await client.head(f"{base}/y")
            assert (head.status_code, head.content, head.headers["content-length"]) == (
                200, b"", "5")  # fmt: skip

    asyncio.run(_with_server(handler, test))
    assert connections == 1


def test_a_kept_connection_the_server_closed_is_replaced() -> None:
    connections = 0

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await _read_request(reader)
        writer.write(_answer(b"one"))  # keep-alive promised, then closed anyway
        await writer.drain()
        writer.close()

    async def test(base: str) -> None:
        transport = PlainHTTPTransport(connect_timeout=5, read_timeout=5)
        async with httpx.AsyncClient(transport=transport) as client:
            assert (await client.get(f"{base}/a")).content == b"one"
            assert (await client.get(f"{base}/b")).content == b"one"

    asyncio.run(_with_server(handler, test))
    assert connections == 2


def test_errors_are_httpx_errors() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        await reader.read()  # no answer; until the client gives up and closes
        writer.close()

    async def slow(base: str) -> None:
        transport = PlainHTTPTransport(connect_timeout=5, read_timeout=0.2)
        async with httpx.AsyncClient(transport=transport) as client:
            with pytest.raises(httpx.ReadTimeout):
                await client.get(f"{base}/a")

    asyncio.run(_with_server(silent, slow))

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _read_request(reader)
        writer.write(b"NOT HTTP AT ALL\r\n\r\n")
        await writer.drain()
        writer.close()

    async def bad(base: str) -> None:
        transport = PlainHTTPTransport(connect_timeout=5, read_timeout=5)
        async with httpx.AsyncClient(transport=transport) as client:
            with pytest.raises(httpx.RemoteProtocolError):
                await client.get(f"{base}/a")

    asyncio.run(_with_server(garbage, bad))

    async def refused() -> None:
        transport = PlainHTTPTransport(connect_timeout=5, read_timeout=5)
        async with httpx.AsyncClient(transport=transport) as client:
            with pytest.raises(httpx.ConnectError):
                await client.get("http://127.0.0.1:1/a")

    asyncio.run(refused())

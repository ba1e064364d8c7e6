"""A small HTTP/1.1 transport for plain ``http://`` registries (loopback and insecure ones).

Why not httpx's own: :class:`httpx.AsyncHTTPTransport` goes through httpcore and anyio, which
cost ~30 ms of imports per CLI process and, per request, a pool scan that asks every idle
connection (through anyio's typed attributes) whether its socket is readable — for a copy of a
multi-platform image that was more CPU than the copy's own work. Here a request takes an idle
keep-alive connection of its origin or opens one; framing is h11's (the parser httpcore uses);
the body streams back to the caller. Bounding concurrency, deadlines and redirects stay in
:class:`mabgui.core.registry.transport.Transport`; this only speaks HTTP/1.1 on a socket.

Errors are httpx's (``ConnectError``, ``ConnectTimeout``, ``ReadTimeout``, ``ReadError``,
``WriteError``, ``RemoteProtocolError``), so callers handle both transports alike. TLS is not
done here: ``https://`` URLs keep httpx's transport (certificates verified).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import h11
import httpx

READ_SIZE = 64 * 1024
# Idle keep-alive connections kept per origin (more are closed when handed back).
MAX_IDLE = 16
# Reusing a kept connection the server has meanwhile closed fails before any answer: those
# requests are sent once more on a new connection, only for methods safe to repeat.
_RETRYABLE = frozenset({b"GET", b"HEAD", b"PUT", b"DELETE"})


class _Stale(Exception):
    """A reused connection failed before any byte of the answer (the server closed it)."""


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.CLIENT)

    def usable(self) -> bool:
        """Still open and idle (a peer that closed it shows as EOF here)."""
        return (
            not self.writer.is_closing()
            and not self.reader.at_eof()
            and self.h11.our_state is h11.IDLE
        )

    def close(self) -> None:
        self.writer.close()


class PlainHTTPTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over plain TCP with keep-alive (see the module docstring)."""

    def __init__(self, *, connect_timeout: float, read_timeout: float) -> None:
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._idle: dict[tuple[str, int], list[_Connection]] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        if url.scheme != "http":
            raise httpx.UnsupportedProtocol(f"plain HTTP transport given a {url.scheme} URL")
        origin = (url.host, url.port or 80)
        body = await request.aread()
        target = url.raw_path
        headers = [(k, v) for k, v in request.headers.raw if k.lower() != b"connection"]
        event = h11.Request(method=request.method, target=target, headers=headers)
        while True:
            conn, reused = self._take(origin), True
            if conn is None:
                conn, reused = await self._connect(origin), False
            try:
                response = await self._exchange(conn, event, body, reused)
            except _Stale:
                conn.close()
                if request.method.encode() in _RETRYABLE:
                    continue
                raise httpx.RemoteProtocolError("the server closed the connection") from None
            except BaseException:
                conn.close()
                raise
            status, reason, raw_headers = response
            return httpx.Response(
                status,
                headers=raw_headers,
                stream=_Body(self, origin, conn),
                extensions={"http_version": b"HTTP/1.1", "reason_phrase": reason},
            )

    def _take(self, origin: tuple[str, int]) -> _Connection | None:
        pool = self._idle.get(origin)
        while pool:
            conn = pool.pop()
            if conn.usable():
                return conn
            conn.close()
        return None

    def give_back(self, origin: tuple[str, int], conn: _Connection) -> None:
        """A connection whose exchange ended: kept for reuse when the exchange was complete."""
        h = conn.h11
        if h.our_state is h11.DONE and h.their_state is h11.DONE:
            try:
                h.start_next_cycle()
            except h11.LocalProtocolError:
                conn.close()
                return
            pool = self._idle.setdefault(origin, [])
            if len(pool) < MAX_IDLE:
                pool.append(conn)
                return
        conn.close()

    async def _connect(self, origin: tuple[str, int]) -> _Connection:
        try:
            async with asyncio.timeout(self._connect_timeout):
                reader, writer = await asyncio.open_connection(origin[0], origin[1])
        except TimeoutError:
            raise httpx.ConnectTimeout("timed out connecting") from None
        except OSError as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from None
        return _Connection(reader, writer)

    async def _exchange(
        self, conn: _Connection, event: h11.Request, body: bytes, reused: bool
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]]:
        h = conn.h11
        try:
            data = h.send(event) or b""
            if body:
                data += h.send(h11.Data(data=body)) or b""
            data += h.send(h11.EndOfMessage()) or b""
            conn.writer.write(data)
            await conn.writer.drain()
        except h11.LocalProtocolError as exc:
            raise httpx.LocalProtocolError(str(exc)) from None
        except OSError as exc:
            if reused:
                raise _Stale from None
            raise httpx.WriteError(str(exc) or type(exc).__name__) from None
        first = True
        while True:
            got = await self.next_event(conn, stale_ok=reused and first)
            first = False
            if isinstance(got, h11.Response):
                headers = [(k, v) for k, v in got.headers]
                return got.status_code, bytes(got.reason), headers
            # h11.InformationalResponse (100 Continue): wait for the real answer

    async def next_event(self, conn: _Connection, *, stale_ok: bool = False) -> h11.Event:
        """The next h11 event of the answer, reading from the socket as needed."""
        h = conn.h11
        while True:
            try:
                got = h.next_event()
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc)) from None
            if got is not h11.NEED_DATA:
                if isinstance(got, h11.ConnectionClosed):
                    if stale_ok:
                        raise _Stale
                    raise httpx.RemoteProtocolError("the server closed the connection")
                return got  # type: ignore[return-value]
            try:
                async with asyncio.timeout(self._read_timeout):
                    chunk = await conn.reader.read(READ_SIZE)
            except TimeoutError:
                raise httpx.ReadTimeout("timed out reading the answer") from None
            except OSError as exc:
                if stale_ok:
                    raise _Stale from None
                raise httpx.ReadError(str(exc) or type(exc).__name__) from None
            if not chunk and stale_ok:
                raise _Stale
            h.receive_data(chunk)

    async def aclose(self) -> None:
        for pool in self._idle.values():
            for conn in pool:
                conn.close()
        self._idle.clear()


class _Body(httpx.AsyncByteStream):
    """The answer's body as it arrives; the connection goes back to the pool at its end."""

    def __init__(self, transport: PlainHTTPTransport, origin: tuple[str, int], conn: _Connection):
        self._transport = transport
        self._origin = origin
        self._conn: _Connection | None = conn

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        if conn is None:
            return
        while True:
            got = await self._transport.next_event(conn)
            if isinstance(got, h11.Data):
                yield bytes(got.data)
            elif isinstance(got, h11.EndOfMessage):
                return

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            self._transport.give_back(self._origin, conn)

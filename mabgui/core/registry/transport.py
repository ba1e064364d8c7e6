"""HTTP for the registry client: one pool, bounded requests, redirects by our own rules, a log.

Every request — to a registry or to its token server — goes through :meth:`Transport.send`:

* **Limits**: a semaphore bounds concurrent requests; a body larger than ``max_bytes`` is
  refused as it arrives; each request (redirects included) has a **total deadline**, so a server
  that sends one byte a second cannot hold a look-up (httpx's own timeouts only bound each read).
* **Redirects** are followed here, not by httpx, so the rules are ours and written down:
  at most :data:`MAX_REDIRECTS` hops (a loop is a typed :class:`ServerError`, never
  ``httpx.TooManyRedirects``); only http(s) targets; and the ``Authorization`` header goes on
  only to the **same origin** (scheme, host and port; http → https on the same host allowed).
  That is what docker's Go client does — Go's ``net/http`` drops ``Authorization`` on a
  redirect to another host, so a registry redirecting blob or manifest reads to a CDN or to
  any other host never hands that host the registry's token or password.
* **Logging**: one ``registry`` log line per request: method, URL (no user info; query values
  other than paging and scope masked), status and duration. Headers are never logged.
* TLS is verified; plain HTTP only for ``http://`` URLs (the client uses those for loopback and
  insecure registries), registries marked insecure get HTTPS without certificate checks.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx

from mabgui import __version__
from mabgui.core import log
from mabgui.core.registry.errors import (
    NotHttps,
    RegistryError,
    RegistryTimeout,
    ServerError,
    Unreachable,
)
from mabgui.core.registry.plainhttp import PlainHTTPTransport
from mabgui.core.registry.reference import is_loopback

_log = log.get("registry")

MAX_REDIRECTS = 5
REDIRECTS = frozenset({301, 302, 303, 307, 308})
DEFAULT_CONCURRENCY = 16
# Query parameters whose values are logged as they are: paging and token scopes hold no secret.
_LOGGED_PARAMS = frozenset({"n", "last", "scope", "service", "mount", "from", "digest"})
# A form body (the token POST); a list value is sent as a repeated field (several scopes).
Form = dict[str, str | list[str]]


@dataclass(frozen=True)
class Answer:
    """A response read whole (within its cap): where it finally came from, status, body."""

    url: httpx.URL
    status: int
    reason: str
    headers: httpx.Headers
    data: bytes

    @property
    def host(self) -> str:
        """``host:port`` (as in a reference) of the URL that answered, after redirects."""
        return netloc(self.url)


def netloc(url: httpx.URL) -> str:
    """``host`` or ``host:port`` when the port is explicit (how references spell a registry)."""
    host = url.host
    if ":" in host:  # IPv6
        host = f"[{host}]"
    return f"{host}:{url.port}" if url.port else host


def same_origin(a: httpx.URL, b: httpx.URL) -> bool:
    """True when credentials meant for ``a`` may follow a redirect to ``b``."""
    if (a.host.lower(), a.port) != (b.host.lower(), b.port):
        return False
    return a.scheme == b.scheme or (a.scheme, b.scheme) == ("http", "https")


def loggable(url: httpx.URL | str) -> str:
    """``url`` fit for a log line: no user info, and query values masked except paging/scope."""
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return "<invalid URL>"
    text = f"{parsed.scheme}://{netloc(parsed)}{parsed.path}"
    if parsed.query:
        pairs = [
            f"{key}={value if key in _LOGGED_PARAMS else log.MASK}"
            for key, value in parsed.params.multi_items()
        ]
        text += "?" + "&".join(pairs)
    return text


def _verify_arg(verify: bool | str) -> Any:
    """httpx's ``verify``: ``True``/``False``, or an SSL context trusting a CA bundle file."""
    if isinstance(verify, str):
        import ssl

        return ssl.create_default_context(cafile=verify)
    return verify


def env_proxies() -> bool:
    names = ("https_proxy", "http_proxy", "all_proxy")
    return any(os.environ.get(n) or os.environ.get(n.upper()) for n in names)


class _LazyTransport(httpx.AsyncBaseTransport):
    """An :class:`httpx.AsyncHTTPTransport` created on the first request it handles (a look-up
    on a loopback registry then does not pay for loading the CA bundle)."""

    def __init__(self, verify: bool | str, limits: httpx.Limits) -> None:
        self._verify = verify
        self._limits = limits
        self._inner: httpx.AsyncHTTPTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._inner is None:
            self._inner = httpx.AsyncHTTPTransport(
                verify=_verify_arg(self._verify), limits=self._limits
            )
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        if self._inner is not None:
            await self._inner.aclose()


class Transport:
    """The connection pool and the one way requests are sent (see the module docstring)."""

    def __init__(
        self,
        *,
        insecure: Iterable[str] = (),
        timeout: float = 30.0,
        deadline: float = 60.0,
        concurrency: int = DEFAULT_CONCURRENCY,
        verify_tls: bool | str = True,
    ) -> None:
        self.deadline = deadline
        self.requests = 0  # HTTP requests sent, redirect hops included
        self._sem = asyncio.Semaphore(concurrency)
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self._agent = f"mabgui/{__version__}"
        common: dict[str, Any] = {
            "timeout": httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            "follow_redirects": False,  # followed in send(), by the rules above
            "headers": {"User-Agent": self._agent},
        }
        # Plain http:// requests skip httpx's client layer (cookie jar, auth and redirect
        # machinery we do not use: redirects are ours, and registries keep no cookies; docker's
        # Go client has no cookie jar either) and go straight to their transport.
        self._plain: PlainHTTPTransport | None = None
        if env_proxies():
            # HTTPS_PROXY & co. (as docker honours them): httpx's own transports apply them,
            # with NO_PROXY; TLS is verified as always.
            self._http = httpx.AsyncClient(verify=_verify_arg(verify_tls), limits=limits, **common)
        else:
            self._plain = PlainHTTPTransport(
                connect_timeout=min(timeout, 10.0), read_timeout=timeout
            )
            self._http = httpx.AsyncClient(
                transport=_LazyTransport(verify_tls, limits),
                mounts={
                    # plain http:// URLs never do TLS (redirects to https:// are verified);
                    # their own small transport (no httpcore/anyio: see plainhttp.py).
                    "http://": self._plain,
                    # registries marked insecure: HTTPS without certificate checks, as docker
                    # does (and plain HTTP when they do not speak TLS at all).
                    **{
                        f"https://{host}": _LazyTransport(False, limits)
                        for host in insecure
                        if not is_loopback(host)
                    },
                },
                **common,
            )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(
        self,
        method: str,
        url: str,
        what: str,
        *,
        headers: dict[str, str] | None = None,
        form: Form | None = None,
        content: bytes | None = None,
        max_bytes: int,
        deadline: float | None = None,
    ) -> Answer:
        """Send one request, following redirects; the whole exchange within :attr:`deadline`
        (or ``deadline`` when given: uploads of large blobs need longer than a look-up)."""
        limit = self.deadline if deadline is None else deadline
        async with self._sem:
            try:
                async with asyncio.timeout(limit):
                    return await self._exchange(method, url, what, dict(headers or {}), form,
                                                content, max_bytes)  # fmt: skip
            except TimeoutError:
                _log.info("%s %s: no complete answer in %g s", method, loggable(url),
                          limit)  # fmt: skip
                raise RegistryTimeout(
                    f"{what}: the registry did not answer in time (no complete answer within"
                    f" {limit:g} s)",
                    hint="the registry or the network is very slow; check it or try again",
                ) from None

    async def _exchange(
        self,
        method: str,
        url: str,
        what: str,
        headers: dict[str, str],
        form: Form | None,
        content: bytes | None,
        max_bytes: int,
    ) -> Answer:
        try:
            current = httpx.URL(url)
        except httpx.InvalidURL:
            raise ServerError(f"{what}: invalid address {loggable(url)}") from None
        for hop in range(MAX_REDIRECTS + 1):
            answer = await self._one(method, current, what, headers, form, content, max_bytes)
            location = answer.headers.get("location", "")
            if answer.status not in REDIRECTS or not location:
                return answer
            if hop == MAX_REDIRECTS:
                raise ServerError(
                    f"{what}: the registry redirected more than {MAX_REDIRECTS} times"
                    " (a redirect loop?)",
                    hint="the registry is misconfigured; try again later",
                )
            try:
                target = current.join(location)
            except (httpx.InvalidURL, ValueError):
                raise ServerError(f"{what}: redirected to an invalid address") from None
            if target.scheme not in ("http", "https") or not target.host:
                raise ServerError(
                    f"{what}: the registry redirected to a {target.scheme or 'relative'!r} URL,"
                    " which is not followed"
                )
            if not same_origin(current, target):
                headers.pop("Authorization", None)  # credentials never leave their origin
            if answer.status == 303 or (answer.status in (301, 302) and method == "POST"):
                method, form, content = ("HEAD" if method == "HEAD" else "GET"), None, None
            current = target
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    async def _one(
        self,
        method: str,
        url: httpx.URL,
        what: str,
        headers: dict[str, str],
        form: Form | None,
        content: bytes | None,
        max_bytes: int,
    ) -> Answer:
        self.requests += 1
        started = time.monotonic()
        status: int | str = "-"
        try:
            if self._plain is not None and url.scheme == "http":
                request = httpx.Request(
                    method, url, headers={"User-Agent": self._agent, **headers}, data=form,
                    content=content,
                )  # fmt: skip
                response = await self._plain.handle_async_request(request)
            else:
                request = self._http.build_request(
                    method, url, headers=headers, data=form, content=content
                )
                response = await self._http.send(request, stream=True)
            status = response.status_code
            try:
                data = await _read_capped(response, what, max_bytes)
            finally:
                await response.aclose()
            return Answer(url, response.status_code, response.reason_phrase, response.headers,
                          data)  # fmt: skip
        except httpx.TimeoutException:
            status = "timeout"
            raise RegistryTimeout(
                f"{what}: the registry did not answer in time",
                hint="check the network or try again",
            ) from None
        except httpx.ConnectError as exc:
            status = "unreachable"
            raise connect_error(str(url), exc) from None
        except httpx.TransportError as exc:
            status = type(exc).__name__
            raise Unreachable(f"{what}: {type(exc).__name__}: {_safe(exc)}") from None
        except httpx.HTTPError as exc:  # e.g. a body that does not decode as its encoding says
            status = type(exc).__name__
            raise ServerError(f"{what}: unreadable answer: {type(exc).__name__}") from None
        finally:
            _log.debug("%s %s -> %s in %.0f ms", method, loggable(url), status,
                       (time.monotonic() - started) * 1000)  # fmt: skip


async def _read_capped(response: httpx.Response, what: str, max_bytes: int) -> bytes:
    try:
        length = int(response.headers.get("content-length") or 0)
    except ValueError:
        length = 0
    if length > max_bytes:
        raise ServerError(f"{what} is too large ({length} bytes)")
    chunks: list[bytes] = []
    total = 0
    async for chunk in response.aiter_bytes():
        total += len(chunk)
        if total > max_bytes:
            raise ServerError(f"{what} is larger than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _safe(exc: BaseException) -> str:
    # httpx messages hold URLs at most; strip any user:password@ that could sneak in.
    return re.sub(r"//[^/@\s]+@", "//", str(exc)) or type(exc).__name__


def connect_error(url: str, exc: httpx.ConnectError) -> RegistryError:
    """The typed error for a failed connection: plain HTTP answering TLS, TLS, or refused."""
    try:
        host = netloc(httpx.URL(url))
    except httpx.InvalidURL:
        host = "the registry"
    text = _safe(exc)
    lowered = text.lower()
    if "wrong version number" in lowered or "record layer failure" in lowered:
        return NotHttps(
            f"{host} does not speak HTTPS (it answered the TLS handshake with plain data)",
            hint="if it is a plain-HTTP registry you trust, mark it insecure"
            " (`--insecure HOST` / the Plain HTTP box)",
        )
    if "certificate" in lowered or "ssl" in lowered or "tls" in lowered:
        return Unreachable(
            f"TLS verification failed for {host}: {text}",
            hint="fix the registry's certificate, or mark the registry insecure if you trust it",
        )
    hint = "check the host name and port, and that the registry is running"
    if env_proxies():
        hint += " (requests go through the proxy set in HTTPS_PROXY/HTTP_PROXY; see NO_PROXY)"
    return Unreachable(f"cannot connect to the registry at {host}: {text}", hint=hint)

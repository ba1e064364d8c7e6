"""An async OCI distribution client on httpx: manifests, blobs, tags, referrers.

* Every manifest and blob is hashed and compared with the digest it was fetched by (or the
  ``Docker-Content-Digest`` the registry announced for a tag): a mismatch raises
  :class:`DigestMismatch` and the content is never used.
* Auth: the ``WWW-Authenticate`` challenge decides — bearer tokens from the realm (anonymous, or
  with credentials, as Docker Hub does), cached per scope until they expire; or HTTP basic.
  Credentials are looked up only when a registry asks for them.
* TLS is verified; plain HTTP only for loopback registries or those the caller marks insecure.
* One connection pool; requests are bounded by a semaphore so a whole tree can be fetched at once.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from mabgui import __version__
from mabgui.core.registry.auth import Challenge, Credentials, parse_challenge
from mabgui.core.registry.cache import DigestCache, digest_of
from mabgui.core.registry.errors import (
    DigestMismatch,
    InsecureRegistry,
    NotFound,
    NotHttps,
    RateLimited,
    RegistryError,
    RegistryTimeout,
    ServerError,
    Unauthorized,
    Unreachable,
    UnsupportedMediaType,
)
from mabgui.core.registry.reference import Reference, is_loopback

__all__ = [
    "ACCEPT_MANIFESTS",
    "DigestMismatch",
    "Fetched",
    "InsecureRegistry",
    "NotFound",
    "RateLimited",
    "RegistryClient",
    "RegistryError",
    "RegistryTimeout",
    "ServerError",
    "Unauthorized",
    "Unreachable",
    "UnsupportedMediaType",
]

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
DEFAULT_CONCURRENCY = 16

CredentialLookup = Callable[[str], Awaitable[Credentials | None]]


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
        value = json.loads(self.data)
        if not isinstance(value, dict):
            raise UnsupportedMediaType(
                f"{self.digest} is not a JSON object", self.media_type or "unknown"
            )
        return value


@dataclass
class _Token:
    value: str
    expires: float


def _verify_arg(verify: bool | str) -> Any:
    """httpx's ``verify``: ``True``/``False``, or an SSL context trusting a CA bundle file."""
    if isinstance(verify, str):
        import ssl

        return ssl.create_default_context(cafile=verify)
    return verify


def _env_proxies() -> bool:
    names = ("https_proxy", "http_proxy", "all_proxy")
    return any(os.environ.get(n) or os.environ.get(n.upper()) for n in names)


class _LazyTransport(httpx.AsyncBaseTransport):
    """An :class:`httpx.AsyncHTTPTransport` created on the first request it handles."""

    def __init__(self, verify: bool | str, limits: httpx.Limits) -> None:
        self._verify = verify
        self._limits = limits
        self._inner: httpx.AsyncHTTPTransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._inner is None:
            verify = _verify_arg(self._verify)
            self._inner = httpx.AsyncHTTPTransport(verify=verify, limits=self._limits)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        if self._inner is not None:
            await self._inner.aclose()


def verify(data: bytes, digest: str, what: str) -> None:
    """Raise :class:`DigestMismatch` unless ``data`` hashes to ``digest``."""
    algorithm = digest.partition(":")[0]
    try:
        actual = digest_of(data, algorithm)
    except ValueError:
        raise UnsupportedMediaType(
            f"{what}: unsupported digest algorithm {algorithm!r}", algorithm
        ) from None
    if actual != digest:
        raise DigestMismatch(what, digest, actual)


def _registry_errors(body: bytes) -> str:
    """The ``errors`` array of a distribution error response as text."""
    try:
        data = json.loads(body)
        items = data.get("errors") or []
        texts = []
        for item in items:
            code, message = item.get("code", ""), item.get("message", "")
            texts.append(f"{code}: {message}" if code and message else (message or code))
        return "; ".join(t for t in texts if t)
    except (ValueError, AttributeError, TypeError):
        return ""


def media_type_of(data: bytes, content_type: str) -> str:
    """The manifest media type: the ``mediaType`` field, else the Content-Type header."""
    content_type = content_type.split(";")[0].strip()
    try:
        field = json.loads(data).get("mediaType")
    except (ValueError, AttributeError):
        field = None
    if isinstance(field, str) and field:
        return field
    if content_type in INDEX_TYPES | MANIFEST_TYPES or content_type in SCHEMA1:
        return content_type
    try:
        doc = json.loads(data)
    except ValueError:
        return content_type
    if isinstance(doc, dict) and doc.get("schemaVersion") == 1:
        return SCHEMA1[0]
    if isinstance(doc, dict) and "manifests" in doc:
        return OCI_INDEX
    if isinstance(doc, dict) and "layers" in doc:
        return OCI_MANIFEST
    return content_type


class RegistryClient:
    """Talks to any number of registries with one connection pool.

    Use as ``async with RegistryClient() as client:``. ``credentials`` maps a registry host
    (``docker.io``, ``host:port``) to :class:`Credentials`; registries not in it fall back to
    ``credential_lookup`` (the docker config by default) when they ask for auth.
    """

    def __init__(
        self,
        *,
        credentials: Mapping[str, Credentials] | None = None,
        credential_lookup: CredentialLookup | None = None,
        use_docker_config: bool = True,
        insecure: Iterable[str] = (),
        cache: DigestCache | None = None,
        timeout: float = 30.0,
        concurrency: int = DEFAULT_CONCURRENCY,
        verify_tls: bool | str = True,
    ) -> None:
        self._credentials = dict(credentials or {})
        if credential_lookup is None and use_docker_config:
            from mabgui.core.registry.auth import docker_config_credentials

            credential_lookup = docker_config_credentials
        self._lookup = credential_lookup
        self._insecure = {h.strip().lower() for h in insecure if h.strip()}
        self._plain: set[str] = set()  # insecure registries found to speak plain HTTP only
        self.cache = cache
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        common: dict[str, Any] = {
            "timeout": httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            "follow_redirects": True,
            "headers": {"User-Agent": f"mabgui/{__version__}"},
        }
        if _env_proxies():
            # HTTPS_PROXY & co. (as docker honours them): httpx's own transports apply them,
            # with NO_PROXY; TLS is verified as always.
            self._http = httpx.AsyncClient(verify=_verify_arg(verify_tls), limits=limits, **common)
        else:
            self._http = httpx.AsyncClient(
                # https (the default) verifies TLS; its context is built on first use, so a
                # look-up on a loopback registry does not pay for loading the CA bundle.
                transport=_LazyTransport(verify_tls, limits),
                mounts={
                    # plain http:// URLs never do TLS (redirects to https:// are verified).
                    "http://": httpx.AsyncHTTPTransport(verify=False, limits=limits),
                    # registries marked insecure: HTTPS without certificate checks, as docker
                    # does (and plain HTTP when they do not speak TLS at all).
                    **{
                        f"https://{host}": _LazyTransport(False, limits)
                        for host in self._insecure
                        if not is_loopback(host)
                    },
                },
                **common,
            )
        self._sem = asyncio.Semaphore(concurrency)
        self._tokens: dict[tuple[str, str], _Token] = {}
        self._token_locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._basic: dict[str, str] = {}  # host -> "Basic …" for registries that asked for it
        self._bearer: dict[str, Challenge] = {}  # host -> its last bearer challenge
        self._looked_up: dict[str, Credentials | None] = {}
        self.requests = 0  # HTTP requests sent (tests and the bench read it)

    async def __aenter__(self) -> RegistryClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- addresses --------------------------------------------------------------------------

    def is_insecure(self, registry: str) -> bool:
        return is_loopback(registry) or registry.lower() in self._insecure

    def base_url(self, ref: Reference) -> str:
        """``http`` for loopback (and insecure registries without TLS), else ``https``."""
        registry = ref.registry.lower()
        plain = is_loopback(registry) or registry in self._plain
        return f"{'http' if plain else 'https'}://{ref.api_host}/v2/{ref.repository}"

    # --- public operations ----------------------------------------------------------------------

    async def get_manifest(
        self, ref: Reference, target: str | None = None, *, expected_size: int | None = None
    ) -> Fetched:
        """GET the manifest ``target`` (a digest or a tag; default ``ref.target``), verified.

        By digest: hashed against that digest (and served from the cache when present).
        By tag: hashed against the ``Docker-Content-Digest`` header when the registry sends it.
        """
        target = target or ref.target
        by_digest = ":" in target
        if by_digest and self.cache is not None:
            cached = self.cache.get(target)
            if cached is not None:
                return Fetched(target, media_type_of(cached, ""), cached, from_cache=True)
        what = f"manifest {ref.name}@{target}" if by_digest else f"manifest {ref.name}:{target}"
        response, data = await self._request(
            "GET", ref, f"/manifests/{target}", what,
            headers={"Accept": ACCEPT_MANIFESTS}, max_bytes=MAX_MANIFEST_BYTES,
        )  # fmt: skip
        media_type = media_type_of(data, response.headers.get("content-type", ""))
        if media_type in SCHEMA1:
            raise UnsupportedMediaType(
                f"{what} is a Docker schema 1 manifest, which is deprecated and not shown",
                media_type,
                hint="re-push the image with a current docker or buildx",
            )
        if by_digest:
            verify(data, target, what)
            digest = target
        else:
            announced = response.headers.get("docker-content-digest", "").strip()
            if announced:
                verify(data, announced, what)  # the registry's own word for these bytes
            digest = announced or digest_of(data)
        if expected_size is not None and expected_size != len(data):
            raise DigestMismatch(what, f"{expected_size} bytes", f"{len(data)} bytes")
        if media_type not in INDEX_TYPES | MANIFEST_TYPES:
            raise UnsupportedMediaType(
                f"{what} has the unsupported media type {media_type or 'none'!r}", media_type
            )
        if self.cache is not None:
            self.cache.put(digest, data)
        return Fetched(digest, media_type, data)

    async def resolve(self, ref: Reference) -> tuple[str, str, int]:
        """HEAD a tag: its digest, media type and size (without downloading the manifest)."""
        what = f"manifest {ref}"
        response, _ = await self._request(
            "HEAD", ref, f"/manifests/{ref.target}", what, headers={"Accept": ACCEPT_MANIFESTS}
        )
        digest = response.headers.get("docker-content-digest", "")
        if not digest:
            fetched = await self.get_manifest(ref)
            return fetched.digest, fetched.media_type, fetched.size
        content_type = response.headers.get("content-type", "").split(";")[0].strip()
        return digest, content_type, int(response.headers.get("content-length", "0") or 0)

    async def get_blob(
        self, ref: Reference, digest: str, *, max_bytes: int = MAX_CONFIG_BYTES
    ) -> Fetched:
        """GET a (small) blob such as an image config, verified against ``digest``."""
        if self.cache is not None:
            cached = self.cache.get(digest)
            if cached is not None:
                return Fetched(digest, "", cached, from_cache=True)
        what = f"blob {ref.name}@{digest}"
        response, data = await self._request(
            "GET", ref, f"/blobs/{digest}", what, max_bytes=max_bytes
        )
        verify(data, digest, what)
        if self.cache is not None:
            self.cache.put(digest, data)
        return Fetched(digest, response.headers.get("content-type", ""), data)

    async def tags(self, ref: Reference, *, page_size: int = 1000, limit: int = 10000) -> list[str]:
        """All tags of the repository, following ``Link: <…>; rel="next"`` pagination."""
        tags: list[str] = []
        path: str | None = f"/tags/list?n={page_size}"
        what = f"tags of {ref.name}"
        while path is not None and len(tags) < limit:
            response, data = await self._request("GET", ref, path, what, max_bytes=16 << 20)
            try:
                tags.extend(json.loads(data).get("tags") or [])
            except (ValueError, AttributeError):
                raise ServerError(f"{what}: the registry sent an invalid tag list") from None
            path = _next_link(response.headers.get("link", ""), ref)
        return tags[:limit]

    async def referrers(self, ref: Reference, digest: str) -> list[dict[str, Any]] | None:
        """Descriptors that name ``digest`` as their ``subject``; ``None`` when unsupported.

        Asks the referrers API and, at the same time (one round trip, not two), the referrers
        tag schema (``sha256-<hex>``) that OCI 1.1 clients push to registries without the API
        (distribution 2.x). The API's answer wins when the registry has it.
        """
        api = asyncio.ensure_future(self._referrers_api(ref, digest))
        tagged = asyncio.ensure_future(self._referrers_tag(ref, digest))
        try:
            from_api, from_tag = await asyncio.gather(api, tagged)
        except BaseException:
            for task in (api, tagged):
                task.cancel()
            await asyncio.gather(api, tagged, return_exceptions=True)
            raise
        return from_api if from_api is not None else from_tag

    async def _referrers_api(self, ref: Reference, digest: str) -> list[dict[str, Any]] | None:
        what = f"referrers of {ref.name}@{digest}"
        try:
            response, data = await self._request(
                "GET", ref, f"/referrers/{digest}", what,
                headers={"Accept": OCI_INDEX}, max_bytes=MAX_MANIFEST_BYTES,
            )  # fmt: skip
            ctype = response.headers.get("content-type", "").split(";")[0].strip()
            if ctype in (OCI_INDEX, "application/json"):
                return list(json.loads(data).get("manifests") or [])
        except (NotFound, UnsupportedMediaType, ValueError, AttributeError):
            pass
        except ServerError as exc:
            if exc.status not in (400, 405, 501):  # distribution 2.x answers some of these
                raise
        return None

    async def _referrers_tag(self, ref: Reference, digest: str) -> list[dict[str, Any]] | None:
        try:
            index = await self.get_manifest(ref, digest.replace(":", "-", 1))
            return list(index.json().get("manifests") or [])
        except (NotFound, UnsupportedMediaType, ValueError, AttributeError):
            return None

    # --- HTTP + auth -------------------------------------------------------------------------

    async def _request(
        self,
        method: str,
        ref: Reference,
        path: str,
        what: str,
        *,
        headers: Mapping[str, str] | None = None,
        max_bytes: int = MAX_MANIFEST_BYTES,
    ) -> tuple[httpx.Response, bytes]:
        scope = f"repository:{ref.repository}:pull"
        host = ref.api_host
        for attempt in range(2):
            request_headers = dict(headers or {})
            auth = await self._authorization(ref.registry, host, scope)
            if auth:
                request_headers["Authorization"] = auth
            try:
                url = self.base_url(ref) + path
                response, data = await self._send(method, url, request_headers, what, max_bytes)
            except NotHttps:
                registry = ref.registry.lower()
                if registry not in self._insecure or registry in self._plain:
                    raise
                self._plain.add(registry)  # an insecure registry without TLS: plain HTTP
                url = self.base_url(ref) + path
                response, data = await self._send(method, url, request_headers, what, max_bytes)
            if response.status_code != 401:
                self._raise_for_status(response, data, what, ref)
                return response, data
            challenge = parse_challenge(response.headers.get("www-authenticate", ""))
            if attempt == 1 or challenge is None:
                break
            await self._answer(ref.registry, host, scope, challenge, what)
        raise Unauthorized(
            f"{what}: the registry refused access (401 Unauthorized)"
            + (f": {_registry_errors(data)}" if _registry_errors(data) else ""),
            hint=f"log in with `docker login {ref.registry}` or check the image name",
            status=401,
        )

    async def _send(
        self, method: str, url: str, headers: dict[str, str], what: str, max_bytes: int
    ) -> tuple[httpx.Response, bytes]:
        async with self._sem:
            self.requests += 1
            try:
                request = self._http.build_request(method, url, headers=headers)
                response = await self._http.send(request, stream=True)
                try:
                    length = int(response.headers.get("content-length") or 0)
                    if length > max_bytes:
                        raise ServerError(f"{what} is too large ({length} bytes)")
                    chunks: list[bytes] = []
                    total = 0
                    async for chunk in response.aiter_bytes():
                        total += len(chunk)
                        if total > max_bytes:
                            raise ServerError(f"{what} is larger than {max_bytes} bytes")
                        chunks.append(chunk)
                finally:
                    await response.aclose()
            except httpx.TimeoutException:
                raise RegistryTimeout(
                    f"{what}: the registry did not answer in time",
                    hint="check the network or try again",
                ) from None
            except httpx.ConnectError as exc:
                raise _connect_error(url, exc) from None
            except httpx.TransportError as exc:
                raise Unreachable(f"{what}: {type(exc).__name__}: {_safe(exc)}") from None
        return response, b"".join(chunks)

    def _raise_for_status(
        self, response: httpx.Response, data: bytes, what: str, ref: Reference
    ) -> None:
        status = response.status_code
        if status < 400:
            return
        detail = _registry_errors(data)
        suffix = f" ({detail})" if detail else ""
        if status == 404:
            if "NAME_UNKNOWN" in detail:
                message = f"repository {ref.name} not found{suffix}"
            else:
                message = f"{what} not found{suffix}"
            raise NotFound(message, status=404, hint="check the name, tag and digest")
        if status == 403:
            raise Unauthorized(
                f"{what}: access denied (403 Forbidden){suffix}",
                status=403,
                hint="your credentials do not allow pulling this repository",
            )
        if status == 429:
            h = response.headers
            limit, remaining = h.get("ratelimit-limit", ""), h.get("ratelimit-remaining", "")
            retry = h.get("retry-after", "")
            parts = [p for p in (
                f"limit {limit}" if limit else "", f"remaining {remaining}" if remaining else "",
                f"retry after {retry} s" if retry else "",
            ) if p]  # fmt: skip
            raise RateLimited(
                f"{what}: rate limited by the registry (429)"
                + (f": {', '.join(parts)}" if parts else ""),
                limit=limit, remaining=remaining, retry_after=retry,
                hint="wait, or log in to get a higher pull limit",
            )  # fmt: skip
        if status in (406, 415):
            raise UnsupportedMediaType(
                f"{what}: the registry cannot serve it in a supported format ({status}){suffix}",
                response.headers.get("content-type", ""),
            )
        if status >= 500:
            raise ServerError(
                f"{what}: the registry failed with {status} {response.reason_phrase}{suffix}",
                status=status,
                hint="the registry has a problem; try again later",
            )
        raise ServerError(
            f"{what}: unexpected answer {status} {response.reason_phrase}{suffix}", status=status
        )

    async def _authorization(self, registry: str, host: str, scope: str) -> str:
        if host in self._basic:
            return self._basic[host]
        token = self._tokens.get((host, scope))
        if token is not None and token.expires > time.monotonic():
            return f"Bearer {token.value}"
        challenge = self._bearer.get(host)
        if challenge is not None:  # this registry wants tokens: get one for the new scope now
            return f"Bearer {await self._token(registry, host, scope, challenge)}"
        return ""

    async def _answer(
        self, registry: str, host: str, scope: str, challenge: Challenge, what: str
    ) -> None:
        if challenge.scheme == "basic":
            creds = await self._creds(registry)
            if not creds or not creds.username:
                raise Unauthorized(
                    f"{what}: the registry requires a user name and password",
                    hint=f"run `docker login {registry}`",
                    status=401,
                )
            raw = f"{creds.username}:{creds.password}".encode()
            self._basic[host] = "Basic " + base64.b64encode(raw).decode()
        elif challenge.scheme == "bearer":
            self._bearer[host] = challenge
            self._tokens.pop((host, scope), None)
            await self._token(registry, host, scope, challenge)
        else:
            raise Unauthorized(
                f"{what}: unsupported authentication scheme {challenge.scheme!r}", status=401
            )

    async def _creds(self, registry: str) -> Credentials | None:
        if registry in self._credentials:
            return self._credentials[registry]
        if registry not in self._looked_up:
            self._looked_up[registry] = await self._lookup(registry) if self._lookup else None
        return self._looked_up[registry]

    async def _token(self, registry: str, host: str, scope: str, challenge: Challenge) -> str:
        key = (host, scope)
        lock = self._token_locks.setdefault(key, asyncio.Lock())
        async with lock:  # concurrent requests of one scope share a single token fetch
            token = self._tokens.get(key)
            if token is not None and token.expires > time.monotonic():
                return token.value
            realm = challenge.realm
            if not realm.startswith(("https://", "http://")):
                raise Unauthorized(f"the registry {registry} sent an invalid token realm {realm!r}")
            realm_host = httpx.URL(realm).host
            if realm.startswith("http://") and not (
                is_loopback(realm_host) or self.is_insecure(registry)
            ):
                raise InsecureRegistry(
                    f"the token server of {registry} is plain HTTP ({realm_host}); refusing it",
                    hint="only loopback and registries marked insecure may use plain HTTP",
                )
            creds = await self._creds(registry)
            params = {"scope": scope}
            if challenge.params.get("service"):
                params["service"] = challenge.params["service"]
            what = f"token for {registry} ({scope})"
            try:
                async with self._sem:
                    self.requests += 1
                    if creds and creds.identity_token:
                        response = await self._http.post(realm, data={
                            "grant_type": "refresh_token", "refresh_token": creds.identity_token,
                            "client_id": "mabgui", **params,
                        })  # fmt: skip
                    else:
                        basic = (creds.username, creds.password) if creds else None
                        response = await self._http.get(realm, params=params, auth=basic)
            except httpx.TimeoutException:
                raise RegistryTimeout(f"{what}: the token server did not answer in time") from None
            except httpx.ConnectError as exc:
                raise _connect_error(realm, exc) from None
            except httpx.TransportError as exc:
                raise Unreachable(f"{what}: {type(exc).__name__}: {_safe(exc)}") from None
            if response.status_code in (401, 403):
                raise Unauthorized(
                    f"{what}: the token server refused "
                    + ("the credentials" if creds else "anonymous access")
                    + f" ({response.status_code})",
                    hint=f"run `docker login {registry}`",
                    status=response.status_code,
                )
            if response.status_code >= 400:
                raise ServerError(
                    f"{what}: the token server answered {response.status_code}",
                    status=response.status_code,
                )
            try:
                body = response.json()
                value = body.get("token") or body.get("access_token")
                expires_in = float(body.get("expires_in") or 60)
            except (ValueError, AttributeError, TypeError):
                value, expires_in = None, 0.0
            if not isinstance(value, str) or not value:
                raise Unauthorized(f"{what}: the token server sent no token")
            # Renew a little early so a token does not expire between check and use.
            self._tokens[key] = _Token(value, time.monotonic() + max(expires_in - 10, 5))
            return value


def _next_link(header: str, ref: Reference) -> str | None:
    match = re.search(r'<([^>]+)>\s*;\s*rel="?next"?', header)
    if not match:
        return None
    target = match.group(1)
    prefix = f"/v2/{ref.repository}"
    path = httpx.URL(target).raw_path.decode() if "://" in target else target
    return path[len(prefix) :] if path.startswith(prefix) else None


def _safe(exc: BaseException) -> str:
    # httpx messages hold URLs at most; strip any user:password@ that could sneak in.
    return re.sub(r"//[^/@\s]+@", "//", str(exc)) or type(exc).__name__


def _connect_error(url: str, exc: httpx.ConnectError) -> RegistryError:
    host = httpx.URL(url).netloc.decode()
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
    if _env_proxies():
        hint += " (requests go through the proxy set in HTTPS_PROXY/HTTP_PROXY; see NO_PROXY)"
    return Unreachable(f"cannot connect to the registry at {host}: {text}", hint=hint)

"""An async OCI distribution client on httpx: manifests, blobs, tags, referrers.

* Every manifest and blob is hashed and compared with the digest it was fetched by (or the
  ``Docker-Content-Digest`` the registry announced for a tag): a mismatch raises
  :class:`DigestMismatch` and the content is never used. Only sha256/384/512 digests.
* Auth: the ``WWW-Authenticate`` challenge decides — bearer tokens from the realm (anonymous, or
  with credentials, as Docker Hub does), cached per scope until they expire; or HTTP basic.
  Who may receive which credentials is written down in :class:`~.auth.Authenticator`.
* HTTP, limits, redirects, deadlines and the request log: :mod:`.transport`.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from mabgui.core import log
from mabgui.core.registry.auth import Authenticator, CredentialLookup, Credentials, parse_challenge
from mabgui.core.registry.cache import DigestCache, digest_of
from mabgui.core.registry.content import (
    ACCEPT_MANIFESTS,
    INDEX_TYPES,
    MANIFEST_TYPES,
    MAX_CONFIG_BYTES,
    MAX_MANIFEST_BYTES,
    OCI_INDEX,
    SCHEMA1,
    Fetched,
    check_digest,
    media_type_of,
    verify,
)
from mabgui.core.registry.errors import (
    DigestMismatch,
    NotFound,
    NotHttps,
    RateLimited,
    RegistryTimeout,
    ServerError,
    Unauthorized,
    UnsupportedMediaType,
)
from mabgui.core.registry.reference import Reference, is_loopback
from mabgui.core.registry.transport import DEFAULT_CONCURRENCY, Answer, Transport

_log = log.get("registry")

MAX_TAG_PAGES = 200


class RegistryClient:
    """Talks to any number of registries with one connection pool.

    Use as ``async with RegistryClient() as client:``. ``credentials`` maps a registry host
    (``docker.io``, ``host:port``) to :class:`Credentials`; registries not in it fall back to
    ``credential_lookup`` (the docker config by default) when they ask for auth. ``timeout``
    bounds each network wait, ``deadline`` each whole request (a slow drip of bytes included).
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
        deadline: float = 60.0,
        concurrency: int = DEFAULT_CONCURRENCY,
        verify_tls: bool | str = True,
    ) -> None:
        if credential_lookup is None and use_docker_config:
            from mabgui.core.registry.auth import docker_config_credentials

            credential_lookup = docker_config_credentials
        self._insecure = {h.strip().lower() for h in insecure if h.strip()}
        self._plain: set[str] = set()  # insecure registries found to speak plain HTTP only
        self.cache = cache
        self._transport = Transport(
            insecure=self._insecure, timeout=timeout, deadline=deadline,
            concurrency=concurrency, verify_tls=verify_tls,
        )  # fmt: skip
        self._auth = Authenticator(
            self._transport,
            credentials=credentials or {},
            lookup=credential_lookup,
            is_insecure=self.is_insecure,
        )

    @property
    def requests(self) -> int:
        """HTTP requests sent so far (tests, the bench and the tree's budget read it)."""
        return self._transport.requests

    async def __aenter__(self) -> RegistryClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._transport.aclose()

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
        what = f"manifest {ref.name}@{target}" if by_digest else f"manifest {ref.name}:{target}"
        if by_digest:
            check_digest(target, what)
            if self.cache is not None:
                cached = self.cache.get(target)
                if cached is not None:
                    return Fetched(target, media_type_of(cached, ""), cached, from_cache=True)
        answer = await self._request(
            "GET", ref, f"/manifests/{target}", what,
            headers={"Accept": ACCEPT_MANIFESTS}, max_bytes=MAX_MANIFEST_BYTES,
        )  # fmt: skip
        data = answer.data
        media_type = media_type_of(data, answer.headers.get("content-type", ""))
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
            announced = answer.headers.get("docker-content-digest", "").strip()
            if announced:
                verify(data, announced, what)  # the registry's own word for these bytes
            digest = announced or digest_of(data)
        if expected_size is not None and expected_size != len(data):
            raise DigestMismatch(what, f"{expected_size} bytes", f"{len(data)} bytes")
        if media_type not in INDEX_TYPES | MANIFEST_TYPES:
            raise UnsupportedMediaType(
                f"{what} has the unsupported media type {media_type[:100] or 'none'!r}",
                media_type,
            )
        if self.cache is not None:
            self.cache.put(digest, data)
        return Fetched(digest, media_type, data)

    async def resolve(self, ref: Reference) -> tuple[str, str, int]:
        """HEAD a tag: its digest, media type and size (without downloading the manifest)."""
        what = f"manifest {ref}"
        answer = await self._request(
            "HEAD", ref, f"/manifests/{ref.target}", what, headers={"Accept": ACCEPT_MANIFESTS}
        )
        digest = answer.headers.get("docker-content-digest", "").strip()
        if not digest:
            fetched = await self.get_manifest(ref)
            return fetched.digest, fetched.media_type, fetched.size
        check_digest(digest, what)
        content_type = answer.headers.get("content-type", "").split(";")[0].strip()
        try:
            size = max(int(answer.headers.get("content-length", "0") or 0), 0)
        except ValueError:
            size = 0
        return digest, content_type, size

    async def get_blob(
        self, ref: Reference, digest: str, *, max_bytes: int = MAX_CONFIG_BYTES
    ) -> Fetched:
        """GET a (small) blob such as an image config, verified against ``digest``."""
        what = f"blob {ref.name}@{digest}"
        check_digest(digest, what)
        if self.cache is not None:
            cached = self.cache.get(digest)
            if cached is not None:
                return Fetched(digest, "", cached, from_cache=True)
        answer = await self._request("GET", ref, f"/blobs/{digest}", what, max_bytes=max_bytes)
        verify(answer.data, digest, what)
        if self.cache is not None:
            self.cache.put(digest, answer.data)
        return Fetched(digest, answer.headers.get("content-type", ""), answer.data)

    async def tags(
        self,
        ref: Reference,
        *,
        page_size: int = 1000,
        limit: int = 10000,
        deadline: float = 120.0,
    ) -> list[str]:
        """All tags of the repository, following ``Link: <…>; rel="next"`` pagination.

        A page already visited ends the walk (a ``Link`` pointing back must not loop), as do
        :data:`MAX_TAG_PAGES` pages, ``limit`` tags, or ``deadline`` seconds in total.
        """
        tags: list[str] = []
        path: str | None = f"/tags/list?n={page_size}"
        visited: set[str] = set()
        what = f"tags of {ref.name}"
        started = time.monotonic()
        try:
            async with asyncio.timeout(deadline):
                while path is not None and len(tags) < limit:
                    if path in visited or len(visited) >= MAX_TAG_PAGES:
                        _log.warning("%s: paging stopped at a repeated or %dth page", what,
                                     len(visited))  # fmt: skip
                        break
                    visited.add(path)
                    answer = await self._request("GET", ref, path, what, max_bytes=16 << 20)
                    tags.extend(_tag_list(answer.data, what))
                    path = _next_link(answer.headers.get("link", ""), ref)
        except TimeoutError:
            raise RegistryTimeout(
                f"{what}: the tag list was not complete after {time.monotonic() - started:.0f} s",
                hint="the registry is slow or has very many tags; try again",
            ) from None
        return tags[:limit]

    async def referrers(self, ref: Reference, digest: str) -> list[dict[str, Any]] | None:
        """Descriptors that name ``digest`` as their ``subject``; ``None`` when unsupported.

        Asks the referrers API and, at the same time (one round trip, not two), the referrers
        tag schema (``sha256-<hex>``) that OCI 1.1 clients push to registries without the API
        (distribution 2.x). The API's answer wins when the registry has it.
        """
        check_digest(digest, f"referrers of {ref.name}")
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

    async def referrers_api(self, ref: Reference, digest: str) -> list[dict[str, Any]] | None:
        """The referrers API alone: ``None`` when the registry does not have it (a copy asks
        it once, then uses the tag schema for every subject when it is missing)."""
        check_digest(digest, f"referrers of {ref.name}")
        return await self._referrers_api(ref, digest)

    async def _referrers_api(self, ref: Reference, digest: str) -> list[dict[str, Any]] | None:
        what = f"referrers of {ref.name}@{digest}"
        try:
            answer = await self._request(
                "GET", ref, f"/referrers/{digest}", what,
                headers={"Accept": OCI_INDEX}, max_bytes=MAX_MANIFEST_BYTES,
            )  # fmt: skip
            ctype = answer.headers.get("content-type", "").split(";")[0].strip()
            if ctype in (OCI_INDEX, "application/json"):
                return _manifests_list(answer.data)
        except (NotFound, UnsupportedMediaType):
            pass
        except ServerError as exc:
            if exc.status not in (400, 405, 501):  # distribution 2.x answers some of these
                raise
        return None

    async def _referrers_tag(self, ref: Reference, digest: str) -> list[dict[str, Any]] | None:
        try:
            index = await self.get_manifest(ref, digest.replace(":", "-", 1))
        except (NotFound, UnsupportedMediaType):
            return None
        return _manifests_list(index.data)

    async def request(
        self,
        method: str,
        ref: Reference,
        path: str,
        what: str,
        *,
        scope: str = "",
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        max_bytes: int = MAX_MANIFEST_BYTES,
        deadline: float | None = None,
    ) -> Answer:
        """A raw authenticated request whose answer (any status but a refused 401) the caller
        reads: the way in for :mod:`.write`, which maps write failures to its own errors."""
        return await self._request(
            method, ref, path, what, headers=headers, max_bytes=max_bytes, scope=scope,
            content=content, check=False, deadline=deadline,
        )  # fmt: skip

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
        scope: str = "",
        content: bytes | None = None,
        check: bool = True,
        deadline: float | None = None,
    ) -> Answer:
        """One request with auth. ``scope`` defaults to pulling ``ref``'s repository (writes
        pass ``repository:<name>:push,pull``, plus ``repository:<from>:pull`` to mount);
        ``check=False`` returns any answer but a 401 for the caller to interpret."""
        scope = scope or f"repository:{ref.repository}:pull"
        host = ref.api_host
        for attempt in range(2):
            request_headers = dict(headers or {})
            # An absolute ``path`` (an upload's Location) gets credentials only on the
            # registry's own host (rule 4 of Authenticator).
            url = path if "://" in path else self.base_url(ref) + path
            auth = await self._auth.header(ref.registry, host, scope)
            if auth and (
                "://" not in path or _same_host(httpx.URL(url), httpx.URL(self.base_url(ref)))
            ):
                request_headers["Authorization"] = auth
            try:
                answer = await self._transport.send(
                    method, url, what, headers=request_headers,
                    content=content, max_bytes=max_bytes, deadline=deadline,
                )  # fmt: skip
            except NotHttps:
                registry = ref.registry.lower()
                if registry not in self._insecure or registry in self._plain:
                    raise
                self._plain.add(registry)  # an insecure registry without TLS: plain HTTP
                url = path if "://" in path else self.base_url(ref) + path
                answer = await self._transport.send(
                    method, url, what, headers=request_headers,
                    content=content, max_bytes=max_bytes, deadline=deadline,
                )  # fmt: skip
            if answer.status != 401:
                if check:
                    _raise_for_status(answer, what, ref)
                return answer
            if not _same_host(answer.url, httpx.URL(self.base_url(ref))):
                # Rule 2 of Authenticator: a challenge from a host the registry redirected to
                # is never answered with the registry's credentials.
                raise Unauthorized(
                    f"{what}: the registry redirected to {answer.host}, which asks for"
                    " credentials; mabgui sends credentials only to the registry itself",
                    hint="the registry (or a proxy in front of it) redirects somewhere"
                    " untrusted; check the registry's storage redirect settings",
                    status=401,
                )
            challenge = parse_challenge(answer.headers.get("www-authenticate", ""))
            if attempt == 1 or challenge is None:
                break
            await self._auth.answer(ref.registry, host, scope, challenge, what)
        detail = _registry_errors(answer.data)
        raise Unauthorized(
            f"{what}: the registry refused access (401 Unauthorized)"
            + (f": {detail}" if detail else ""),
            hint=f"log in with `docker login {ref.registry}` or check the image name",
            status=401,
        )


def _same_host(a: httpx.URL, b: httpx.URL) -> bool:
    return (a.host.lower(), a.port) == (b.host.lower(), b.port)


def _raise_for_status(answer: Answer, what: str, ref: Reference) -> None:
    status = answer.status
    if status < 400:
        return
    detail = _registry_errors(answer.data)
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
        h = answer.headers
        limit, remaining = h.get("ratelimit-limit", "")[:40], h.get("ratelimit-remaining", "")[:40]
        retry = h.get("retry-after", "")[:40]
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
            answer.headers.get("content-type", ""),
        )
    if status >= 500:
        raise ServerError(
            f"{what}: the registry failed with {status} {answer.reason}{suffix}",
            status=status,
            hint="the registry has a problem; try again later",
        )
    raise ServerError(f"{what}: unexpected answer {status} {answer.reason}{suffix}", status=status)


def _registry_errors(body: bytes) -> str:
    """The ``errors`` array of a distribution error response as text (at most 500 chars)."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return ""
    items = data.get("errors") if isinstance(data, dict) else None
    texts = []
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict):
            continue
        code, message = str(item.get("code") or ""), str(item.get("message") or "")
        texts.append(f"{code}: {message}" if code and message else (message or code))
    text = "; ".join(t for t in texts if t)
    return text if len(text) <= 500 else text[:500] + "…"


def _tag_list(data: bytes, what: str) -> list[str]:
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        doc = None
    tags = doc.get("tags") if isinstance(doc, dict) else None
    if tags is None and isinstance(doc, dict):
        return []
    if not isinstance(tags, list):
        raise ServerError(f"{what}: the registry sent an invalid tag list")
    return [t for t in tags if isinstance(t, str)]


def _manifests_list(data: bytes) -> list[dict[str, Any]] | None:
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        return None
    manifests = doc.get("manifests") if isinstance(doc, dict) else None
    if manifests is None:
        return [] if isinstance(doc, dict) else None
    return [m for m in manifests if isinstance(m, dict)] if isinstance(manifests, list) else None


def _next_link(header: str, ref: Reference) -> str | None:
    match = re.search(r'<([^>]+)>\s*;\s*rel="?next"?', header)
    if not match:
        return None
    target = match.group(1)
    prefix = f"/v2/{ref.repository}"
    try:
        path = httpx.URL(target).raw_path.decode("ascii") if "://" in target else target
    except (httpx.InvalidURL, ValueError):
        return None
    return path[len(prefix) :] if path.startswith(prefix) else None

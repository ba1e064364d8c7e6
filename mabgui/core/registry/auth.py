"""Registry credentials, ``WWW-Authenticate`` challenges, and who gets which credentials.

Credentials come from what the caller passes, else from the user's docker config
(``~/.docker/config.json`` or ``$DOCKER_CONFIG``): ``auths`` entries are read with the docker SDK's
auth module; ``credHelpers``/``credsStore`` helpers (``docker-credential-<name> get``) are run
through :mod:`mabgui.core.process`. Secrets stay inside :class:`Credentials` (hidden from ``repr``)
and never reach a log line or an error message.
"""

from __future__ import annotations

import asyncio
import base64
import json
import math
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import httpx

from mabgui.core import log
from mabgui.core.registry.errors import InsecureRegistry, ServerError, Unauthorized
from mabgui.core.registry.reference import DOCKER_HUB, is_loopback
from mabgui.core.registry.transport import Transport

HUB_SERVER_ADDRESS = "https://index.docker.io/v1/"
TOKEN_USERNAME = "<token>"


@dataclass(frozen=True)
class Credentials:
    """A user name and password, or an identity (refresh) token; secrets hidden from repr."""

    username: str = ""
    password: str = field(default="", repr=False)
    identity_token: str = field(default="", repr=False)

    def __bool__(self) -> bool:
        return bool((self.username and self.password) or self.identity_token)


@dataclass(frozen=True)
class Challenge:
    """A parsed ``WWW-Authenticate`` header: scheme (``bearer``/``basic``) and its parameters."""

    scheme: str
    params: dict[str, str]

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")


_PARAM = re.compile(r'([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))')


def parse_challenge(header: str) -> Challenge | None:
    """Parse ``Bearer realm="…",service="…",scope="…"`` or ``Basic realm="…"``."""
    text = header.strip()
    if not text:
        return None
    scheme, _, rest = text.partition(" ")
    params: dict[str, str] = {}
    for match in _PARAM.finditer(rest):
        value = match.group(2) if match.group(2) is not None else match.group(3)
        params[match.group(1).lower()] = re.sub(r"\\(.)", r"\1", value or "")
    return Challenge(scheme.lower(), params)


def server_address(registry: str) -> str:
    """The key docker uses in its config and with credential helpers for ``registry``."""
    return HUB_SERVER_ADDRESS if registry == DOCKER_HUB else registry


async def docker_config_credentials(registry: str) -> Credentials | None:
    """Look ``registry`` up in the user's docker config; ``None`` when it has no entry.

    The docker SDK does what it does the same as docker: reading the config (``$DOCKER_CONFIG``,
    legacy files), choosing the helper (``credHelpers`` for the server address, else
    ``credsStore``) and matching ``auths`` keys the way docker does (``https://host/v1/`` →
    ``host``, ``index.docker.io`` → ``docker.io``). Running the helper stays ours
    (:func:`_from_helper`), because the SDK's ``credentials.Store`` differs where it matters
    here: it blocks in ``subprocess.check_output`` with no timeout (a helper waiting on a
    keychain prompt would hold the look-up forever, and cancelling cannot stop it), and it
    reports a missing helper through ``warnings`` rather than an error a user can act on.
    """
    from docker import auth  # the SDK is heavy: only imported when a registry asks for auth

    try:
        config = await asyncio.to_thread(auth.load_config)
        helper = config.get_credential_store(registry)
        specific = bool(config.cred_helpers.get(server_address(registry)))
        # ``auths`` alone: the SDK would otherwise run the helper itself (see above).
        entry = auth.AuthConfig({"auths": dict(config.auths)}).resolve_authconfig(registry)
    except Exception as exc:  # the SDK's parser raises whatever a malformed file provokes
        raise Unauthorized(
            f"cannot read your docker config for {registry}: {type(exc).__name__}",
            hint="fix ~/.docker/config.json (or $DOCKER_CONFIG), e.g. with `docker login`",
        ) from None
    if helper:
        found = await _from_helper(str(helper), server_address(registry))
        if found is not None:
            return found
        if specific:  # a helper named for this registry has the last word, as in docker
            return None
    if not isinstance(entry, dict):
        return None
    creds = Credentials(
        str(entry.get("username") or entry.get("Username") or ""),
        str(entry.get("password") or entry.get("Password") or ""),
        str(entry.get("IdentityToken") or ""),
    )
    return creds or None


async def _from_helper(helper: str, address: str) -> Credentials | None:
    """``docker-credential-<helper> get`` with ``address`` on stdin, bounded in time."""
    from mabgui.core import process

    program = f"docker-credential-{helper}"
    try:
        result = await process.run([program, "get"], input_text=address, timeout=30)
    except process.CommandNotFound:
        raise Unauthorized(
            f"the docker config names the credential helper {program!r}, which is not installed",
            hint=f"install {program} or remove it from your docker config.json",
        ) from None
    except process.CommandTimeout:
        raise Unauthorized(
            f"the credential helper {program!r} did not answer within 30 s",
            hint="unlock your keychain or check the helper, then try again",
        ) from None
    if not result.ok:
        return None  # "credentials not found in native keychain"
    try:
        data = json.loads(result.stdout)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    username, secret = str(data.get("Username") or ""), str(data.get("Secret") or "")
    if username == TOKEN_USERNAME:
        return Credentials(identity_token=secret)
    return Credentials(username, secret)


# --- answering challenges ----------------------------------------------------------------------

CredentialLookup = Callable[[str], Awaitable[Credentials | None]]
MAX_TOKEN_BYTES = 1 << 20


@dataclass
class _Token:
    value: str
    expires: float


class Authenticator:
    """Authorization for one client: the header to send, and the answer to a challenge.

    The rules (those docker follows; each one has a test in ``tests/unit/test_registry_hostile``):

    1. Credentials are looked up only when the registry asks (a 401 with a challenge), by the
       registry's own name (``docker.io`` for ``registry-1.docker.io``).
    2. Only a challenge **from the registry's own host** is answered. A 401 from another host
       (reached through a redirect) is refused with :class:`Unauthorized`: the registry's
       credentials never go to a server the registry merely pointed at.
    3. A bearer challenge's **realm** gets the registry's credentials: that is the token
       protocol (Docker Hub's registry sends users to ``auth.docker.io``). The realm comes
       only from the registry's own challenge (rule 2); it must be HTTPS unless it is on
       loopback or the registry is marked insecure.
    4. Tokens and basic credentials are kept per registry host and scope and sent only there;
       the transport drops ``Authorization`` on any redirect that leaves the origin.
    """

    def __init__(
        self,
        transport: Transport,
        *,
        credentials: Mapping[str, Credentials],
        lookup: CredentialLookup | None,
        is_insecure: Callable[[str], bool],
    ) -> None:
        self._transport = transport
        self._credentials = dict(credentials)
        self._lookup = lookup
        self._is_insecure = is_insecure
        self._tokens: dict[tuple[str, str], _Token] = {}
        self._token_locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._basic: dict[str, str] = {}  # host -> "Basic …" for registries that asked for it
        self._bearer: dict[str, Challenge] = {}  # host -> its last bearer challenge
        self._looked_up: dict[str, Credentials | None] = {}

    async def header(self, registry: str, host: str, scope: str) -> str:
        """The ``Authorization`` value for a request to ``host`` (empty before any challenge)."""
        if host in self._basic:
            return self._basic[host]
        token = self._tokens.get((host, scope))
        if token is not None and token.expires > time.monotonic():
            return f"Bearer {token.value}"
        challenge = self._bearer.get(host)
        if challenge is not None:  # this registry wants tokens: get one for the new scope now
            return f"Bearer {await self._token(registry, host, scope, challenge)}"
        return ""

    async def answer(
        self, registry: str, host: str, scope: str, challenge: Challenge, what: str
    ) -> None:
        """Prepare what answers ``challenge``, which the registry's own ``host`` sent."""
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
                f"{what}: unsupported authentication scheme {challenge.scheme[:40]!r}",
                status=401,
            )

    async def _creds(self, registry: str) -> Credentials | None:
        if registry in self._credentials:
            return self._credentials[registry]
        if registry not in self._looked_up:
            self._looked_up[registry] = await self._lookup(registry) if self._lookup else None
        found = self._looked_up[registry]
        if found:
            for secret in (found.password, found.identity_token):
                log.add_secret(secret)
        return found

    async def _token(self, registry: str, host: str, scope: str, challenge: Challenge) -> str:
        key = (host, scope)
        lock = self._token_locks.setdefault(key, asyncio.Lock())
        async with lock:  # concurrent requests of one scope share a single token fetch
            token = self._tokens.get(key)
            if token is not None and token.expires > time.monotonic():
                return token.value
            realm = self._checked_realm(registry, challenge.realm)
            creds = await self._creds(registry)
            # Several scopes (a push to one repository mounting from another) are separated
            # by spaces in ``scope`` and sent as repeated ``scope`` parameters, as docker does.
            scopes = scope.split()
            params: dict[str, str | list[str]] = {"scope": scopes if len(scopes) > 1 else scope}
            if challenge.params.get("service"):
                params["service"] = challenge.params["service"]
            what = f"token for {registry} ({scope})"
            if creds and creds.identity_token:
                answer = await self._transport.send(
                    "POST", realm, what, max_bytes=MAX_TOKEN_BYTES, form={
                        "grant_type": "refresh_token", "refresh_token": creds.identity_token,
                        "client_id": "mabgui", **params,
                    },
                )  # fmt: skip
            else:
                headers = {}
                if creds:
                    raw = f"{creds.username}:{creds.password}".encode()
                    headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
                url = str(httpx.URL(realm).copy_merge_params(params))
                answer = await self._transport.send(
                    "GET", url, what, headers=headers, max_bytes=MAX_TOKEN_BYTES
                )
            if answer.status in (401, 403):
                raise Unauthorized(
                    f"{what}: the token server refused "
                    + ("the credentials" if creds else "anonymous access")
                    + f" ({answer.status})",
                    hint=f"run `docker login {registry}`",
                    status=answer.status,
                )
            if answer.status >= 400:
                raise ServerError(
                    f"{what}: the token server answered {answer.status}", status=answer.status
                )
            value, expires_in = _token_of(answer.data)
            if not value:
                raise Unauthorized(f"{what}: the token server sent no token")
            log.add_secret(value)
            # Renew a little early so a token does not expire between check and use.
            self._tokens[key] = _Token(value, time.monotonic() + max(expires_in - 10, 5))
            return value

    def _checked_realm(self, registry: str, realm: str) -> str:
        try:
            url = httpx.URL(realm)
        except (httpx.InvalidURL, ValueError):
            url = None
        if url is None or url.scheme not in ("https", "http") or not url.host:
            raise Unauthorized(
                f"the registry {registry} sent an invalid token realm {realm[:100]!r}"
            )
        if url.scheme == "http" and not (is_loopback(url.host) or self._is_insecure(registry)):
            raise InsecureRegistry(
                f"the token server of {registry} is plain HTTP ({url.host}); refusing it",
                hint="only loopback and registries marked insecure may use plain HTTP",
            )
        return realm


def _token_of(body: bytes) -> tuple[str, float]:
    """The token and its lifetime (seconds, within 5 s .. 1 day) from a token response."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return "", 0.0
    if not isinstance(doc, dict):
        return "", 0.0
    value = doc.get("token") or doc.get("access_token")
    try:
        expires_in = float(doc.get("expires_in") or 60)
    except (TypeError, ValueError, OverflowError):
        expires_in = 60.0
    if not math.isfinite(expires_in) or expires_in <= 0:
        expires_in = 60.0
    return (value if isinstance(value, str) else ""), min(expires_in, 86400.0)

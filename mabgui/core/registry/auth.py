"""Registry credentials and ``WWW-Authenticate`` challenges.

Credentials come from what the caller passes, else from the user's docker config
(``~/.docker/config.json`` or ``$DOCKER_CONFIG``): ``auths`` entries are read with the docker SDK's
auth module; ``credHelpers``/``credsStore`` helpers (``docker-credential-<name> get``) are run
through :mod:`mabgui.core.process`. Secrets stay inside :class:`Credentials` (hidden from ``repr``)
and never reach a log line or an error message.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field

from mabgui.core.registry.errors import Unauthorized
from mabgui.core.registry.reference import DOCKER_HUB

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
    """Look ``registry`` up in the user's docker config; ``None`` when it has no entry."""
    from docker import auth  # the SDK is heavy: only imported when a registry asks for auth

    config = await asyncio.to_thread(auth.load_config)
    address = server_address(registry)
    helper = config.cred_helpers.get(address) or config.cred_helpers.get(registry)
    helper = helper or config.creds_store
    if helper:
        found = await _from_helper(helper, address)
        if found is not None:
            return found
        if config.cred_helpers.get(address) or config.cred_helpers.get(registry):
            return None
    # ``auths`` entries (the store was not asked again: resolve_authconfig only reads auths here).
    for key, entry in config.auths.items():
        if auth.convert_to_hostname(key) in (registry, auth.convert_to_hostname(address)):
            username = str(entry.get("username") or entry.get("Username") or "")
            password = str(entry.get("password") or entry.get("Password") or "")
            token = str(entry.get("IdentityToken") or entry.get("identitytoken") or "")
            creds = Credentials(username, password, token)
            if creds:
                return creds
    return None


async def _from_helper(helper: str, address: str) -> Credentials | None:
    from mabgui.core import process

    program = f"docker-credential-{helper}"
    try:
        result = await process.run([program, "get"], input_text=address, timeout=30)
    except process.CommandNotFound:
        raise Unauthorized(
            f"the docker config names the credential helper {program!r}, which is not installed",
            hint=f"install {program} or remove it from your docker config.json",
        ) from None
    if not result.ok:
        return None  # "credentials not found in native keychain"
    try:
        data = json.loads(result.stdout)
    except ValueError:
        return None
    username, secret = str(data.get("Username", "")), str(data.get("Secret", ""))
    if username == TOKEN_USERNAME:
        return Credentials(identity_token=secret)
    return Credentials(username, secret)
